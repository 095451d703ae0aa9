"""Training from the page: ``cnnlab train`` subprocesses, one at a time, in a queue.

Each job is the command a user could type (``python -m cnnlab train ... --runs-dir DIR``), run in
its own session so that the server's Ctrl-C is not the run's. Stop sends SIGINT, what Ctrl-C does:
the trainer finishes its step, saves a checkpoint and exits with 130; the run can then be resumed
(a job of ``cnnlab train --resume RUN``). The server only reads what the run writes.

A job's status comes from the exit code and, for a stopped one, from the run itself: a Stop that
arrives while the trainer is already shutting down after its last epoch interrupts nothing, so the
job of a run whose result says "finished" is finished, whatever the exit code.
"""

from __future__ import annotations

import contextlib
import itertools
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.runs.rundir import RunDir

INTERRUPTED_EXIT = 130
LOG_TAIL_BYTES = 4000
STOP_WAIT_S = 60.0


@dataclass
class Job:
    """One queued, running or ended ``cnnlab train``."""

    id: int
    run: str
    args: list[str]  # after ``cnnlab``
    log_path: Path
    status: str = "queued"  # queued, running, finished, failed, stopped, cancelled
    returncode: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def command(self) -> str:
        return shlex.join(["cnnlab", *self.args])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run": self.run,
            "command": self.command,
            "status": self.status,
            "returncode": self.returncode,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "log": self.log_tail(),
        }

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, self.log_path.stat().st_size - LOG_TAIL_BYTES))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class TrainQueue:
    """Runs submitted jobs one after another in a worker thread."""

    def __init__(self, log_dir: Path, runs_dir: Path | None = None):
        self.log_dir = log_dir
        self.runs_dir = runs_dir  # where the jobs' runs are, to read how a stopped one ended
        self._jobs: dict[int, Job] = {}
        self._pending: deque[Job] = deque()
        self._ids = itertools.count(1)
        self._wake = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="cnnlab-train-queue", daemon=True)
        self._worker.start()

    def submit(self, run: str, args: list[str]) -> Job:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._wake:
            job_id = next(self._ids)
            job = Job(job_id, run, list(args), self.log_dir / f"job-{job_id}.log")
            self._jobs[job_id] = job
            self._pending.append(job)
            self._wake.notify()
        return job

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda job: job.id, reverse=True)

    def busy_runs(self) -> set[str]:
        """Runs with a queued or running job (not to be resumed or named twice)."""
        return {job.run for job in self._jobs.values() if job.status in ("queued", "running")}

    def stop(self, job_id: int) -> Job | None:
        """Cancel a queued job; send SIGINT (Ctrl-C) to a running one."""
        with self._wake:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.status == "queued":
                self._pending.remove(job)
                job.status, job.ended = "cancelled", time.time()
            elif job.status == "running" and job.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    job.process.send_signal(signal.SIGINT)
        return job

    def close(self) -> None:
        """Cancel what waits; stop the running job as Ctrl-C would, and wait for its checkpoint."""
        with self._wake:
            self._closed = True
            for job in self._pending:
                job.status = "cancelled"
            self._pending.clear()
            running = [job for job in self._jobs.values() if job.status == "running"]
            self._wake.notify_all()
        for job in running:
            self.stop(job.id)
            if job.process is not None:
                try:
                    job.process.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    job.process.kill()
        self._worker.join(timeout=5)

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                job.status, job.started = "running", time.time()
                with open(job.log_path, "wb") as log:
                    job.process = subprocess.Popen(
                        [sys.executable, "-m", "cnnlab", *job.args],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # the server's Ctrl-C is not the run's
                    )
            job.returncode = job.process.wait()
            job.ended = time.time()
            job.status = ended_status(job.returncode, self._run_status(job.run))

    def _run_status(self, run: str) -> str | None:
        if self.runs_dir is None:
            return None
        run_dir = RunDir(self.runs_dir / run)
        return run_dir.read_json_if_any(run_dir.result_path).get("status")


def ended_status(returncode: int, run_status: str | None) -> str:
    """A job's status from its exit code and its run's status on disk (None: not known)."""
    if returncode == 0 or run_status == "finished":
        return "finished"
    return "stopped" if returncode == INTERRUPTED_EXIT else "failed"
