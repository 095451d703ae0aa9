"""The parts protocol (issue 19): a new part is one class and one line in PARTS, its hooks come in
order, its state goes into checkpoints under its key, and checkpoints written before the parts
(with a "scheduler" entry, without a "divergence" one) still resume to the same bits."""

from __future__ import annotations

from typing import Any

import torch

import cnnlab
import cnnlab.training
from cnnlab.runs.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.training import trainer as trainer_module
from cnnlab.training.parts import Part


class CountingPart(Part):
    """A trick of the kind a user adds: counts steps and records the order of its hooks."""

    key = "counting"
    events: list[str] = []

    def __init__(self) -> None:
        self.steps = 0

    def on_run_start(self, trainer, resumed):
        self.events.append(f"start resumed={resumed} steps={self.steps}")

    def after_optimizer_step(self, trainer, step):
        self.steps += 1

    def on_epoch_end(self, trainer, record):
        self.events.append(f"epoch {record['epoch']}")

    def on_train_end(self, trainer):
        self.events.append("train end")

    def on_run_end(self, trainer, result):
        self.events.append(f"run end {result['status']} steps={self.steps}")

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = state["steps"]


def test_a_new_part_is_one_class_and_one_line(tiny, interrupted_run, monkeypatch):
    monkeypatch.setattr(trainer_module, "PARTS", [*trainer_module.PARTS, CountingPart])
    monkeypatch.setattr(CountingPart, "events", [])
    run_dir = interrupted_run(tiny, 5)  # Ctrl-C during step 5 of 16
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["training"]["counting"] == {"steps": 5}
    cnnlab.training.resume(run_dir, progress=False)
    assert CountingPart.events == [
        "start resumed=False steps=0",
        "run end interrupted steps=5",
        "start resumed=True steps=5",
        "epoch 1",
        "epoch 2",
        "train end",
        "run end finished steps=16",
    ]


def test_a_checkpoint_from_before_the_parts_resumes_to_the_same_bits(tiny, interrupted_run, same_weights):
    run_dir = interrupted_run({**tiny, "ema": 0.9}, 5)
    last = run_dir / "checkpoints" / "last.pt"
    payload = load_checkpoint(last)
    training = payload["training"]
    assert "scheduler" not in training  # never read, no longer written
    # As the trainer wrote it before the parts: a scheduler entry, no divergence guard state.
    del training["divergence"]
    training["scheduler"] = {"name": "onecycle", "step": training["position"]["step"]}
    save_checkpoint(last, {k: v for k, v in payload.items() if k != "format"})

    resumed = cnnlab.training.resume(run_dir, progress=False)
    whole = cnnlab.train(**{**tiny, "ema": 0.9}, name="whole")
    assert resumed.final == whole.final and same_weights(resumed.model, whole.model)


def test_the_weights_a_run_reports_come_from_the_last_averaging_part(tiny):
    run = cnnlab.train(**{**tiny, "ema": 0.9, "lookahead": 0.95}, name="both")
    payload = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    ema = payload["training"]["ema"]["average"]
    for name, value in ema.items():
        assert torch.equal(payload["model_state"][name], value)  # the EMA's, not the lookahead's
