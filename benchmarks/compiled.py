"""Does ``torch.compile`` make a CPU training step faster? cnnlab's step, eager and compiled.

Both sides are :class:`benchmarks.breakdown.CnnlabStep` (the trainer's hardware choices, optimizer
and bookkeeping) on the same initial weights and batches; the compiled side wraps the model in
``torch.compile`` (TorchInductor, which writes C++ and needs a C++ compiler). The first step is
timed on its own (it compiles); then each side's fastest of ``steps`` steps is kept. Where the
compiler is missing or fails, the result says so instead of a time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from benchmarks.breakdown import CnnlabStep
from benchmarks.measure import seconds_of, synthetic_dataset
from cnnlab.models import create


@dataclass
class CompileResult:
    model: str
    batch_size: int
    settings: dict[str, Any]
    eager_ms: float
    compiled_ms: float | None  # None: compiling failed (see error)
    compile_seconds: float | None  # the first compiled step, which compiles
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        return self.eager_ms / self.compiled_ms if self.compiled_ms else None

    def line(self) -> str:
        label = f"  {self.model:12s} batch {self.batch_size:3d} {self.settings or ''}"
        if self.compiled_ms is None:
            return f"{label}: eager {self.eager_ms:.1f} ms/step; compiled: failed ({self.error})"
        return (
            f"{label}: eager {self.eager_ms:.1f} ms/step, compiled {self.compiled_ms:.1f} ms/step, "
            f"x{self.ratio:.2f} (compiling took {self.compile_seconds:.1f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def measure_compile(
    name: str, batch_size: int, steps: int = 5, shape: tuple[int, int, int] = (3, 32, 32), **settings: Any
) -> CompileResult:
    """Eager and compiled step times of ``name`` (settings as ``cnnlab.train`` keywords)."""
    dataset = synthetic_dataset(shape, batch_size * 4)
    _, eager = _time_steps(name, dataset, batch_size, steps, settings, compiled=False)
    try:
        compile_seconds, compiled = _time_steps(name, dataset, batch_size, steps, settings, compiled=True)
    except Exception as error:  # noqa: BLE001 - any compiler failure is a result to report
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return CompileResult(name, batch_size, settings, eager * 1000, None, None, message[:200])
    return CompileResult(name, batch_size, settings, eager * 1000, compiled * 1000, compile_seconds)


def _time_steps(name, dataset, batch_size, steps, settings, *, compiled: bool) -> tuple[float, float]:
    """(seconds of the first step, seconds of the fastest later step)."""
    from cnnlab.training.hardware import hardware_context

    torch.manual_seed(0)
    model = create(name, dataset.num_classes, dataset.in_channels, dataset.image_size)
    step = CnnlabStep(model, dataset, batch_size, **settings)
    if compiled:
        step.model = torch.compile(step.model)
    with hardware_context(step.hardware):
        first = seconds_of(lambda: step(0))
        fastest = min(seconds_of(lambda index=index: step(index)) for index in range(1, steps + 1))
    return first, fastest
