"""Goal 2: training throughput of every zoo model, cnnlab against the plain loop, at equal batch size.

For each model both sides train the same network (``cnnlab.models.create``, same seed) with Adam
at 1e-3 on synthetic images of the model's default input shape (3x32x32 for the CIFAR models,
1x28x28 for the MNIST ones, 3x224x224 for AlexNet and ZFNet, which do not fit 32x32). The plain
side is :mod:`benchmarks.plain`; the cnnlab side is ``cnnlab.train`` itself (BatchLoader,
Trainer, its default fast path), timed step by step through a progress reporter. After a few
untimed warm-up steps each side times ``steps`` steps; the two sides alternate ``rounds`` times and
the fastest step of each side is kept (see :mod:`benchmarks.measure`). Achieved GFLOP/s is the
cnnlab throughput times the FLOPs of one training step per image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from benchmarks import plain
from benchmarks.measure import StepClock, cnnlab_train, synthetic_dataset, training_flops_per_image
from cnnlab.models import create, get_info, list_models

# Budget of one side's timed work, in training FLOPs; small models still get MIN_STEPS steps.
STEP_FLOP_BUDGET = {"quick": 2e11, "full": 1e12}
MIN_STEPS, MAX_STEPS, WARMUP_STEPS = 3, 30, 2
# Equal batch size on both sides; the big networks use a smaller one to fit the time budget.
BATCH_SIZE, BIG_BATCH_SIZE, BIG_MODEL_GFLOP = 64, 16, 5.0
QUICK_MODELS = ("lenet5", "tutorial-cnn", "vgg11-bn", "resnet18")


@dataclass
class ThroughputRow:
    model: str
    input_shape: tuple[int, int, int]
    batch_size: int
    steps: int
    plain_images_per_s: float
    cnnlab_images_per_s: float
    gflop_per_image: float  # one training step (forward + backward), per image

    @property
    def ratio(self) -> float:
        return self.cnnlab_images_per_s / self.plain_images_per_s

    @property
    def cnnlab_gflops(self) -> float:
        return self.cnnlab_images_per_s * self.gflop_per_image

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "cnnlab_gflops": self.cnnlab_gflops}


def benchmark_input_shape(name: str) -> tuple[int, int, int]:
    """The model's registered default input (what its family was built for)."""
    return tuple(get_info(name).default_input)


def measure_model(name: str, mode: str = "quick", rounds: int = 2) -> ThroughputRow:
    """Side-by-side throughput of ``name``: plain loop vs ``cnnlab.train``."""
    shape = benchmark_input_shape(name)
    flops = training_flops_per_image(_build(name, shape), shape)
    batch = BIG_BATCH_SIZE if flops / 1e9 >= BIG_MODEL_GFLOP else BATCH_SIZE
    steps = int(min(MAX_STEPS, max(MIN_STEPS, STEP_FLOP_BUDGET[mode] // max(flops * batch, 1))))
    dataset = synthetic_dataset(shape, (WARMUP_STEPS + steps) * batch)
    plain_seconds: list[float] = []
    cnnlab_seconds: list[float] = []
    for _ in range(rounds):
        plain_seconds += _plain_step_seconds(name, shape, dataset, batch, steps)
        cnnlab_seconds += _cnnlab_step_seconds(name, dataset, batch)
    return ThroughputRow(
        model=name,
        input_shape=shape,
        batch_size=batch,
        steps=steps,
        plain_images_per_s=batch / min(plain_seconds),
        cnnlab_images_per_s=batch / min(cnnlab_seconds),
        gflop_per_image=flops / 1e9,
    )


def _build(name: str, shape: tuple[int, int, int]) -> torch.nn.Module:
    torch.manual_seed(0)
    return create(name, num_classes=10, in_channels=shape[0], input_size=shape[1:])


def _plain_step_seconds(name, shape, dataset, batch: int, steps: int) -> list[float]:
    timing = plain.time_steps(_build(name, shape), dataset, batch, warmup=WARMUP_STEPS, steps=steps)
    return timing.seconds


def _cnnlab_step_seconds(name: str, dataset, batch: int) -> list[float]:
    clock = StepClock()
    cnnlab_train(
        name,
        dataset,
        clock,
        epochs=1,
        batch_size=batch,
        optimizer="adam",
        lr=1e-3,
        schedule="constant",
        checkpoint_every=0,
    )
    return clock.step_seconds[WARMUP_STEPS:]


def zoo_models(mode: str) -> list[str]:
    """Every registered classifier in ``full`` mode; a representative few in ``quick`` mode.

    The autoencoders and the RBM train on their own objectives, which the plain loop (cross-entropy
    on labels) does not have, so there is no plain side to compare them with.
    """
    if mode == "quick":
        return list(QUICK_MODELS)
    return [info.name for info in list_models(task="classify")]


def run(mode: str = "quick", models: list[str] | None = None, report=print) -> list[ThroughputRow]:
    rows = []
    for name in models or zoo_models(mode):
        row = measure_model(name, mode)
        report(
            f"  {name:16s} batch {row.batch_size:3d}  plain {row.plain_images_per_s:8.1f} img/s  "
            f"cnnlab {row.cnnlab_images_per_s:8.1f} img/s  x{row.ratio:.2f}  "
            f"{row.cnnlab_gflops:6.1f} GFLOP/s"
        )
        rows.append(row)
    return rows
