"""`cnnlab runs list|show|compare` on run directories with known numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnlab.cli import main
from cnnlab.runs.rundir import RunDir
from cnnlab.runs.stats import welch_test

GROUP_A = [0.981, 0.984, 0.979, 0.983]
GROUP_B = [0.990, 0.992, 0.989, 0.991]


def make_run(
    runs: Path, name: str, accuracy: float, group: str | None = None, status: str = "finished"
) -> None:
    run = RunDir.create(runs, name, exist_ok_suffix=False)
    config = {"model": "lenet5", "dataset": "mnist", "seed": 0, "epochs": 1, "group": group, "lr": 0.003}
    final = {"epoch": 1, "step": 10, "lr": 0.001, "test_accuracy": accuracy, "test_loss": 1 - accuracy}
    run.write_json(run.config_path, config)
    run.write_json(run.result_path, {"status": status, "epochs_done": 1, "final": final, "duration_s": 12.0})
    history = {"kind": "epoch", **final, "time_s": 12.0}
    run.metrics_path.write_text(json.dumps(history) + "\n")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    for i, accuracy in enumerate(GROUP_A):
        make_run(tmp_path, f"a-seed{i}", accuracy, group="a")
    for i, accuracy in enumerate(GROUP_B):
        make_run(tmp_path, f"b-seed{i}", accuracy, group="b")
    make_run(tmp_path, "broken", 0.1, status="failed")
    return tmp_path


def test_list_shows_every_run_and_filters(runs, capsys):
    assert main(["runs", "list", "--runs-dir", str(runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 9
    assert main(["runs", "list", "--runs-dir", str(runs), "--status", "failed", "--json"]) == 0
    assert [row["run_id"] for row in json.loads(capsys.readouterr().out)] == ["broken"]
    assert main(["runs", "list", "--runs-dir", str(runs), "--group", "b", "--json"]) == 0
    assert sorted(row["test_accuracy"] for row in json.loads(capsys.readouterr().out)) == sorted(GROUP_B)
    assert main(["runs", "list", "--runs-dir", str(runs)]) == 0
    assert "Runs in" in capsys.readouterr().out
    assert main(["runs", "list", "--runs-dir", str(runs), "--status", "done"]) == 2


def test_show_a_run_and_a_group(runs, capsys):
    assert main(["runs", "show", "a-seed1", "--runs-dir", str(runs), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["result"]["final"]["test_accuracy"] == GROUP_A[1]
    assert shown["history"][0]["epoch"] == 1
    assert main(["runs", "show", "b", "--runs-dir", str(runs), "--json"]) == 0
    group = json.loads(capsys.readouterr().out)
    assert group["summary"]["test_accuracy"]["mean"] == pytest.approx(sum(GROUP_B) / 4)
    assert main(["runs", "show", "nobody", "--runs-dir", str(runs)]) == 2
    assert "neither a run nor a group" in " ".join(capsys.readouterr().err.split())


def test_compare_groups_reports_welch_numbers(runs, capsys):
    assert (
        main(["runs", "compare", "a", "b", "--runs-dir", str(runs), "--metric", "test_accuracy", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)["metrics"]["test_accuracy"]
    expected = welch_test(GROUP_A, GROUP_B)
    assert result["p_value"] == pytest.approx(expected.p_value)
    assert result["difference"] == pytest.approx(sum(GROUP_A) / 4 - sum(GROUP_B) / 4)
    assert result["significant"] is True
    assert main(["runs", "compare", "a", "b", "--runs-dir", str(runs)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"test_accuracy: differ by more than seed noise (p = {expected.p_value:.3g} < 0.05)" in text


def test_compare_single_runs_says_it_needs_seeds(runs, capsys):
    assert main(["runs", "compare", "a-seed0", "b-seed0", "--runs-dir", str(runs), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["metrics"]["test_accuracy"]
    assert result["significant"] is None and result["difference"] == pytest.approx(GROUP_A[0] - GROUP_B[0])
    assert main(["runs", "compare", "a", "broken", "--runs-dir", str(runs)]) == 2
    assert "not finished" in capsys.readouterr().err
    assert main(["runs", "compare", "a", "b", "--runs-dir", str(runs), "--metric", "f1"]) == 2
