"""Bad input to `cnnlab sweep`: one clear line (no traceback), exit 2 for usage, 1 for a database
that cannot be opened, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnlab.cli import main

# Port 1 on this machine: nothing listens there, so the connection is refused at once.
UNREACHABLE = "postgresql://cnnlab:secret@127.0.0.1:1/cnnlab_test"


def run_sweep(capsys: pytest.CaptureFixture, runs: Path, *args: str) -> tuple[int, str]:
    code = main(["sweep", "s", "--trials", "2", "--runs-dir", str(runs), *args])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert not runs.exists(), sorted(p.name for p in runs.rglob("*"))  # nothing written
    return code, text


@pytest.mark.parametrize(
    ("args", "code", "messages"),
    [
        (["--param", "lrr=log:1e-4:1e-1"], 2, ["Unknown setting 'lrr'. Did you mean 'lr'?", "weight_decay"]),
        (
            ["--param", "lr=log:0.01:0.01", "--metric", "test_accuracy"],
            2,
            [
                "lr: the range log:0.01:0.01 is empty",
                "--metric test_accuracy: a sweep chooses on the validation",
            ],
        ),
        (["--storage", "mysql://db/x"], 2, ["--storage 'mysql://db/x' is not a database URL"]),
        (
            ["--storage", UNREACHABLE],
            1,
            ["Cannot open the sweep database postgresql://cnnlab:***@127.0.0.1:1/cnnlab_test"],
        ),
    ],
    ids=["unknown-parameter", "empty-range-and-test-metric", "bad-storage-url", "unreachable-database"],
)
def test_refused_before_anything_is_written(capsys, tmp_path: Path, args, code, messages):
    got, text = run_sweep(capsys, tmp_path / "runs", "--param", "optimizer=choice:sgd,adam", *args)
    assert got == code, text
    for message in messages:
        assert message in text
    assert "secret" not in text  # a database password is never printed


def test_sqlite_in_a_missing_folder(capsys, tmp_path: Path):
    code, text = run_sweep(capsys, tmp_path / "runs", "--storage", f"sqlite:///{tmp_path}/nowhere/sweeps.db")
    assert code == 1
    assert f"the folder {tmp_path}/nowhere does not exist" in text
    assert not (tmp_path / "nowhere").exists()


def test_trials_are_required_and_show_needs_a_sweep(capsys, tmp_path: Path):
    runs = tmp_path / "runs"
    assert main(["sweep", "s", "--param", "lr=log:1e-3:1e-1", "--runs-dir", str(runs)]) == 2
    assert "Give --trials N" in capsys.readouterr().err
    assert main(["sweep", "--show", "s", "--runs-dir", str(runs)]) == 2
    assert "No sweeps in" in capsys.readouterr().err
    assert not runs.exists()
