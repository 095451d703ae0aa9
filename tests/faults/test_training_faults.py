"""Training that goes wrong (issue 21): a second process on a live run, a full disk, a loss that
explodes, kill -9 before the first checkpoint, and an index that disagrees with the run folders.

Each test reproduces the fault as a user met it, then checks the one-line message and that the
run can be continued.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import cnnlab
import cnnlab.training
from cnnlab.cli import main
from cnnlab.errors import TrainingError, UsageError
from cnnlab.runs.checkpoint import load_checkpoint
from cnnlab.runs.index import RunIndex
from cnnlab.runs.rundir import RunDir, RunIsRunning

SRC = Path(cnnlab.__file__).resolve().parents[1]


def _python(code: str, **kwargs: Any) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, **kwargs)


def _write_result(run_dir: Path, **changes: Any) -> None:
    path = run_dir / "result.json"
    result = json.loads(path.read_text())
    path.write_text(json.dumps({**result, **changes}))


# -- a second process on a live run ----------------------------------------------------------------
@pytest.fixture
def live_holder():
    """live_holder(run_dir): a process that holds the run's lock (as a training process does) until
    the test ends; returns its pid."""
    holders = []

    def hold(run_dir: Path) -> int:
        code = f"""
            import fcntl, sys, time
            handle = open({str(run_dir / ".lock")!r}, "a+")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            print("locked", flush=True)
            time.sleep(120)
        """
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline().strip() == "locked"
        holders.append(process)
        return process.pid

    yield hold
    for process in holders:
        process.kill()
        process.wait()


def test_resume_of_a_run_whose_process_is_alive_is_refused(tiny, interrupted_run, live_holder, capsys):
    run_dir = interrupted_run(tiny, 4)  # after the checkpoint at step 3
    pid = live_holder(run_dir)
    _write_result(run_dir, status="running", pid=pid, host=socket.gethostname())
    metrics_before = (run_dir / "metrics.jsonl").read_bytes()

    with pytest.raises(RunIsRunning) as caught:
        cnnlab.training.resume(run_dir, progress=False)
    message = str(caught.value)
    assert f"is running (pid {pid} on {socket.gethostname()}), see {run_dir}" in message
    assert (run_dir / "metrics.jsonl").read_bytes() == metrics_before  # not cut back, not appended to

    assert main(["train", "--resume", "cut", "--runs-dir", tiny["runs_dir"]]) == 2
    err = capsys.readouterr().err
    assert "is running" in err and "Traceback" not in err


def test_a_new_run_cannot_take_the_name_of_a_live_one(tiny, interrupted_run, live_holder):
    run_dir = interrupted_run(tiny, 4)  # after the checkpoint at step 3
    pid = live_holder(run_dir)
    _write_result(run_dir, status="running", pid=pid, host=socket.gethostname())
    with pytest.raises(UsageError, match=f"is running \\(pid {pid} on"):
        cnnlab.train(**tiny, name="cut")


def test_the_lock_of_a_killed_process_is_free(tiny, interrupted_run, live_holder):
    run_dir = interrupted_run(tiny, 4)  # after the checkpoint at step 3
    pid = live_holder(run_dir)
    _write_result(run_dir, status="running", pid=pid, host=socket.gethostname())
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    run = cnnlab.training.resume(run_dir, progress=False)  # the OS released the dead one's lock
    assert run.status == "finished"


# -- a full disk -----------------------------------------------------------------------------------
def _disk_full_at_save(monkeypatch, good_saves: int) -> None:
    """Checkpoints write part of their temp file, then fail as a full disk does (ENOSPC)."""
    real_write_bytes, saves = Path.write_bytes, []

    def write_bytes(self, data):
        if not self.name.startswith(".last.pt."):
            return real_write_bytes(self, data)
        saves.append(self)
        if len(saves) <= good_saves:
            return real_write_bytes(self, data)
        real_write_bytes(self, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def _assert_interrupted_by_full_disk(message: str, run_dir: Path, path: Path) -> None:
    assert "\n" not in message
    assert f"Could not write {path} (No space left on device)" in message
    assert f"cnnlab train --resume {run_dir}" in message
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "interrupted" and result["error"] == message
    assert not list(run_dir.rglob("*.partial"))


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_last_one(tiny, monkeypatch):
    _disk_full_at_save(monkeypatch, good_saves=1)  # step 3 is saved, step 6 finds the disk full
    with pytest.raises(TrainingError) as caught:
        cnnlab.train(**tiny, name="full")
    run_dir = Path(tiny["runs_dir"]) / "full"
    _assert_interrupted_by_full_disk(str(caught.value), run_dir, run_dir / "checkpoints" / "last.pt")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["training"]["position"]["step"] == 3

    monkeypatch.undo()  # space was freed
    resumed = cnnlab.training.resume(run_dir, progress=False)
    twin = cnnlab.train(**tiny, name="twin")
    assert resumed.status == "finished" and resumed.final == twin.final


def test_a_full_disk_while_writing_metrics_is_one_line_from_the_cli(tiny, monkeypatch, capsys):
    from cnnlab.runs.rundir import MetricsLog

    real_write, written = MetricsLog.write, []

    def write(self, record):
        written.append(record)
        if len(written) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, record)

    monkeypatch.setattr(MetricsLog, "write", write)
    flags = ["--model", "course-cnn", "--subset", "256", "--test-subset", "128", "--batch-size", "32"]
    flags += ["--epochs", "2", "--log-every", "2", "--checkpoint-every", "3", "--threads", "1"]
    code = main(["train", *flags, "--no-curves", "--runs-dir", tiny["runs_dir"], "--name", "full", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    run_dir = Path(tiny["runs_dir"]) / "full"
    assert "Traceback" not in err and "metrics.jsonl (No space left on device)" in err
    message = json.loads((run_dir / "result.json").read_text())["error"]
    _assert_interrupted_by_full_disk(message, run_dir, run_dir / "metrics.jsonl")


# -- a loss that explodes --------------------------------------------------------------------------
LENET_2000 = {"model": "lenet5", "dataset": "mnist", "subset": 2000, "test_subset": 200, "epochs": 1}


@pytest.mark.parametrize(
    ("optimizer", "lr"), [("sgd", 100.0), ("adam", 1e6)], ids=["sgd-lr100", "adam-lr1e6"]
)
def test_an_exploding_loss_stops_the_run_as_a_nan_does(tmp_path, optimizer, lr):
    settings = {**LENET_2000, "optimizer": optimizer, "lr": lr, "schedule": "constant"}
    with pytest.raises(TrainingError) as caught:
        cnnlab.train(**settings, threads=1, curves=False, runs_dir=str(tmp_path), progress=False, name="x")
    message = str(caught.value)
    assert message.startswith("Training diverged: the loss became ")
    assert "times the first step's loss" in message and "at step " in message
    assert f"with learning rate {lr:.4g}" in message and "Try a lower learning rate (e.g. --lr " in message
    result = json.loads((tmp_path / "x" / "result.json").read_text())
    assert result["status"] == "failed" and result["error"] == message


def test_the_divergence_guard_lets_a_one_cycle_run_with_a_high_peak_finish(tiny):
    # One-cycle at a high peak lr: the loss rises above its first value mid-run, but does not explode.
    run = cnnlab.train(**{**tiny, "optimizer": "sgd", "lr": 0.5, "schedule": "onecycle"}, name="peak")
    assert run.status == "finished"


def test_the_guard_state_is_in_checkpoints(tiny, interrupted_run):
    run_dir = interrupted_run(tiny, 4)  # after the checkpoint at step 3
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["training"]["divergence"]
    assert 2.0 < state["first_loss"] < 2.6  # the cross-entropy of an untrained 10-class model


# -- kill -9 before the first checkpoint -----------------------------------------------------------
def _killed_before_first_checkpoint(settings: dict[str, Any], name: str) -> Path:
    code = f"""
        import os, signal
        import cnnlab
        from cnnlab.training import Reporter

        class KillAtStep2(Reporter):
            steps = 0
            def step(self, images, stats):
                self.steps += 1
                if self.steps == 2:
                    os.kill(os.getpid(), signal.SIGKILL)

        settings = {dict(settings, progress=None)!r}
        settings["progress"] = KillAtStep2()
        cnnlab.train(**settings, name={name!r})
    """
    done = _python(code, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    run_dir = Path(settings["runs_dir"]) / name
    assert not (run_dir / "checkpoints" / "last.pt").exists()
    return run_dir


def test_a_run_killed_before_its_first_checkpoint_can_be_started_again(tiny, capsys):
    run_dir = _killed_before_first_checkpoint({**tiny, "checkpoint_every": 0}, "early")
    assert json.loads((run_dir / "result.json").read_text())["status"] == "running"  # as the kill left it

    with pytest.raises(UsageError) as caught:
        cnnlab.train(**tiny, name="early")
    assert f"`cnnlab train --resume {run_dir}` starts it again from the beginning" in str(caught.value)

    assert main(["train", "--resume", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    twin = cnnlab.train(**{**tiny, "checkpoint_every": 0}, name="twin")
    assert result["status"] == "finished" and result["final"] == twin.final
    assert len(RunDir(run_dir).history()) == tiny["epochs"]  # metrics.jsonl started over, not appended


# -- the index and the folders ---------------------------------------------------------------------
def test_a_dead_running_run_shows_as_interrupted_with_its_resume_command(tiny, capsys):
    run_dir = _killed_before_first_checkpoint({**tiny, "checkpoint_every": 0}, "dead")
    rows = {row["run_id"]: row for row in RunIndex(Path(tiny["runs_dir"])).list()}
    assert rows["dead"]["status"] == "interrupted"
    assert f"cnnlab train --resume {run_dir}" in rows["dead"]["result"]["error"]

    assert main(["runs", "show", "dead", "--runs-dir", tiny["runs_dir"]]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "dead: interrupted" in out and f"cnnlab train --resume {run_dir}" in out
    assert main(["runs", "list", "--status", "interrupted", "--runs-dir", tiny["runs_dir"], "--json"]) == 0
    assert [row["run_id"] for row in json.loads(capsys.readouterr().out)] == ["dead"]


def test_a_run_folder_without_an_index_row_is_listed(tiny):
    run = cnnlab.train(**tiny, name="indexed")
    index = RunIndex(Path(tiny["runs_dir"]))
    with index._connect(write=True) as db:  # as if killed while it waited for the index's lock
        db.execute("DELETE FROM runs WHERE run_id = ?", ("indexed",))
    rows = index.list()
    assert [row["run_id"] for row in rows] == ["indexed"] and rows[0]["status"] == "finished"
    assert index.get("indexed")["test_accuracy"] == run.final["test_accuracy"]
