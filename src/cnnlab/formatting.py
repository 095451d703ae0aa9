"""How numbers are shown to people, in one place: accuracies as percentages everywhere (tables,
progress, summaries, curves.png), other values with enough digits that 1.0003 never reads "1".
"""

from __future__ import annotations

import math
from typing import Any


def is_accuracy(key: str) -> bool:
    """``test_accuracy``, ``val_accuracy``, ``accuracy``: a fraction shown as a percentage."""
    return key.endswith("accuracy")


def format_number(value: float) -> str:
    """A float with about five significant digits, trailing zeros kept (so 1.0003 is "1.0003" and
    1.0 is "1.0000", never "1"); very small or very large values in scientific notation."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0:
        return "0"
    if size < 1e-3 or size >= 1e6:
        return f"{value:.3g}"
    decimals = min(4, max(1, 4 - math.floor(math.log10(size))))
    return f"{value:.{decimals}f}"


def format_value(key: str, value: Any) -> str:
    """A metric's value for people: ``98.31%`` for an accuracy, ``0.0612`` for a loss; ints and
    text as they are."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if is_accuracy(key) and math.isfinite(value):
        return f"{value:.2%}"
    return format_number(value)
