"""The GPU section of benchmarks/README.md: one prepared script to run on a machine with a CUDA GPU.

    python -m benchmarks.gpu                 # about 5 minutes on one modern GPU
    python -m benchmarks.gpu --device cpu --quick   # a dry run of the same code on a CPU (seconds)

It trains ``cifar10-quick`` (goal 1's recipe), ``cifar10-fast`` (airbench94_muon),
``cifar10-airbench`` and ``cifar10-speedrun`` on the GPU (bfloat16 autocast, channels_last and the
data kept on the device are the defaults there; see ``cnnlab.training.hardware``), and reports test
accuracy and training seconds. Results go to ``benchmarks/results/gpu.json``. CIFAR-10 must be
reachable (``CNNLAB_DATA``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from benchmarks import accuracy
from benchmarks.measure import machine
from cnnlab.atomic import atomic_write_json

# The CIFAR-10 recipes as shipped; cifar10-fast and cifar10-airbench are airbench94_muon and
# airbench94, 94% in a few seconds on an A100 (official data).
GPU_RUNS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("cifar10-quick", {}),
    ("cifar10-fast", {}),
    ("cifar10-airbench", {}),
    ("cifar10-speedrun", {}),
)
QUICK_SETTINGS = {"epochs": 1, "subset": 512, "test_subset": 256}


def gpu_name(device: str) -> str:
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else machine()["cpu"]


def run_recipes(device: str, quick: bool, report=print) -> list[dict[str, Any]]:
    rows = []
    for recipe, settings in GPU_RUNS:
        settings = {**settings, "device": device, **(QUICK_SETTINGS if quick else {})}
        run = accuracy.cnnlab_recipe_run(recipe, **settings)
        report(
            f" {run.label}: test accuracy {run.final_accuracy:.2%} after {run.total_train_seconds:.1f} s "
            f"of training ({run.wall_seconds:.1f} s in all)"
        )
        rows.append({"recipe": recipe, "settings": settings, **run.to_dict()})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a dry run")
    parser.add_argument("--quick", action="store_true", help="a tiny subset, one epoch: checks the script")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu.json")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA GPU here; run on a GPU machine, or pass --device cpu --quick for a dry run")
    results: dict[str, Any] = {"machine": machine(), "device": gpu_name(args.device), "quick": args.quick}
    print(f"{results['device']}, torch {torch.__version__}")
    results["recipes"] = run_recipes(args.device, args.quick)
    atomic_write_json(args.out, results)
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
