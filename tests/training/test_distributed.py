"""Data-parallel training (training/distributed.py, training/launch.py): ``cnnlab train --nproc N``.

The multi-process tests start real ranks under torchrun's agent (gloo on the CPU), each with a
hard timeout so that nothing can hang the suite. The reference is a one-process run of the same
settings: with the same seed and global batch the 2-process run is that run up to the order of
floating-point sums.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import cnnlab
from cnnlab.cli import main
from cnnlab.data import BatchLoader
from cnnlab.errors import ConfigError
from cnnlab.runs.index import RunIndex
from cnnlab.training.distributed import FAIL_HOOK_ENV, ONE_PROCESS, Ranks, ShardedLoader

# Whole command lines of the multi-process tests; a run takes ~10-30 s on a loaded 2-core machine.
RUN_TIMEOUT_S = 240
TOLERANCE = 1e-5

# 400 MNIST images in global batches of 16, 2 epochs: 50 steps; flips and crops are drawn per
# global batch (so the same on every rank), then each rank takes its half. 1,500 test images are
# two evaluation batches (1,337 + 163): one a rank.
SETTINGS: dict[str, Any] = {
    "model": "lenet5",
    "dataset": "mnist",
    "subset": 400,
    "test_subset": 1500,
    "batch_size": 16,
    "epochs": 2,
    "crop_padding": 2,
    "flip": True,
    "log_every": 5,
    "checkpoint_every": 7,
    "threads": 2,
    "curves": False,
}


def _flags(settings: dict[str, Any]) -> list[str]:
    flags = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        else:
            flags += [flag, str(value)]
    return flags


def _cnnlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnnlab", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, **(env or {})},
    )


def _weights(run_dir: Path, name: str = "last.pt") -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / name, weights_only=True)["model_state"]


def _max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[key].double() - b[key].double()).abs().max()) for key in a)


def _final(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "result.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    return tmp_path_factory.mktemp("distributed") / "runs"


@pytest.fixture(scope="module")
def data_dir() -> Path:  # module scope (the runs below serve several tests); the ranks read $CNNLAB_DATA
    value = os.environ.get("CNNLAB_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("no real data directory: set CNNLAB_DATA to a folder laid out like ../shared/data")
    return Path(value)


@pytest.fixture(scope="module")
def one_process(runs: Path) -> Path:
    """The reference: the settings on one process (in this process)."""
    run = cnnlab.train(**SETTINGS, runs_dir=str(runs), name="one", progress=False)
    return run.dir


@pytest.fixture(scope="module")
def two_processes(runs: Path) -> Path:
    done = _cnnlab("train", *_flags(SETTINGS), "--runs-dir", str(runs), "--name", "two", "--nproc", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    return runs / "two"


# -- the run is the one-process run ----------------------------------------------------------
def test_two_processes_train_the_one_process_run(one_process: Path, two_processes: Path) -> None:
    assert _final(two_processes)["step"] == _final(one_process)["step"] == 50
    assert _max_difference(_weights(one_process), _weights(two_processes)) < TOLERANCE
    one, two = _final(one_process)["final"], _final(two_processes)["final"]
    assert two["test_accuracy"] == one["test_accuracy"]  # evaluation: each rank half, sums all-reduced
    assert two["train_accuracy"] == one["train_accuracy"]  # all-reduced counts of right answers
    for key in ("train_loss", "test_loss"):
        assert two[key] == pytest.approx(one[key], abs=TOLERANCE)


def test_rank_zero_alone_writes_the_run(one_process: Path, two_processes: Path) -> None:
    environment = json.loads((two_processes / "environment.json").read_text())
    assert environment["distributed"]["world_size"] == 2
    assert environment["distributed"]["backend"] == "gloo"
    assert environment["device"]["threads"] == 1  # --threads 2 shared by 2 processes
    assert json.loads((one_process / "environment.json").read_text())["distributed"]["world_size"] == 1
    one_lines = (one_process / "metrics.jsonl").read_text().splitlines()
    two_lines = (two_processes / "metrics.jsonl").read_text().splitlines()
    assert len(two_lines) == len(one_lines)  # one writer: no record twice
    for a, b in zip(one_lines, two_lines, strict=True):
        a, b = json.loads(a), json.loads(b)
        assert (a.get("kind"), a["step"]) == (b.get("kind"), b["step"])
        if "loss" in a:  # step records: the window's loss, all-reduced over the ranks
            assert b["loss"] == pytest.approx(a["loss"], abs=TOLERANCE)
            assert b["accuracy"] == a["accuracy"]
    rows = RunIndex(two_processes.parent).list()
    assert [row["run_id"] for row in rows].count("two") == 1


# -- killed, resumed with another number of processes ----------------------------------------
def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc: the ranks are the launcher's children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [pid]
    while pending:
        tree.append(pending.pop())
        pending.extend(children.get(tree[-1], []))
    return tree


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def test_killed_run_resumes_with_two_and_with_one(runs: Path, one_process: Path) -> None:
    import signal
    import time

    # Rank 0 freezes itself during step 10 (its last checkpoint: step 7, batch 7 of 25, mid-epoch);
    # then every process of the run, the launcher and both ranks, is SIGKILLed at once.
    command = ["train", *_flags(SETTINGS), "--runs-dir", str(runs), "--name", "killed", "--nproc", "2"]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "cnnlab", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, FAIL_HOOK_ENV: "0:10:stop"},
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while not any(_stopped(pid) for pid in _process_tree(launcher.pid)[1:]):
            assert launcher.poll() is None and time.monotonic() < deadline, "rank 0 never froze"
            time.sleep(0.1)
    finally:
        for pid in _process_tree(launcher.pid):
            os.kill(pid, signal.SIGKILL)
        launcher.wait(timeout=60)
    payload = torch.load(runs / "killed" / "checkpoints" / "last.pt", weights_only=True)
    assert payload["training"]["position"] == {"epoch": 0, "batch": 7, "step": 7}
    assert _final(runs / "killed")["status"] == "running"  # as a crash leaves it
    shutil.copytree(runs / "killed", runs / "killed-1")

    resumed = _cnnlab("train", "--resume", "killed", "--runs-dir", str(runs), "--nproc", "2", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert main(["train", "--resume", str(runs / "killed-1"), "--quiet"]) == 0  # one process

    reference = _final(one_process)["final"]
    for run in ("killed", "killed-1"):
        assert _final(runs / run)["status"] == "finished"
        assert _max_difference(_weights(one_process), _weights(runs / run)) < TOLERANCE
        final = _final(runs / run)["final"]
        assert final["test_accuracy"] == reference["test_accuracy"]
        assert final["train_accuracy"] == reference["train_accuracy"]  # the checkpoint's sums: all ranks'
        assert final["train_loss"] == pytest.approx(reference["train_loss"], abs=TOLERANCE)


# -- a failing rank stops the others -----------------------------------------------------------
@pytest.mark.parametrize(
    ("hook", "cause"),
    [
        ("1:3", f"RuntimeError: test failure injected at step 3 ({FAIL_HOOK_ENV}=1:3)"),
        ("1:3:kill", "it died (SIGKILL)"),
    ],
)
def test_a_failing_rank_stops_the_others(runs: Path, hook: str, cause: str) -> None:
    name = "fails-" + hook.replace(":", "-")
    done = _cnnlab(
        "train", *_flags(SETTINGS), "--runs-dir", str(runs), "--name", name, "--nproc", "2",
        env={FAIL_HOOK_ENV: hook},
    )  # fmt: skip
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "Error" in line]
    expected = f"Error: rank 1 of 2 failed: {cause}; the other 1 rank was stopped."
    assert errors == [expected], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert _final(runs / name)["status"] != "finished"


# -- bad input: one line, exit 2, nothing written ----------------------------------------------
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--nproc", "0"], "--nproc must be at least 1"),
        (["--nproc", "-2"], "--nproc must be at least 1"),
        (["--nproc", "2", "--batch-size", "15"], "--batch-size 15 does not split into 2 processes"),
        (["--nproc", "2", "--device", "mps"], "MPS has no torch.distributed backend"),
        (["--nproc", "2", "--seeds", "0-1"], "--nproc trains one run"),
    ],
)
def test_bad_requests_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    runs = tmp_path / "runs"
    code = main(["train", "--model", "lenet5", "--subset", "64", "--runs-dir", str(runs), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not runs.exists()


def test_nproc_one_is_a_plain_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    tiny = ["--model", "lenet5", "--subset", "64", "--test-subset", "32", "--epochs", "1", "--no-curves"]
    assert main(["train", *tiny, "--runs-dir", str(runs), "--name", "x", "--nproc", "1", "-q"]) == 0
    assert _final(runs / "x")["status"] == "finished"


# -- the pieces ----------------------------------------------------------------------------------
def test_shards_cover_each_global_batch_once(data_dir: Path) -> None:
    from cnnlab.data import load_dataset

    dataset = load_dataset("mnist", split="test").subset(44)
    loader = BatchLoader(dataset, 16, seed=3)
    shards = [ShardedLoader(loader, rank, 3) for rank in range(3)]
    for batch, (inputs, labels) in enumerate(loader.epoch(1)):
        parts = [list(shard.epoch(1))[batch] for shard in shards]
        assert torch.equal(torch.cat([p[0] for p in parts]), inputs)
        assert torch.equal(torch.cat([p[1] for p in parts]), labels)
        assert shards[0].batch_images(batch) == labels.shape[0]
    # the last batch (12 images) splits 4/4/4; its shares weigh 4*3/12 = 1
    assert Ranks(rank=2, world_size=3).share_weight(4, 12) == 1.0
    assert Ranks(rank=0, world_size=3).share_weight(5, 13) == pytest.approx(15 / 13)
    assert ONE_PROCESS.share_weight(7, 16) == 1.0
    with pytest.raises(ConfigError, match="fewer than the 3 processes"):
        ShardedLoader(BatchLoader(dataset.subset(34), 16), 0, 3)  # a last batch of 2 images


def test_test_hook_does_nothing_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAIL_HOOK_ENV, "0:1")
    ONE_PROCESS.test_hook(1)  # no error: the hook only acts in a data-parallel run
    with pytest.raises(RuntimeError, match="test failure injected"):
        Ranks(rank=0, world_size=2).test_hook(1)


def test_ctrl_c_stops_every_rank_with_a_checkpoint(runs: Path) -> None:
    import signal
    import time

    settings = {**SETTINGS, "subset": 2000, "epochs": 3, "checkpoint_every": 1000}
    command = [sys.executable, "-m", "cnnlab", "train", *_flags(settings), "--runs-dir", str(runs)]
    launcher = subprocess.Popen(
        [*command, "--name", "ctrl-c", "--nproc", "2"], stderr=subprocess.PIPE, text=True
    )
    metrics = runs / "ctrl-c" / "metrics.jsonl"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (metrics.is_file() and metrics.read_text().count("\n") >= 2):  # two step records
        assert launcher.poll() is None and time.monotonic() < deadline, "the run ended before Ctrl-C"
        time.sleep(0.1)
    launcher.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends the launcher
    _, stderr = launcher.communicate(timeout=RUN_TIMEOUT_S)
    assert launcher.returncode == 130, stderr[-3000:]
    result = _final(runs / "ctrl-c")
    assert result["status"] == "interrupted"
    assert "Resume with: cnnlab train --resume" in result["error"]
    assert stderr.count("Interrupted: checkpoint at step") == 1  # rank 0's line, once
    assert (runs / "ctrl-c" / "checkpoints" / "last.pt").is_file()


def test_nproc_inside_torchrun_and_resuming_a_finished_run_are_refused(
    two_processes: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["train", "--resume", str(two_processes), "--nproc", "2"]) == 2
    assert "has already finished" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")  # as in a rank torchrun started
    assert main(["train", "--model", "lenet5", "--nproc", "2"]) == 2
    assert "under torchrun leave it out" in capsys.readouterr().err


def test_a_diverging_run_stops_every_rank_with_one_message(runs: Path) -> None:
    settings = {**SETTINGS, "optimizer": "sgd", "lr": 1e4, "schedule": "constant", "epochs": 1}
    done = _cnnlab("train", *_flags(settings), "--runs-dir", str(runs), "--name", "diverges", "--nproc", "2")
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: Training diverged"), done.stderr[-3000:]
    assert _final(runs / "diverges")["status"] == "failed"


def test_batch_norm_ranks_evaluate_rank_zeros_model(runs: Path) -> None:
    """Batch norm on a CPU is per rank in training; the running statistics are rank 0's on every
    rank after each step, so the sharded evaluation (one batch a rank) is that of the checkpoint."""
    from cnnlab.data import load_dataset
    from cnnlab.runs.checkpoint import load_checkpoint, model_from_payload
    from cnnlab.training.evaluation import eval_loader, evaluate

    settings = {"model": "speedrun", "dataset": "mnist", "subset": 256, "test_subset": 1500}
    done = _cnnlab(
        "train", *_flags({**settings, "epochs": 1, "batch_size": 32, "threads": 2, "curves": False}),
        "--runs-dir", str(runs), "--name", "bn", "--nproc", "2", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    payload = load_checkpoint(runs / "bn" / "checkpoints" / "last.pt")
    model = model_from_payload(payload, runs / "bn")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    test = load_dataset("mnist", split="test").subset(1500)
    alone = evaluate(model, eval_loader(test, scale=payload["data"]["scale"], batch_size=1337))
    final = _final(runs / "bn")["final"]
    assert final["test_accuracy"] == alone["accuracy"]
    assert final["test_loss"] == pytest.approx(alone["loss"], abs=1e-6)
