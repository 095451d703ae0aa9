"""The run directory: where one training run keeps its settings, metrics, checkpoints and result.

::

    runs/<name>/
      config.json        resolved settings
      environment.json   versions, device, threads, seed, data verification
      metrics.jsonl      {"kind": "step", ...} every log_every steps, {"kind": "epoch", ...} each epoch
      checkpoints/last.pt, checkpoints/best.pt
      curves.png         loss and accuracy curves
      result.json        status (running, finished, failed, interrupted, or pruned: a sweep's trial
                         stopped by its pruner), final and best metrics
      tensorboard/       only with --tensorboard

Runs go to ``--runs-dir``, else ``$CNNLAB_RUNS``, else ``./runs``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cnnlab.atomic import atomic_write_json
from cnnlab.errors import CheckpointError, UsageError

RUNS_ENV = "CNNLAB_RUNS"
STATUSES = ("running", "finished", "failed", "interrupted", "pruned")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


def default_runs_dir(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """``runs_dir`` if given, else ``$CNNLAB_RUNS``, else ``./runs``."""
    return Path(runs_dir or os.environ.get(RUNS_ENV) or "runs")


def safe_run_name(text: str) -> str:
    """``text`` made usable as a folder name (no slashes, spaces or leading dots)."""
    return _SAFE_NAME.sub("-", text).strip("-.") or "run"


class RunDir:
    """Paths and file access of one run directory."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def environment_path(self) -> Path:
        return self.root / "environment.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def result_path(self) -> Path:
        return self.root / "result.json"

    @property
    def curves_path(self) -> Path:
        return self.root / "curves.png"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def tensorboard_dir(self) -> Path:
        return self.root / "tensorboard"

    @classmethod
    def create(cls, runs_dir: Path, name: str, *, exist_ok_suffix: bool) -> RunDir:
        """A new, empty run directory ``runs_dir/name``.

        With ``exist_ok_suffix`` a taken name gets ``-2``, ``-3``, ... (mkdir is atomic, so two
        runs started at once never share a folder); otherwise a taken name is an error.
        """
        runs_dir.mkdir(parents=True, exist_ok=True)
        name = safe_run_name(name)
        for attempt in range(1, 10_000):
            candidate = runs_dir / (name if attempt == 1 else f"{name}-{attempt}")
            try:
                candidate.mkdir()
            except FileExistsError:
                if not exist_ok_suffix:
                    raise UsageError(
                        f"A run named '{name}' already exists in {runs_dir}. Continue it with "
                        f"`cnnlab train --resume {candidate}` or choose another --name."
                    ) from None
                continue
            return cls(candidate)
        raise UsageError(f"Too many runs named '{name}*' in {runs_dir}.")

    @classmethod
    def find(cls, run: str | os.PathLike[str], runs_dir: str | os.PathLike[str] | None = None) -> RunDir:
        """An existing run: a path to its folder, or its name inside the runs directory."""
        for candidate in (Path(run), default_runs_dir(runs_dir) / str(run)):
            if (candidate / "config.json").is_file():
                return cls(candidate)
        raise UsageError(
            f"No run '{run}': neither a run directory nor a run name in {default_runs_dir(runs_dir)} "
            "(see `cnnlab runs list`)."
        )

    def is_run(self) -> bool:
        return self.config_path.is_file()

    def write_json(self, path: Path, obj: Any) -> None:
        atomic_write_json(path, obj)

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"{path} is missing: is {self.root} a complete run directory?") from None
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc}).") from None

    def read_config(self) -> dict[str, Any]:
        return self.read_json(self.config_path)

    def read_result(self) -> dict[str, Any]:
        return self.read_json(self.result_path) if self.result_path.is_file() else {}

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every record of metrics.jsonl; a torn last line (kill -9 mid-write) is skipped."""
        return list(_read_records(self.metrics_path))

    def history(self) -> list[dict[str, Any]]:
        """The per-epoch records, without their "kind" key (as ``Run.history``)."""
        return [
            {k: v for k, v in record.items() if k != "kind"}
            for record in self.read_metrics()
            if record.get("kind") == "epoch"
        ]


class MetricsLog:
    """Appends JSON lines to metrics.jsonl; ``offset()`` marks a point a checkpoint can return to."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def offset(self) -> int:
        """Flush to disk and return the file's length: everything before it is durable."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def truncate(path: Path, offset: int) -> None:
        """Drop the records written after ``offset`` (those of work a resumed run redoes)."""
        size = path.stat().st_size if path.exists() else 0
        if size < offset:
            raise CheckpointError(
                f"{path} is shorter ({size} bytes) than its checkpoint expects ({offset}): the "
                "metrics were lost (disk full or power loss?). Start the run again."
            )
        with open(path, "r+b") as f:
            f.truncate(offset)


def _read_records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
