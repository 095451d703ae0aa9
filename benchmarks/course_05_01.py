"""The course notebook 05_01's CNN run, written the notebook's way, over several seeds.

``python -m benchmarks.course_05_01 --seeds 5``: the notebook's setting exactly (the ``course-cnn``
network, MNIST normalised with 0.1307 / 0.3081, batch 64 shuffled, SGD lr 0.01 momentum 0.5, one
epoch, log-softmax + NLL averaged over the batch, PyTorch's default initialisation), with the
plain loop of :mod:`benchmarks.plain` instead of cnnlab's trainer. It answers: does the notebook's
own code reach its printed 96.15% here? Where the two agree with each other and not with 96.15%,
the difference lies outside both (the notebook's library versions or its one lucky draw).
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F

from benchmarks.plain import evaluate, plain_loader
from cnnlab.data import load_dataset
from cnnlab.models import create

COURSE = 0.9615  # 9615 of 10,000 test images


def run_seed(seed: int, train, test) -> float:
    torch.manual_seed(seed)
    model = create("course-cnn", 10, 1, 28)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model.train()
    for x, y in plain_loader(train, 64, shuffle=True, seed=seed):
        optimizer.zero_grad()
        F.nll_loss(F.log_softmax(model(x), dim=1), y).backward()
        optimizer.step()
    return evaluate(model, plain_loader(test, 1000, shuffle=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    seeds = parser.parse_args().seeds
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    print(f"MNIST mean {train.mean[0]:.4f}, std {train.std[0]:.4f} (the notebook: 0.1307, 0.3081)")
    accuracies = []
    for seed in range(seeds):
        accuracies.append(run_seed(seed, train, test))
        print(f"seed {seed}: {accuracies[-1] * 100:.2f}%", flush=True)
    mean = statistics.mean(accuracies)
    spread = f" ± {statistics.stdev(accuracies) * 100:.2f}" if seeds > 1 else ""
    print(f"notebook loop, {seeds} seeds: {mean * 100:.2f}{spread}% (course: {COURSE * 100:.2f}%)")


if __name__ == "__main__":
    main()
