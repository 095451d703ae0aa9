"""Goal 5: evaluating the CIFAR-10 test set, cnnlab against the plain loop; loading the cached data.

Both sides evaluate the same trained-from-init network (the course's ``tutorial-cnn`` by default;
the accuracy of an untrained net is as good as any for timing, and both sides must agree on it).
The plain side is :func:`benchmarks.plain.evaluate` (DataLoader, batch 64, ``no_grad``); the cnnlab
side is ``cnnlab.training.evaluate`` over the loader the trainer builds for a test set
(:func:`cnnlab.training.evaluation.eval_loader`). The load time is that of ``load_dataset`` for
both CIFAR-10 splits once the decoded cache exists (the first load builds it and is not timed).
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from benchmarks import plain
from benchmarks.measure import forward_flops_per_image
from cnnlab.data import ImageDataset, load_dataset
from cnnlab.models import create

PLAIN_BATCH_SIZE = 64  # the notebooks' batch size, also used for their test loader


@dataclass
class EvaluationResult:
    model: str
    images: int
    plain_seconds: float
    cnnlab_seconds: float
    plain_accuracy: float
    cnnlab_accuracy: float
    gflop_per_image: float = 0.0  # one forward pass (convolutions and matrix products)

    @property
    def ratio(self) -> float:
        return self.plain_seconds / self.cnnlab_seconds

    def floor_seconds(self, peak_gflops: float) -> float:
        """The arithmetic alone at ``peak_gflops`` (the matmul peak): no evaluation can be faster
        unless its kernels beat that peak."""
        return self.images * self.gflop_per_image / peak_gflops

    def to_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class LoadResult:
    dataset: str
    first_seconds: float  # may include decoding into the cache
    cached_seconds: float  # the fastest of the later loads

    def to_dict(self) -> dict:
        return asdict(self)


def cnnlab_evaluate(model: torch.nn.Module, test: ImageDataset, **settings: Any) -> float:
    """Test accuracy the way the trainer evaluates: its hardware choices for this network (memory
    format, threads; ``settings`` such as ``amp=True`` as a recipe sets them), its loader
    (:func:`cnnlab.training.evaluation.eval_loader`), ``evaluate``."""
    from cnnlab.training.config import TrainConfig
    from cnnlab.training.evaluation import eval_loader, evaluate
    from cnnlab.training.hardware import choose_hardware, fit_to_model, hardware_context

    config = TrainConfig(**{"device": "cpu", **settings})
    hardware = fit_to_model(choose_hardware(config), config, model)
    if hardware.channels_last:
        model = copy.deepcopy(model).to(memory_format=torch.channels_last)
    loader = eval_loader(test, scale=getattr(model, "input_scale", "standardized"))
    with hardware_context(hardware):
        return evaluate(model, loader, hardware=hardware)["accuracy"]


def plain_evaluate(model: torch.nn.Module, test: ImageDataset) -> float:
    return plain.evaluate(model, plain.plain_loader(test, PLAIN_BATCH_SIZE, shuffle=False))


def measure_evaluation(
    test: ImageDataset, model_name: str = "tutorial-cnn", rounds: int = 3, **settings: Any
) -> EvaluationResult:
    """Alternate both sides ``rounds`` times; keep each side's fastest pass. ``settings`` go to
    the cnnlab side (e.g. ``amp=True``: bfloat16, as the fast recipes evaluate)."""
    torch.manual_seed(0)
    model = create(
        model_name, num_classes=test.num_classes, in_channels=test.in_channels, input_size=test.image_size
    )
    plain_times, cnnlab_times = [], []
    for _ in range(rounds):
        plain_accuracy, seconds = _timed(plain_evaluate, model, test)
        plain_times.append(seconds)
        cnnlab_accuracy, seconds = _timed(functools.partial(cnnlab_evaluate, **settings), model, test)
        cnnlab_times.append(seconds)
    return EvaluationResult(
        model=model_name + "".join(f" {key}={value}" for key, value in settings.items()),
        images=len(test),
        plain_seconds=min(plain_times),
        cnnlab_seconds=min(cnnlab_times),
        plain_accuracy=plain_accuracy,
        cnnlab_accuracy=cnnlab_accuracy,
        gflop_per_image=forward_flops_per_image(model, tuple(test.images.shape[1:])) / 1e9,
    )


def measure_load(name: str = "cifar10", rounds: int = 3) -> LoadResult:
    """Seconds to load both splits of ``name``: the first time, and the fastest cached time."""
    times = [_timed(_load_both, name)[1] for _ in range(rounds + 1)]
    return LoadResult(dataset=name, first_seconds=times[0], cached_seconds=min(times[1:]))


def _load_both(name: str) -> tuple[ImageDataset, ImageDataset]:
    return load_dataset(name, "train", progress=False), load_dataset(name, "test", progress=False)


def _timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start
