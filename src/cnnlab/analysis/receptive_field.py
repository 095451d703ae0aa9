"""Receptive fields: how many input pixels can influence one unit of a feature map, and how far
apart (in input pixels) neighbouring units are (the *jump*).

Through a window of size F, stride S and dilation D (Dumoulin & Visin 2016; Araujo et al.,
Distill 2019)::

    r_out = r_in + D (F - 1) j_in        j_out = j_in S

starting from r = j = 1 at the input. Where paths merge (a residual addition, an Inception
concatenation) the field is the largest of the merged ones, as the paths are centred alike. Once
a tensor loses its spatial dimensions (flatten, a linear layer) every unit sees the whole input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cnnlab.models.layer_arithmetic import Window


@dataclass(frozen=True)
class Field:
    """Receptive field size and jump per spatial dimension, in input pixels."""

    size: tuple[float, ...]
    jump: tuple[float, ...]

    @classmethod
    def of_input(cls, spatial_dims: int) -> Field:
        return cls((1,) * spatial_dims, (1,) * spatial_dims)

    def through(self, window: Window, in_sizes: Sequence[int], out_sizes: Sequence[int]) -> Field:
        """The field after ``window`` maps ``in_sizes`` to ``out_sizes``."""
        if window.kind == "adaptive":  # windows of varying size; the largest bounds the field
            return self._grown(_adaptive_kernels(in_sizes, out_sizes), _ratios(in_sizes, out_sizes))
        effective = tuple(d * (k - 1) + 1 for k, d in zip(window.kernel, window.dilation, strict=True))
        if window.kind == "conv_transpose":  # each output sees about effective/S inputs
            inputs_seen = tuple(math.ceil(e / s) for e, s in zip(effective, window.stride, strict=True))
            return self._grown(inputs_seen, tuple(1 / s for s in window.stride))
        return self._grown(effective, window.stride)

    def resampled(self, in_sizes: Sequence[int], out_sizes: Sequence[int]) -> Field:
        """After an op that changes the size without a known window (e.g. interpolation)."""
        return Field(
            self.size, tuple(j * r for j, r in zip(self.jump, _ratios(in_sizes, out_sizes), strict=True))
        )

    def _grown(self, kernel: Sequence[int], stride: Sequence[float]) -> Field:
        size = tuple(r + (k - 1) * j for r, k, j in zip(self.size, kernel, self.jump, strict=True))
        return Field(size, tuple(j * s for j, s in zip(self.jump, stride, strict=True)))

    def size_text(self) -> str:
        return _dims_text(self.size)

    def jump_text(self) -> str:
        return _dims_text(self.jump)


def merge(fields: Iterable[Field]) -> Field:
    """The field of a sum or concatenation of aligned paths: the largest size and jump."""
    fields = list(fields)
    return Field(
        tuple(max(values) for values in zip(*(f.size for f in fields), strict=False)),
        tuple(max(values) for values in zip(*(f.jump for f in fields), strict=False)),
    )


def _adaptive_kernels(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> tuple[int, ...]:
    # PyTorch's adaptive window i spans [floor(i n / o), ceil((i + 1) n / o)).
    return tuple(
        max(math.ceil((i + 1) * n / o) - (i * n) // o for i in range(o))
        for n, o in zip(in_sizes, out_sizes, strict=True)
    )


def _ratios(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> tuple[float, ...]:
    return tuple(n / o for n, o in zip(in_sizes, out_sizes, strict=True))


def _dims_text(values: Sequence[float]) -> str:
    texts = [f"{v:.1f}" if v != int(v) else str(int(v)) for v in values]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)
