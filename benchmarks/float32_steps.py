"""The float32 step of each fast recipe's network, side by side with its float32 settings and with
the layout, activation and batch choices measured against them (benchmarks/README.md, "float32 on
an AVX2 CPU").

    python -m benchmarks.float32_steps                 # 1 thread, CPU time: robust on a loaded machine
    python -m benchmarks.float32_steps --threads 2     # the recipes' 2 threads, wall time (quiet machine)

Each variant is a full training step (forward, label-smoothed cross-entropy, backward, Nesterov
SGD) of the recipe's network on random images, in float32. The variants alternate within one
process, repetition by repetition, and each keeps its fastest, so all see the same machine; only
the ratios to the first row (the recipe as tuned in bfloat16) mean anything. At one thread the
clock is the process's CPU time (``time.process_time``), which waiting for a core does not
inflate; with more threads it is wall time, since CPU time would then count the threads' spinning.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.models import create
from cnnlab.training.recipes import get_recipe

# (recipe, input shape, its variants: label -> changes to the model_args / batch / layout / activation)
RECIPE_INPUTS = {"mnist-fast": (1, 28, 28), "cifar10-quick": (3, 32, 32)}
VARIANTS: dict[str, dict[str, Any]] = {
    "as tuned (bfloat16 settings)": {},
    "the float32 settings": {"float32": True},
    "contiguous (NCHW)": {"channels_last": False},
    "ReLU for GELU": {"activation": nn.ReLU},
    "batch 256": {"batch_size": 256},
}


@dataclass
class StepCost:
    label: str
    ms_per_128_images: float
    settings: dict[str, Any] = field(default_factory=dict)


def training_step(
    recipe: str,
    *,
    float32: bool = False,
    channels_last: bool = True,
    activation: Any = None,
    batch_size: int = 0,
) -> tuple[Callable[[], None], int, nn.Module]:
    """One float32 training step of ``recipe``'s network (with its float32 settings if asked), its
    batch size and the network."""
    chosen = get_recipe(recipe)
    settings = {**chosen.settings, **(chosen.float32_settings if float32 else {})}
    shape = RECIPE_INPUTS[recipe]
    batch = batch_size or settings.get("batch_size", 128)
    torch.manual_seed(0)
    model = create(
        settings["model"], in_channels=shape[0], input_size=shape[1:], **settings.get("model_args", {})
    )
    if activation is not None:
        _replace_gelu(model, activation)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    images = torch.randn(batch, *shape).contiguous(memory_format=layout)
    labels = torch.randint(0, 10, (batch,))

    def step() -> None:
        loss = F.cross_entropy(model(images), labels, label_smoothing=settings.get("label_smoothing", 0.0))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, batch, model


def _replace_gelu(model: nn.Module, activation: Callable[[], nn.Module]) -> None:
    for module in model.modules():
        for name, child in module.named_children():
            if isinstance(child, nn.GELU):
                setattr(module, name, activation())


def compare(
    recipe: str, variants: dict[str, dict[str, Any]], steps: int = 10, repeats: int = 3
) -> list[StepCost]:
    """Each variant's fastest repetition of ``steps`` steps, in ms per 128 images."""
    clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
    built = {label: training_step(recipe, **settings) for label, settings in variants.items()}
    best = dict.fromkeys(built, float("inf"))
    for step, _, _ in built.values():
        step()  # warm-up: oneDNN builds its kernels on the first call
    for _ in range(repeats):
        for label, (step, batch, _) in built.items():
            started = clock()
            for _ in range(steps):
                step()
            best[label] = min(best[label], (clock() - started) / steps / batch * 128 * 1000)
    return [StepCost(label, best[label], variants[label]) for label in variants]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = "CPU time" if args.threads == 1 else "wall time"
    print(f"float32 training steps, {args.threads} thread(s), {clock}, ms per 128 images (ratio: x faster)")
    for recipe in RECIPE_INPUTS:
        print(f" {recipe}:")
        rows = compare(recipe, VARIANTS, args.steps, args.repeats)
        for row in rows:
            ratio = rows[0].ms_per_128_images / row.ms_per_128_images
            print(f"  {row.label:32s} {row.ms_per_128_images:7.2f} ms  x{ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
