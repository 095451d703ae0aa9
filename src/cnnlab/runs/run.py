"""A training run as a Python object: its directory, settings, history, result and model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from cnnlab.runs.rundir import RunDir

# History entries that are bookkeeping, not something to read in a table.
_NOT_SHOWN = ("kind", "step", "images_per_s")


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

    def history_table(self) -> tuple[list[str], list[list[Any]]]:
        """The history as columns and rows (one an epoch), for the displays below."""
        from cnnlab.display import record_table

        columns, rows = record_table(self.history)
        keep = [i for i, c in enumerate(columns) if c not in _NOT_SHOWN]
        return [columns[i] for i in keep], [[row[i] for i in keep] for row in rows]

    def headline(self) -> str:
        from cnnlab.training.progress import format_metric

        final = self.final
        shown = [format_metric(k, final[k]) for k in ("test_accuracy", "test_loss") if k in final]
        about = f"{self.config.get('model')} on {self.config.get('dataset')}"
        return f"{self.name}: {self.status}, {about}" + (f"; {', '.join(shown)}" if shown else "")

    def _repr_html_(self) -> str:
        """In a notebook: the history table and the learning curves (``curves.png``)."""
        from cnnlab.display import escape, file_img, html_table

        columns, rows = self.history_table()
        table = html_table(columns, rows, right=columns[1:]) if rows else "<div>(no epoch finished)</div>"
        curves = file_img(self.dir / "curves.png", "learning curves") if rows else ""
        header = f"<div><b>{escape(self.headline())}</b></div><div><small>{escape(self.dir)}</small></div>"
        return header + table + curves

    def __repr__(self) -> str:
        from cnnlab.display import text_table

        columns, rows = self.history_table()
        table = text_table(columns, rows) if rows else "(no epoch finished)"
        return "\n".join([self.headline(), str(self.dir), table])

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
