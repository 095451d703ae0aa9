"""Fixtures of the web lab's tests: one small trained run (LeNet-5 on 2,048 MNIST digits, the MNIST
that ships with cnnlab), hand-written run folders for the list and the seed groups, and a client."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cnnlab.web.app import create_app

TRAINED_SETTINGS = {"epochs": 2, "subset": 2048, "test_subset": 128, "batch_size": 64, "log_every": 4}


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished LeNet-5 run with checkpoints (trained once for the whole session)."""
    import cnnlab

    runs = tmp_path_factory.mktemp("trained-runs")
    run = cnnlab.train(
        "lenet5", "mnist", runs_dir=str(runs), name="lenet", progress=False, **TRAINED_SETTINGS
    )
    return run.dir


@pytest.fixture
def runs_dir(tmp_path: Path, trained_run: Path) -> Path:
    """A runs directory of this test's own, holding a copy of the trained run."""
    runs = tmp_path / "lab-runs"
    runs.mkdir()
    shutil.copytree(trained_run, runs / trained_run.name)
    return runs


@pytest.fixture
def client(runs_dir: Path) -> TestClient:
    with TestClient(create_app(runs_dir)) as test_client:
        yield test_client


def write_run(
    runs_dir: Path,
    name: str,
    accuracies: list[float],
    *,
    group: str | None = None,
    seed: int = 0,
    status: str = "finished",
) -> Path:
    """A run folder as the trainer leaves it (config, result, one metrics record an epoch)."""
    folder = runs_dir / name
    folder.mkdir(parents=True)
    epochs = [
        {"kind": "epoch", "epoch": i + 1, "step": 10 * (i + 1), "lr": 0.01, "train_loss": 1.0 / (i + 1),
         "train_accuracy": a, "test_loss": 1.2 / (i + 1), "test_accuracy": a}
        for i, a in enumerate(accuracies)
    ]  # fmt: skip
    config = {"name": name, "model": "lenet5", "dataset": "mnist", "epochs": len(accuracies), "seed": seed}
    (folder / "config.json").write_text(json.dumps({**config, "group": group}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in epochs))
    final = {k: v for k, v in epochs[-1].items() if k != "kind"}
    result = {"status": status, "final": final, "epochs_done": len(accuracies), "started": 1000.0 + seed}
    (folder / "result.json").write_text(json.dumps(result))
    return folder


@pytest.fixture
def make_run(runs_dir: Path):
    """``make_run(name, accuracies, group=..., seed=..., status=...)`` writes a run into runs_dir."""

    def make(name: str, accuracies: list[float], **options) -> Path:
        return write_run(runs_dir, name, accuracies, **options)

    return make
