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
      .lock              held (fcntl.flock) by the process that trains the run

Runs go to ``--runs-dir``, else ``$CNNLAB_RUNS``, else ``./runs``.

One process at a time writes a run folder: the one that holds ``.lock``. The operating system
releases the lock when that process ends, however it ends (kill -9 included), so a run whose lock
is free is not running, whatever its result.json last said; :meth:`RunDir.read_result` then
reports it as "interrupted", with the command that continues it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cnnlab.atomic import atomic_write_json
from cnnlab.errors import CheckpointError, UsageError

try:
    import fcntl
except ImportError:  # Windows: no flock; result.json's pid is then the only sign of a live run
    fcntl = None

RUNS_ENV = "CNNLAB_RUNS"
STATUSES = ("running", "finished", "failed", "interrupted", "pruned", "damaged")  # damaged: unreadable files
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")
LOCK_NAME = ".lock"
# A process that finds the lock taken tries again for this long: a reader that probes whether a
# run is alive holds the lock for microseconds, and must not make a starting run give up.
LOCK_RETRY_S = 1.0


class RunIsRunning(UsageError):
    """Another process is training this run; it must not be resumed or written by a second one."""


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

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

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
                    raise UsageError(cls(candidate).taken_message()) from None
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

    def taken_message(self) -> str:
        """Why a new run cannot have this run's name, and what can be done with the old one."""
        taken = f"A run named '{self.name}' already exists in {self.root.parent}"
        if not self.config_path.is_file():
            return (
                f"{taken} but is not a complete run: it has no config.json (stopped as it started?), "
                f"so `cnnlab train --resume` cannot continue it. Delete {self.root} or choose another --name."
            )
        result = self.read_result()
        status = result.get("status")
        if status == "running":
            return f"{taken} and {running_message(self, result)}"
        if status == "finished":
            return f"{taken} and has finished (see `cnnlab runs show {self.root}`). Choose another --name."
        if not self.last_checkpoint.is_file():
            return (
                f"{taken}; it stopped before its first checkpoint. `cnnlab train --resume {self.root}` "
                "starts it again from the beginning with its own settings, or choose another --name."
            )
        return f"{taken}. Continue it with `cnnlab train --resume {self.root}` or choose another --name."

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's lock while training it; :class:`RunIsRunning` if another process has it."""
        if fcntl is None:
            yield
            return
        handle = open(self.lock_path, "a+")  # noqa: SIM115 (closed below; holding it is the lock)
        try:
            if not _try_lock(handle, LOCK_RETRY_S):
                raise RunIsRunning(running_message(self, self.read_json_if_any(self.result_path)))
            yield
        finally:
            handle.close()  # releases the lock

    def is_live(self, result: dict[str, Any]) -> bool:
        """Is a process training this run now? Its lock says so; a run without a lock file (an older
        cnnlab's) is live while result.json's pid is alive on this host."""
        if fcntl is not None and self.lock_path.is_file():
            try:
                with open(self.lock_path, "a+") as handle:
                    return not _try_lock(handle, 0.0)
            except OSError:
                return True  # cannot tell: do not call a run dead
        if result.get("host") != socket.gethostname() or not result.get("pid"):
            return True  # another machine's run, or no pid: cannot tell
        return process_alive(int(result["pid"]))

    def read_json_if_any(self, path: Path) -> dict[str, Any]:
        try:
            return self.read_json(path)
        except CheckpointError:
            return {}

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
        """result.json; a run that says "running" but whose process is gone reads "interrupted",
        with the command that continues it as its error."""
        result = self.read_json(self.result_path) if self.result_path.is_file() else {}
        if (
            result.get("status", "running") == "running"
            and self.config_path.is_file()
            and not self.is_live(result)
        ):
            result = {**result, "status": "interrupted", "error": self._ended_unclosed_message(result)}
        return result

    def _ended_unclosed_message(self, result: dict[str, Any]) -> str:
        pid = f" (pid {result['pid']})" if result.get("pid") else ""
        if self.last_checkpoint.is_file():
            what = "Resume it from its last checkpoint with"
        else:
            what = "It had no checkpoint yet; start it again from the beginning with"
        return (
            f"The process that trained this run{pid} ended without closing it (killed?). "
            f"{what}: cnnlab train --resume {self.root}"
        )

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


def running_message(run_dir: RunDir, result: dict[str, Any]) -> str:
    """ "... is running (pid N on HOST), see DIR": for a run another process is training."""
    where = ""
    if result.get("pid"):
        where = f" (pid {result['pid']} on {result.get('host') or 'this machine'})"
    return (
        f"Run {run_dir.name} is running{where}, see {run_dir.root}. Wait for it to end, or stop it "
        "(Ctrl-C in its terminal saves a checkpoint), then resume it."
    )


def process_alive(pid: int) -> bool:
    """Does a process with this id exist on this machine?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def _try_lock(handle: IO[str], patience_s: float) -> bool:
    """Take an exclusive flock on ``handle`` within ``patience_s`` seconds; True if taken."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


class MetricsLog:
    """Appends JSON lines to metrics.jsonl; ``offset()`` marks a point a checkpoint can return to."""

    def __init__(self, path: Path):
        self.path = path
        # Line-buffered: each record reaches the file as it is written, so the web lab's live
        # curves and `runs show` see it at once (block buffering held ~40 step lines, seconds or
        # minutes of training, until the next checkpoint flushed them). One write per record.
        self._file: IO[str] = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed by close())

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


def locate_run(run: str | os.PathLike[str], runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """What a command that takes RUN was given, as a path: an existing file or folder as it is (a
    checkpoint, a run directory), else the run of that name in the runs directory, found as
    ``cnnlab runs show`` finds it (:meth:`RunDir.find`, whose error lists where it looked)."""
    path = Path(run).expanduser()
    if path.exists():
        return path
    return RunDir.find(run, runs_dir).root
