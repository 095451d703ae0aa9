"""Bad input to `cnnlab sweep`: one clear line (no traceback), exit 2 for usage, 1 for a database
that cannot be opened, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnlab.cli import main


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    code = main(["sweep", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def assert_nothing_written(runs: Path) -> None:
    assert not runs.exists(), sorted(p.name for p in runs.rglob("*"))


def test_unknown_parameter(capsys, runs: Path):
    code, text = run_cli(
        capsys, "s", "--param", "lrr=log:1e-4:1e-1", "--trials", "2", "--runs-dir", str(runs)
    )
    assert code == 2
    assert "Unknown setting 'lrr'. Did you mean 'lr'?" in text and "Traceback" not in text
    assert_nothing_written(runs)


def test_empty_range_and_test_metric_together(capsys, runs: Path):
    code, text = run_cli(
        capsys, "s", "--param", "lr=log:0.01:0.01", "--metric", "test_accuracy", "--trials", "2",
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert code == 2
    assert "lr: the range log:0.01:0.01 is empty" in text
    assert "--metric test_accuracy: a sweep chooses on the validation split" in text
    assert_nothing_written(runs)


def test_bad_storage_url(capsys, runs: Path):
    code, text = run_cli(
        capsys, "s", "--param", "lr=log:1e-3:1e-1", "--trials", "2", "--storage", "mysql://db/x",
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert code == 2
    assert "--storage 'mysql://db/x' is not a database URL" in text
    assert_nothing_written(runs)


def test_unreachable_database(capsys, runs: Path):
    # Port 1 on this machine: nothing listens there, so the connection is refused at once.
    url = "postgresql://cnnlab:secret@127.0.0.1:1/cnnlab_test"
    code, text = run_cli(
        capsys, "s", "--param", "lr=log:1e-3:1e-1", "--trials", "2", "--storage", url, "--runs-dir", str(runs)
    )
    assert code == 1
    assert "Cannot open the sweep database postgresql://cnnlab:***@127.0.0.1:1/cnnlab_test" in text
    assert "secret" not in text and "Traceback" not in text
    assert_nothing_written(runs)


def test_sqlite_in_a_missing_folder(capsys, runs: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path}/nowhere/sweeps.db"
    code, text = run_cli(
        capsys, "s", "--param", "lr=log:1e-3:1e-1", "--trials", "2", "--storage", url, "--runs-dir", str(runs)
    )
    assert code == 1
    assert f"the folder {tmp_path}/nowhere does not exist" in text
    assert_nothing_written(runs)
    assert not (tmp_path / "nowhere").exists()


def test_trials_are_required_and_show_needs_a_sweep(capsys, runs: Path):
    code, text = run_cli(capsys, "s", "--param", "lr=log:1e-3:1e-1", "--runs-dir", str(runs))
    assert code == 2 and "Give --trials N" in text
    code, text = run_cli(capsys, "--show", "s", "--runs-dir", str(runs))
    assert code == 2 and "No sweeps in" in text
    assert_nothing_written(runs)
