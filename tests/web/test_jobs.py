"""Training from the page: a `cnnlab train` subprocess from the queue, Stop as Ctrl-C, Resume."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from cnnlab.web.app import SERVER_NICENESS, create_app, lower_priority
from cnnlab.web.jobs import INTERRUPTED_EXIT, TrainQueue, ended_status

TINY = {"model": "lenet5", "dataset": "mnist", "subset": 512, "test_subset": 128, "batch_size": 64}


def wait_for(condition, timeout: float = 120.0, what: str = "the job"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ended(client, job_id: int) -> dict | None:
    """The job once it is no longer queued or running, else None."""
    job = next(job for job in client.get("/api/jobs").json() if job["id"] == job_id)
    return job if job["status"] not in ("queued", "running") else None


def first_epoch_done(client, run: str) -> bool:
    response = client.get(f"/api/runs/{run}")
    return response.status_code == 200 and bool(response.json().get("history"))


@pytest.mark.slow
def test_a_run_started_from_the_page_trains_stops_like_ctrl_c_and_resumes(client):
    # Enough epochs (of 8 steps each) that the Stop sent after the first lands inside the run on a
    # fast machine too; a Stop after the last epoch would find the run finished (see below).
    epochs = 12
    job = client.post("/api/train", json={**TINY, "epochs": epochs, "name": "from the page"}).json()
    assert job["run"] == "from-the-page" and job["status"] in ("queued", "running")
    assert job["command"].startswith("cnnlab train --model lenet5 --dataset mnist --name from-the-page")
    # Stop once an epoch is on disk: SIGINT, the trainer saves a checkpoint and exits 130.
    wait_for(lambda: first_epoch_done(client, "from-the-page"), what="the first epoch")
    client.post(f"/api/jobs/{job['id']}/stop")
    stopped = wait_for(lambda: ended(client, job["id"]), what="the stop")
    assert stopped["status"] == "stopped" and stopped["returncode"] == 130, stopped["log"]
    detail = client.get("/api/runs/from-the-page").json()
    assert detail["status"] == "interrupted" and detail["has_checkpoint"]
    assert len(detail["history"]) < epochs
    # Resume: a new job of `cnnlab train --resume`, which goes on to the end.
    resumed = client.post("/api/runs/from-the-page/resume").json()
    assert "--resume" in resumed["command"]
    assert client.post("/api/runs/from-the-page/resume").status_code == 409  # already queued
    finished = wait_for(lambda: ended(client, resumed["id"]), timeout=300, what="the resumed run")
    assert finished["status"] == "finished", finished["log"]
    detail = client.get("/api/runs/from-the-page").json()
    assert detail["status"] == "finished"
    assert [h["epoch"] for h in detail["history"]] == list(range(1, epochs + 1))
    listed = {r["run_id"]: r for r in client.get("/api/runs").json()["runs"]}
    assert listed["from-the-page"]["status"] == "finished"


def test_a_stop_that_arrives_after_the_last_epoch_leaves_the_job_finished():
    # The trainer wrote "finished", then Ctrl-C hit its shutdown: exit 130, but nothing was stopped.
    assert ended_status(INTERRUPTED_EXIT, "finished") == "finished"
    assert ended_status(INTERRUPTED_EXIT, "interrupted") == "stopped"
    assert ended_status(INTERRUPTED_EXIT, None) == "stopped"
    assert ended_status(0, None) == "finished"
    assert ended_status(1, "failed") == ended_status(1, None) == "failed"


def test_the_queue_reads_how_a_stopped_run_ended_from_the_run_itself(tmp_path):
    queue = TrainQueue(tmp_path / "jobs", runs_dir=tmp_path)
    try:
        (tmp_path / "done").mkdir()
        (tmp_path / "done" / "result.json").write_text('{"status": "finished"}')
        assert queue._run_status("done") == "finished"
        assert queue._run_status("never-started") is None  # no folder yet: not known
    finally:
        queue.close()


def test_a_queued_job_can_be_cancelled_and_names_never_collide(client):
    first = client.post("/api/train", json={**TINY, "epochs": 1, "name": "lenet"}).json()
    assert first["run"] == "lenet-2"  # "lenet" is taken by the fixture's run
    second = client.post("/api/train", json={**TINY, "epochs": 1, "name": "lenet"}).json()
    assert second["run"] == "lenet-3"
    cancelled = client.post(f"/api/jobs/{second['id']}/stop").json()
    assert cancelled["status"] == "cancelled"
    client.post(f"/api/jobs/{first['id']}/stop")
    assert client.post("/api/jobs/999/stop").status_code == 404


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_the_server_runs_niced_and_the_runs_it_starts_keep_the_users_priority(runs_dir):
    app = create_app(runs_dir)
    seen = {}

    def serve() -> None:  # a thread of its own: the nice value stays with it, not with pytest's
        seen["before"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["lowered"] = lower_priority(app)
        seen["server"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    queue = app.state.lab.queue
    try:
        worker = os.getpriority(os.PRIO_PROCESS, queue._worker.native_id)
        assert seen["lowered"] and seen["server"] == min(19, seen["before"] + SERVER_NICENESS)
        assert worker == seen["before"]  # the `cnnlab train` processes it starts inherit this
    finally:
        queue.close()
