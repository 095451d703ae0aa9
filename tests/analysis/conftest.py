"""A small trained run, built once per test session, for the analysis and inspect-command tests.

The registry's ``tutorial-cnn`` (two 5x5 convs, three FC layers; the fastest of the small CNNs,
with in-place ReLUs that the hooks must cope with) is trained for a few dozen steps on 540 MNIST
images (the shipped copy,
so no network and no data directory are needed) with a plain loop, then saved as `cnnlab train`
would: ``RUN/config.json`` (with a 10% validation split) and ``RUN/checkpoints/best.pt`` in the
checkpoint payload format of ``cnnlab.runs.checkpoint``. It reaches roughly 80-90% test accuracy:
good enough to be meaningful, bad enough to leave mistakes to look at.

``tests/commands/test_inspect.py`` loads :func:`build_trained_run` from this file; both build into
the session's base temp folder, so the run is trained once whichever test asks first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnnlab.atomic import atomic_write_json

MODEL = "tutorial-cnn"
RUN_NAME = "tutorial-cnn-mnist"
SUBSET = 600
VAL_SPLIT = 0.1
SEED = 0
STEPS = 48
BATCH_SIZE = 64


def build_trained_run(base: Path) -> Path:
    """Train and save the run under ``base`` unless it is already there; return the run directory."""
    run_dir = base / RUN_NAME
    checkpoint = run_dir / "checkpoints" / "best.pt"
    if checkpoint.is_file():
        return run_dir
    from cnnlab.data import load_dataset, split_validation
    from cnnlab.data.transforms import to_model_input
    from cnnlab.models import create
    from cnnlab.runs import save_checkpoint

    dataset = load_dataset("mnist", "train", subset=SUBSET, progress=False)
    train, _ = split_validation(dataset, VAL_SPLIT, SEED)
    model_kwargs = {"num_classes": 10, "in_channels": 1, "input_size": 28}
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = create(MODEL, **model_kwargs)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        inputs = to_model_input(train.images, dataset.mean, dataset.std)
        model.train()
        for _step in range(STEPS):
            batch = torch.randint(0, len(train), (BATCH_SIZE,))
            loss = F.cross_entropy(model(inputs[batch]), train.labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    config = {"model": MODEL, "dataset": "mnist", "subset": SUBSET, "val_split": VAL_SPLIT, "seed": SEED}
    atomic_write_json(run_dir / "config.json", config)
    save_checkpoint(
        checkpoint,
        {
            "model": {"name": MODEL, "kwargs": model_kwargs},
            "model_state": model.state_dict(),
            "data": {
                "dataset": "mnist",
                "classes": list(dataset.classes),
                "mean": list(dataset.mean),
                "std": list(dataset.std),
                "input_shape": list(dataset.input_shape),
                "scale": "standardized",
            },
            "metrics": {"train_loss": loss.item()},
        },
    )
    return run_dir


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of the small trained CNN."""
    return build_trained_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def trained(trained_run: Path):
    """The run's model, restored with ``load_trained``."""
    from cnnlab.runs import load_trained

    return load_trained(trained_run)


@pytest.fixture(scope="session")
def mnist_test():
    """The MNIST test split (shipped with the package)."""
    from cnnlab.data import load_dataset

    return load_dataset("mnist", "test", progress=False)
