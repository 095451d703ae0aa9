"""A training run as a Python object: its directory, settings, history, result and model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from cnnlab.runs.rundir import RunDir


@dataclass
class Run:
    """What :func:`cnnlab.train` returns, and what :meth:`Run.open` reads back from disk.

    ``history`` is one dict a completed epoch (like Keras's ``History``): ``epoch``, ``step``,
    ``lr``, ``train_loss``, ``train_accuracy``, ``val_*`` and ``test_*`` where evaluated, and
    ``time_s`` / ``images_per_s``. ``result`` is ``result.json``: status, final and best metrics.
    """

    dir: Path
    config: dict[str, Any]
    history: list[dict[str, Any]]
    result: dict[str, Any]
    model: nn.Module | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def status(self) -> str:
        return self.result.get("status", "running")

    @property
    def final(self) -> dict[str, Any]:
        """The metrics after the last epoch."""
        return dict(self.result.get("final") or {})

    def metric(self, key: str) -> list[Any]:
        """One metric across epochs, e.g. ``run.metric("test_accuracy")`` (None where absent)."""
        return [record.get(key) for record in self.history]

    @classmethod
    def open(
        cls,
        run: str | os.PathLike[str],
        runs_dir: str | os.PathLike[str] | None = None,
        *,
        load_model: bool = True,
    ) -> Run:
        """Read a run directory (a path, or a run name in the runs directory).

        The model is rebuilt from ``checkpoints/last.pt`` (the final weights) when the run used a
        registry model; for a user's own ``nn.Module`` it is None: build the module and load
        ``cnnlab.runs.load_checkpoint(path)["model_state"]`` into it.
        """
        from cnnlab.runs.checkpoint import load_checkpoint_model

        run_dir = RunDir.find(run, runs_dir)
        model = None
        if load_model and run_dir.last_checkpoint.is_file():
            model = load_checkpoint_model(run_dir.last_checkpoint)
        return cls(
            dir=run_dir.root,
            config=run_dir.read_config(),
            history=run_dir.history(),
            result=run_dir.read_result(),
            model=model,
        )
