"""Several worker processes on one study: a worker killed mid-trial (SIGKILL), then the whole sweep
killed and started again; the study ends with exactly the trials asked for. On SQLite, and on the
real PostgreSQL server (CI runs it; elsewhere it skips with the reason)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnnlab.sweeps.report import sweep_state
from cnnlab.sweeps.storage import default_storage, open_storage

SRC = Path(__file__).resolve().parents[2] / "src"
TRIALS = 4


def sweep_command(name: str, tiny: dict[str, Any], storage: str) -> list[str]:
    fixed = [f"--{key.replace('_', '-')}={value}" for key, value in tiny.items() if key != "curves"]
    return [
        sys.executable, "-m", "cnnlab", "sweep", name, "--param", "lr=log:1e-3:3e-2", *fixed, "--no-curves",
        "--epochs", "2", "--trials", str(TRIALS), "--workers", "2", "--storage", storage, "--heartbeat", "2",
        "--pruner", "none", "--final-seeds", "0",
    ]  # fmt: skip


def start(command: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        # Its own session: the sweep and its workers form one process group, killed together below.
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True
        )


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def running_trial(study_name: str, storage: str, deadline_s: float) -> Any:
    """The first trial that a worker is training (it has recorded its pid), polled for."""
    opened = open_storage(storage)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name=study_name, storage=opened).get_trials(
                deepcopy=False, states=(TrialState.RUNNING,)
            )
        except KeyError:  # the sweep has not created its study yet
            trials = []
        for trial in trials:
            if "worker" in trial.user_attrs and "run" in trial.user_attrs:
                return trial
        time.sleep(0.05)
    raise AssertionError(f"no trial started within {deadline_s} s")


def kill_worker_then_sweep_then_resume(name: str, tiny: dict[str, Any], storage: str, tmp_path: Path) -> Any:
    log = tmp_path / "sweep.log"
    command = sweep_command(name, tiny, storage)
    sweep = start(command, log)
    try:
        victim = running_trial(name, storage, deadline_s=240)
        shown = sweep_state(name, storage)  # what --show prints, read while the sweep runs
        assert shown["trials"][victim.number]["state"] == "running" and shown["counts"]["running"] >= 1
        os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)  # mid-trial
        time.sleep(1.0)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)  # then the sweep and its other worker
        sweep.wait()
    resumed = start(command, log)
    assert resumed.wait(timeout=600) == 0, log.read_text()[-3000:]
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    states = [t.state for t in study.trials]
    assert sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states) == TRIALS, log.read_text()
    # The killed worker's trial was failed once its heartbeat went stale, and retried with its lr.
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == victim.number]
    assert retries and retries[0].params == killed.params and retries[0].state == TrialState.COMPLETE
    return study


def test_sqlite_worker_killed_and_sweep_resumed(tiny: dict[str, Any], tmp_path: Path):
    storage = default_storage(tiny["runs_dir"])
    Path(tiny["runs_dir"]).mkdir(parents=True)
    study = kill_worker_then_sweep_then_resume("killed", tiny, storage, tmp_path)
    runs = Path(tiny["runs_dir"])
    finished = [t.user_attrs["run"] for t in study.trials if t.state == TrialState.COMPLETE]
    assert all((runs / run / "result.json").is_file() for run in finished)
    assert (runs / "sweeps" / "killed" / "report.md").is_file()


def test_postgresql_worker_killed_and_sweep_resumed(
    tiny: dict[str, Any], tmp_path: Path, postgres_url: str, fresh_name: str
):
    try:
        kill_worker_then_sweep_then_resume(fresh_name, tiny, postgres_url, tmp_path)
    finally:
        with contextlib.suppress(KeyError):  # a study never created has nothing to delete
            optuna.delete_study(study_name=fresh_name, storage=open_storage(postgres_url))
