"""Data-parallel training on this machine: 2 processes x 1 thread against 1 process x 2 threads.

Both sides are the same ``python -m cnnlab train`` command (same seed, data, global batch, so the
same run up to the order of floating-point sums), one with ``--threads 2``, the other with
``--threads 2 --nproc 2`` (torchrun's agent, DDP over gloo, each rank one thread and half of every
batch). Training speed is the run's own ``images_per_s`` of each epoch (images of the epoch over
its training time, evaluation excluded, as rank 0 measured it); the best epoch of each side is
kept, the sides alternate ``rounds`` times, and the ratio is printed (above 1: the two processes
are faster). Where CUDA has two or more GPUs, the same comparison runs 1 GPU against all of them
(one process a GPU, NCCL).

    python -m benchmarks.data_parallel            # quick: LeNet-5 on 4,096 MNIST images
    python -m benchmarks.data_parallel --full     # + course-cnn on 10,000 CIFAR-10 images
    python -m benchmarks.run --only data-parallel --full
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

# (model, dataset, training images, epochs, global batch); CIFAR-10 only where it is reachable.
CASES = {
    "quick": (("lenet5", "mnist", 4096, 2, 64),),
    "full": (("lenet5", "mnist", 20000, 3, 64), ("course-cnn", "cifar10", 10000, 3, 128)),
}
ROUNDS = {"quick": 1, "full": 2}
TIMEOUT_S = 1800


@dataclass
class Side:
    processes: int
    threads_each: int
    device: str
    images_per_s: float  # the best epoch's training images per second
    test_accuracy: float


def train_side(case: tuple[str, str, int, int, int], nproc: int, threads: int, device: str) -> Side:
    """One run of ``case`` on ``nproc`` processes sharing ``threads`` threads (or GPUs)."""
    model, dataset, images, epochs, batch = case
    with tempfile.TemporaryDirectory(prefix="cnnlab-ddp-bench-") as runs:
        command = [
            sys.executable, "-m", "cnnlab", "train", "--model", model, "--dataset", dataset,
            "--subset", str(images), "--test-subset", "1000", "--epochs", str(epochs),
            "--batch-size", str(batch), "--threads", str(threads), "--device", device,
            "--no-curves", "--runs-dir", runs, "--json",
        ]  # fmt: skip
        if nproc > 1:
            command += ["--nproc", str(nproc)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=os.environ)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip().splitlines()[-1:]}")
    run = json.loads(done.stdout)
    best = max(record["images_per_s"] for record in run["history"])
    return Side(nproc, max(1, threads // nproc), device, best, run["final"].get("test_accuracy", 0.0))


def compare(case: tuple[str, str, int, int, int], rounds: int, device: str, workers: int) -> dict[str, Any]:
    """The best of ``rounds`` alternating runs of one process against ``workers`` processes."""
    threads = workers if device == "cpu" else 1
    one: list[Side] = []
    many: list[Side] = []
    for _ in range(rounds):
        one.append(train_side(case, 1, threads, device))
        many.append(train_side(case, workers, threads, device))
    best_one = max(one, key=lambda side: side.images_per_s)
    best_many = max(many, key=lambda side: side.images_per_s)
    model, dataset, images, epochs, batch = case
    row = {
        "model": model,
        "dataset": dataset,
        "images": images,
        "epochs": epochs,
        "batch_size": batch,
        "device": device,
        "one": asdict(best_one),
        "many": asdict(best_many),
        "ratio": best_many.images_per_s / best_one.images_per_s,
    }
    unit = "threads" if device == "cpu" else "GPU"
    print(
        f" {model} on {images:,} {dataset} images, batch {batch}, {device}: "
        f"1 process x {threads} {unit}: {best_one.images_per_s:,.0f} img/s "
        f"(test {best_one.test_accuracy:.2%}) | "
        f"{workers} processes x 1 {unit.rstrip('s')}: {best_many.images_per_s:,.0f} img/s "
        f"(test {best_many.test_accuracy:.2%}) | ratio {row['ratio']:.2f}",
        flush=True,
    )
    return row


def run(mode: str = "quick") -> list[dict[str, Any]]:
    """Every case of ``mode`` on the CPU (2 processes x 1 thread against 1 x 2), then on the GPUs."""
    rows = [compare(case, ROUNDS[mode], "cpu", 2) for case in _reachable(CASES[mode])]
    gpus = _gpus()
    if gpus >= 2:
        rows += [compare(case, ROUNDS[mode], "cuda", gpus) for case in _reachable(CASES[mode])]
    else:
        print(f" GPU scaling: skipped ({gpus} CUDA device(s) here; it needs 2 or more)", flush=True)
    return rows


def _reachable(cases: tuple[tuple[str, str, int, int, int], ...]) -> list[tuple[str, str, int, int, int]]:
    from cnnlab.data.paths import data_roots

    roots = [root for root, _ in data_roots()]
    found = []
    for case in cases:
        if case[1] == "mnist" or any((root / case[1]).is_dir() for root in roots):
            found.append(case)
        else:
            print(f" {case[0]} on {case[1]}: skipped ({case[1]} is in none of {roots})", flush=True)
    return found


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.data_parallel", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--full", dest="mode", action="store_const", const="full", default="quick")
    run(parser.parse_args(argv).mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
