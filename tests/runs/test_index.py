"""The SQLite index: concurrent writers all land; a missing or corrupt index is rebuilt from the runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from cnnlab.runs.index import INDEX_NAME, RunIndex
from cnnlab.runs.rundir import RunDir

WRITER = """
import sys, time
from pathlib import Path
from cnnlab.runs.index import RunIndex
from cnnlab.runs.rundir import RunDir
runs, prefix, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
index = RunIndex(runs)
(runs.parent / f"ready-{prefix}").touch()
while not (runs.parent / "go").exists():  # start together with the other writers
    time.sleep(0.005)
for i in range(count):
    run = RunDir.create(runs, f"{prefix}-{i}", exist_ok_suffix=False)
    run.write_json(run.config_path, {"model": "m", "dataset": "d", "seed": i, "epochs": 1, "group": prefix})
    run.write_json(run.result_path, {"status": "finished", "final": {"test_accuracy": i / 100}})
    index.update(run)
"""


def make_run(runs: Path, name: str, status: str = "finished", **result) -> RunDir:
    run = RunDir.create(runs, name, exist_ok_suffix=False)
    run.write_json(run.config_path, {"model": "lenet5", "dataset": "mnist", "seed": 0, "epochs": 2})
    run.write_json(run.result_path, {"status": status, "final": {"test_accuracy": 0.9}, **result})
    return run


def test_two_processes_and_a_thread_write_at_once_and_every_row_lands(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(runs), f"proc{k}", "30"], env=env)
        for k in range(2)
    ]
    thread = threading.Thread(target=_write_in_thread, args=(runs,))
    thread.start()
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-proc{k}").exists() for k in range(2)) and time.monotonic() < deadline:
        time.sleep(0.005)
    (tmp_path / "go").touch()
    read_counts = [len(RunIndex(runs).list()) for _ in range(20)]  # a reader alongside the writers
    thread.join()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    rows = RunIndex(runs).list()
    assert len(rows) == 90
    assert {row["group"] for row in rows} == {"proc0", "proc1", "thread"}
    assert read_counts == sorted(read_counts)  # readers see rows appear, never vanish
    assert RunIndex(runs).get("proc1-29")["test_accuracy"] == 0.29


def _write_in_thread(runs: Path) -> None:
    index = RunIndex(runs)
    while not (runs.parent / "go").exists():
        time.sleep(0.005)
    for i in range(30):
        run = RunDir.create(runs, f"thread-{i}", exist_ok_suffix=False)
        run.write_json(
            run.config_path, {"model": "m", "dataset": "d", "seed": i, "epochs": 1, "group": "thread"}
        )
        run.write_json(run.result_path, {"status": "finished", "final": {"test_accuracy": i / 100}})
        index.update(run)


def test_missing_index_is_rebuilt_from_the_run_directories(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "a")
    make_run(runs, "b", status="failed", error="diverged")
    rows = {row["run_id"]: row for row in RunIndex(runs).list()}
    assert set(rows) == {"a", "b"}
    assert rows["b"]["status"] == "failed" and rows["b"]["result"]["error"] == "diverged"
    assert rows["a"]["test_accuracy"] == 0.9


def test_corrupt_index_is_set_aside_and_rebuilt(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "a")
    index = RunIndex(runs)
    index.update(RunDir(runs / "a"))
    (runs / INDEX_NAME).write_bytes(b"this is not an SQLite database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{runs / INDEX_NAME}{suffix}").unlink(missing_ok=True)
    assert [row["run_id"] for row in RunIndex(runs).list()] == ["a"]
    assert len(list(runs.glob(f"{INDEX_NAME}.corrupt-*"))) == 1


def test_running_run_whose_process_is_gone_reads_interrupted(tmp_path):
    runs = tmp_path / "runs"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    import socket

    make_run(runs, "killed", status="running", pid=int(dead.stdout), host=socket.gethostname())
    make_run(runs, "alive", status="running", pid=os.getpid(), host=socket.gethostname())
    rows = {row["run_id"]: row["status"] for row in RunIndex(runs).list()}
    assert rows == {"killed": "interrupted", "alive": "running"}
    assert json.loads((runs / "killed" / "result.json").read_text())["status"] == "running"  # files untouched
