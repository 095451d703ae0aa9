"""A training run end to end: its directory, records, history, early stopping, user models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnlab
from cnnlab.errors import ConfigError, TrainingError
from cnnlab.runs import Run, load_checkpoint, load_trained
from cnnlab.runs.index import RunIndex
from cnnlab.runs.rundir import RunDir


def test_run_directory_holds_everything_documented(tiny):
    run = cnnlab.train(**{**tiny, "curves": True}, name="full")
    files = {p.relative_to(run.dir).as_posix() for p in run.dir.rglob("*") if p.is_file()}
    assert {"config.json", "environment.json", "metrics.jsonl", "result.json", "curves.png"} <= files
    assert {"checkpoints/last.pt", "checkpoints/best.pt"} <= files
    assert (run.dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    config = json.loads((run.dir / "config.json").read_text())
    assert (config["model"], config["epochs"], config["lr"], config["subset"]) == ("course-cnn", 2, 3e-3, 256)
    environment = json.loads((run.dir / "environment.json").read_text())
    assert environment["seed"] == 0 and environment["device"]["threads"] == 1
    assert environment["device"]["deterministic"] is True
    assert environment["versions"]["torch"] == torch.__version__
    assert environment["data"]["train"]["images"] == 256 and environment["data"]["test"]["images"] == 128
    assert environment["data"]["train"]["verification"]

    records = RunDir(run.dir).read_metrics()
    steps = [r for r in records if r["kind"] == "step"]
    assert [r["step"] for r in steps] == list(range(2, 17, 2))  # log_every=2, 16 steps
    assert all(0 <= r["accuracy"] <= 1 and r["loss"] > 0 for r in steps)
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]

    assert [h["epoch"] for h in run.history] == [1, 2]
    last = run.history[-1]
    assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "time_s"} <= set(last)
    assert 0.0 <= last["test_accuracy"] <= 1.0
    assert run.result["status"] == "finished" and run.result["epochs_done"] == 2 and run.result["step"] == 16
    assert run.metric("epoch") == [1, 2]


def test_checkpoint_payload_rebuilds_the_trained_model(tiny, same_weights):
    run = cnnlab.train(**tiny, name="ckpt")
    payload = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    assert payload["model"] == {
        "name": "course-cnn",
        "kwargs": {"num_classes": 10, "in_channels": 1, "input_size": [28, 28]},
        "class": payload["model"]["class"],
    }
    data = payload["data"]
    assert (data["dataset"], data["input_shape"], data["scale"]) == ("mnist", [1, 28, 28], "standardized")
    assert data["classes"] == [str(i) for i in range(10)]
    assert data["mean"][0] == pytest.approx(0.1307, abs=1e-3)
    assert same_weights(Run.open(run.dir).model, run.model)
    trained = load_trained(run.dir)
    assert trained.checkpoint.name == "best.pt" and trained.input_shape == (1, 28, 28)


def test_index_row_of_a_finished_run(tiny):
    run = cnnlab.train(**tiny, name="indexed")
    row = RunIndex(Path(tiny["runs_dir"])).get("indexed")
    assert row["status"] == "finished" and row["epochs_done"] == 2
    assert row["test_accuracy"] == run.final["test_accuracy"]


def test_validation_split_and_early_stopping(tiny):
    run = cnnlab.train(
        **{
            **tiny,
            "subset": 320,
            "epochs": 6,
            "val_split": 0.2,
            "early_stop": 1,
            "lr": 0.5,
            "optimizer": "sgd",
        },
        schedule="constant",
        name="early",
    )
    history = run.history
    assert all("val_loss" in h and "val_accuracy" in h for h in history)
    assert run.result["best"]["monitor"] == "val_loss"
    # lr 0.5 without decay makes the val loss stall: the run stops at the first epoch whose val
    # loss did not improve on the best so far (patience 1), and is tested there.
    val = [h["val_loss"] for h in history]
    assert len(history) < 6
    assert val[-1] >= min(val[:-1])
    assert all(later < best for best, later in zip(val[:-2], val[1:-1], strict=True))
    assert "test_accuracy" in history[-1] and run.result["epochs_done"] == len(history)
    environment = json.loads((run.dir / "environment.json").read_text())
    assert environment["data"]["train"]["images"] + environment["data"]["val"]["images"] == 320


def test_non_finite_loss_stops_with_step_lr_and_hint_and_keeps_a_good_checkpoint(tiny):
    with pytest.raises(TrainingError) as error:
        cnnlab.train(**{**tiny, "optimizer": "sgd", "lr": 1e12, "checkpoint_every": 1}, name="diverged")
    message = str(error.value)
    assert "the loss became nan at step" in message and "learning rate" in message
    assert "Try a lower learning rate" in message and "--clip-grad-norm" in message
    run_dir = Path(tiny["runs_dir"]) / "diverged"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "failed" and result["error"] == message
    assert RunIndex(Path(tiny["runs_dir"])).get("diverged")["status"] == "failed"
    kept = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert all(torch.isfinite(t).all() for t in kept["model_state"].values())
    failing_step = int(message.split("at step ")[1].split()[0])
    assert kept["training"]["position"]["step"] < failing_step


class TinyNet(nn.Module):
    """A user's own classifier with dropout (so the per-step seeding matters)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10)
        )

    def forward(self, x):
        return self.body(x)


def test_users_own_module_and_factory(tiny, same_weights):
    torch.manual_seed(0)
    module = TinyNet()
    run = cnnlab.train(module, "mnist", **{k: v for k, v in tiny.items() if k not in ("model", "dataset")})
    assert run.model is module
    payload = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    assert payload["model"]["name"] is None and payload["model"]["class"].endswith("TinyNet")
    assert run.config["model"].endswith("TinyNet")
    assert Run.open(run.dir).model is None  # only the user can build their module

    first = cnnlab.train(TinyNet, "mnist", **{k: v for k, v in tiny.items() if k not in ("model", "dataset")})
    second = cnnlab.train(
        TinyNet, "mnist", **{k: v for k, v in tiny.items() if k not in ("model", "dataset")}
    )
    assert same_weights(first.model, second.model)  # a factory is initialised from the run's seed


class TinyDenoiser(nn.Module):
    """A non-classifier: trained by its objective(x); random corruption draws on the global RNG."""

    input_scale = "unit"

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = nn.Linear(784, 16), nn.Linear(16, 784)
        self.seen_range = (1.0, 0.0)

    def objective(self, x):
        flat = x.flatten(1)
        self.seen_range = (
            min(self.seen_range[0], float(flat.min())),
            max(self.seen_range[1], float(flat.max())),
        )
        code = torch.tanh(self.encoder(flat + 0.1 * torch.randn_like(flat)))
        recon = ((torch.sigmoid(self.decoder(code)) - flat) ** 2).mean()
        sparsity = code.abs().mean()
        return {"loss": recon + 0.01 * sparsity, "recon": recon, "sparsity": sparsity}

    def forward(self, x):
        return torch.sigmoid(self.decoder(torch.tanh(self.encoder(x.flatten(1)))))


def test_objective_models_log_every_term_on_train_and_test(tiny, same_weights):
    settings = {k: v for k, v in tiny.items() if k not in ("model", "dataset")}
    run = cnnlab.train(TinyDenoiser, "mnist", **settings, name="ae")
    last = run.history[-1]
    for split in ("train", "test"):
        assert {f"{split}_loss", f"{split}_recon", f"{split}_sparsity"} <= set(last)
        assert last[f"{split}_loss"] == pytest.approx(
            last[f"{split}_recon"] + 0.01 * last[f"{split}_sparsity"]
        )
    assert "train_accuracy" not in last
    assert run.model.seen_range == (0.0, 1.0)  # fed its input_scale, "unit"
    again = cnnlab.train(TinyDenoiser, "mnist", **settings, name="ae-again")
    assert same_weights(run.model, again.model) and run.final == again.final


def test_tensorboard_logs_scalars_into_the_run_directory(tiny):
    pytest.importorskip("tensorboard")
    run = cnnlab.train(**tiny, tensorboard=True, name="tb")
    events = list((run.dir / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 1000


def test_tensorboard_missing_is_a_clear_error(tiny, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # makes `import tensorboard` fail
    with pytest.raises(ConfigError, match=r"pip install 'cnnlab\[tensorboard\]'"):
        cnnlab.train(**tiny, tensorboard=True, name="no-tb")
    assert not (Path(tiny["runs_dir"]) / "no-tb").exists()


def test_auxiliary_heads_add_their_weighted_loss_in_training_only():
    from cnnlab.models import create
    from cnnlab.training.metrics import batch_output

    torch.manual_seed(0)
    model = create("googlenet", 10, 3, 32, aux_logits=True)
    inputs, labels = torch.randn(2, 3, 32, 32), torch.tensor([1, 2])
    loss_fn = torch.nn.functional.cross_entropy
    model.train()
    output = batch_output(model, inputs, labels, loss_fn)
    assert len(model.aux_outputs) == 2
    expected = loss_fn(output.logits, labels) + 0.3 * sum(loss_fn(a, labels) for a in model.aux_outputs)
    assert torch.allclose(output.loss, expected)
    model.eval()
    with torch.no_grad():
        output = batch_output(model, inputs, labels, loss_fn)
    assert torch.allclose(output.loss, loss_fn(output.logits, labels))


def test_a_partial_factory_is_named_by_its_function_and_arguments(tiny):
    import functools

    settings = {k: v for k, v in tiny.items() if k not in ("model", "dataset", "name")}
    run = cnnlab.train(functools.partial(_tiny_factory, 8), "mnist", **settings)
    assert run.config["model"] == f"{__name__}._tiny_factory(8)"
    assert Path(run.dir).name.startswith("_tiny_factory-mnist-")


def _tiny_factory(width: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, width), torch.nn.Linear(width, 10))
