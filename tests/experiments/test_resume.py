"""``run_experiment(resume=DIR)`` / ``cnnlab experiment NAME --resume DIR``: an interrupted experiment
continued in its folder ends with the numbers of an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnlab.errors import UsageError
from cnnlab.experiments import run_experiment
from cnnlab.experiments.runner import ExperimentInterrupted
from cnnlab.training import TIMING_KEYS, api

from ..conftest import CtrlCAtStep  # a real SIGINT during its n-th step: one reporter for every run
from .conftest import TINY, read_finished

# Cells' entries that depend on the clock, not on the training.
CLOCK_KEYS = ("time_s",)


def _learning(cells: dict) -> dict:
    """results.json's cells without their wall-clock entries."""
    without_clock = lambda record: {k: v for k, v in record.items() if k not in TIMING_KEYS}  # noqa: E731
    return {
        label: {
            **{k: v for k, v in cell.items() if k not in (*CLOCK_KEYS, "history")},
            "history": [[without_clock(record) for record in history] for history in cell["history"]],
        }
        for label, cell in cells.items()
    }


def _interrupt(monkeypatch, directory: Path, at: int) -> ExperimentInterrupted:
    # 256 images at batch 64: 4 steps a run; FC's two seeds are steps 1-8, CNN seed 0 steps 9-12.
    reporter = CtrlCAtStep(at)
    with monkeypatch.context() as patch:
        patch.setattr(api, "make_reporter", lambda progress: reporter)
        with pytest.raises(ExperimentInterrupted) as stopped:
            run_experiment(TINY, quick=True, out=directory, progress=False)
    return stopped.value


def test_an_interrupted_experiment_resumed_equals_an_uninterrupted_one(
    tiny_experiment, fixed_speed, tmp_path, monkeypatch
):
    reference = read_finished(run_experiment(TINY, quick=True, out=tmp_path / "whole", progress=False).dir)
    cut = tmp_path / "cut"
    stopped = _interrupt(monkeypatch, cut, at=10)
    assert f"cnnlab experiment {TINY} --quick --seeds 2 --resume {cut}" in str(stopped)
    assert "1 of 2 cells done" in str(stopped)
    partial = json.loads((cut / "results.json").read_text())
    assert partial["status"] == "interrupted" and list(partial["cells"]) == ["FC"]
    assert partial["resume_command"] == f"cnnlab experiment {TINY} --quick --seeds 2 --resume {cut}"
    runs = cut / "runs"
    assert json.loads((runs / "cnn-seed0" / "result.json").read_text())["status"] == "interrupted"
    assert (runs / "cnn-seed0" / "checkpoints" / "last.pt").is_file()
    assert not (runs / "cnn-seed1").exists()
    fc_checkpoint = (runs / "fc-seed0" / "checkpoints" / "last.pt").stat().st_mtime_ns

    result = run_experiment(TINY, quick=True, resume=cut, progress=False)
    resumed = read_finished(result.dir)
    assert resumed.results["status"] == "finished" and resumed.results["resumed"] is True
    assert _learning(resumed.results["cells"]) == _learning(reference.results["cells"])
    assert resumed.results["comparisons"] == reference.results["comparisons"]
    assert resumed.results["course"] == reference.results["course"]
    assert (runs / "fc-seed0" / "checkpoints" / "last.pt").stat().st_mtime_ns == fc_checkpoint  # reused
    cnn = json.loads((runs / "cnn-seed0" / "metrics.jsonl").read_text().splitlines()[-1])
    assert cnn["step"] == 4  # resumed in its own folder, not started again under another name
    for label in ("FC", "CNN"):
        assert resumed.table_row(label).split("|")[2:4] == reference.table_row(label).split("|")[2:4]


def test_resume_refuses_another_size_seeds_or_experiment(tiny_experiment, fixed_speed, tmp_path, monkeypatch):
    cut = tmp_path / "cut"
    _interrupt(monkeypatch, cut, at=2)
    with pytest.raises(UsageError, match=r"quick True there, False here.*--quick --seeds 2 --resume"):
        run_experiment(TINY, quick=False, resume=cut, progress=False)
    with pytest.raises(UsageError, match=r"seeds \[0, 1\] there, \[0, 1, 2\] here"):
        run_experiment(TINY, quick=True, seeds=3, resume=cut, progress=False)
    with pytest.raises(UsageError, match="experiment 'tiny-fc' there, 'fc-vs-cnn' here"):
        run_experiment("fc-vs-cnn", quick=True, seeds=2, resume=cut, progress=False)
    with pytest.raises(UsageError, match="no readable results.json"):
        run_experiment(TINY, quick=True, resume=tmp_path / "nothing", progress=False)
    with pytest.raises(UsageError, match="give no --out"):
        run_experiment(TINY, quick=True, resume=cut, out=tmp_path / "other", progress=False)


def test_a_killed_experiment_can_be_resumed(tiny_experiment, fixed_speed, tmp_path, monkeypatch):
    """kill -9 writes nothing at the end: results.json from the start, and the run folders, suffice."""
    cut = tmp_path / "cut"
    _interrupt(monkeypatch, cut, at=6)
    recorded = json.loads((cut / "results.json").read_text())
    (cut / "results.json").write_text(json.dumps({**recorded, "status": "running", "cells": {}}))
    (cut / "report.md").unlink()
    (cut / "runs" / "cnn-seed0").mkdir()  # made, then killed before its settings were written
    result = run_experiment(TINY, quick=True, resume=cut, progress=False)
    assert result.results["status"] == "finished" and list(result.results["cells"]) == ["FC", "CNN"]
    assert (cut / "report.md").is_file()
    assert sorted(path.name for path in (cut / "runs").iterdir() if path.is_dir()) == [
        "cnn-seed0", "cnn-seed1", "fc-seed0", "fc-seed1"
    ]  # fmt: skip


def test_cli_resume(tiny_experiment, fixed_speed, tmp_path, monkeypatch, capsys):
    from cnnlab.cli import main

    cut = tmp_path / "cut"
    _interrupt(monkeypatch, cut, at=3)
    assert main(["experiment", TINY, "--quick", "--quiet", "--resume", str(cut), "--threads", "1"]) == 0
    assert json.loads((cut / "results.json").read_text())["status"] == "finished"
    assert main(["experiment", TINY, "--quiet", "--resume", str(cut)]) == 2
    assert "quick True there, False here" in capsys.readouterr().err


@pytest.mark.slow
def test_a_quick_experiment_killed_mid_way_and_resumed_equals_an_uninterrupted_one(quick_run, tmp_path):
    """``cnnlab experiment fc-vs-cnn --quick`` killed with SIGKILL (no handler runs) during its fourth
    run, then ``--resume``: the same numbers as the uninterrupted quick run."""
    import subprocess
    import sys
    import time

    reference = quick_run("fc-vs-cnn")
    out = tmp_path / "killed"
    argv = ["experiment", "fc-vs-cnn", "--quick", "--quiet", "--out", str(out), "--threads", "2"]
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, cnnlab.cli; sys.exit(cnnlab.cli.main(sys.argv[1:]))", *argv],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while len(list(out.glob("runs/*/config.json"))) < 4 and time.monotonic() < deadline:
            assert child.poll() is None, "the experiment ended before it could be killed"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    finished = [
        p for p in out.glob("runs/*/result.json") if json.loads(p.read_text()).get("status") == "finished"
    ]
    assert 3 <= len(finished) < 12
    assert json.loads((out / "results.json").read_text())["status"] == "running"  # written at the start

    from cnnlab.cli import main

    assert main([*argv[:3], "--quiet", "--resume", str(out), "--threads", "2"]) == 0
    resumed = read_finished(out)
    assert resumed.results["status"] == "finished"
    assert _learning(resumed.results["cells"]) == _learning(reference.results["cells"])
    assert resumed.results["course"] == reference.results["course"]
