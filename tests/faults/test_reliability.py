"""The earlier reliability work that already held, pinned end to end through the CLI so it stays
held: a pickle that would run code is never run, a corrupt index is rebuilt, and a second training
under a name already taken is refused. (kill -9 then resume bit-identical: tests/training.)"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cnnlab.cli import main


class _Hostile:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_never_run_by_any_command(tmp_path, capsys):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "lenet5", "dataset": "mnist"}))
    torch.save(
        {"format": "cnnlab-checkpoint/1", "model_state": _Hostile(marker)}, run / "checkpoints" / "best.pt"
    )
    for command in (["eval", str(run)], ["visualize", str(run), "--filters"], ["predict", str(run), "x.png"]):
        assert main(command) != 0
        err = " ".join(capsys.readouterr().err.split())
        assert "could run code when loaded" in err or "No image" in err or "x.png" in err
    assert not marker.exists()


def test_a_corrupt_index_is_rebuilt_and_lists_every_run_once(tiny, capsys):
    import cnnlab
    from cnnlab.runs.index import INDEX_NAME

    for name in ("one", "two"):
        cnnlab.train(**tiny, name=name)
    runs = Path(tiny["runs_dir"])
    (runs / INDEX_NAME).write_bytes(b"not a database" * 64)
    for suffix in ("-wal", "-shm"):
        Path(f"{runs / INDEX_NAME}{suffix}").unlink(missing_ok=True)
    assert main(["runs", "list", "--runs-dir", str(runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(row["run_id"] for row in rows) == ["one", "two"]


def test_a_second_training_under_a_taken_name_is_refused(tiny, capsys):
    args = ["train", "--model", "fc2layer", "--subset", "64", "--test-subset", "32", "--epochs", "1",
            "--runs-dir", tiny["runs_dir"], "--name", "taken", "--quiet"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "A run named 'taken' already exists" in err and "Traceback" not in err
    assert main(["runs", "list", "--runs-dir", tiny["runs_dir"], "--json"]) == 0
    assert [row["run_id"] for row in json.loads(capsys.readouterr().out)] == ["taken"]


def test_a_damaged_run_folder_is_listed_as_damaged_and_the_others_still_list(tmp_path):
    from cnnlab.runs.index import RunIndex

    good = tmp_path / "good"
    good.mkdir()
    (good / "config.json").write_text('{"model": "lenet5", "dataset": "mnist", "epochs": 1}')
    (good / "result.json").write_text('{"status": "finished", "final": {"test_accuracy": 0.9}}')
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model": "lenet5", "data')  # half-written
    rows = {row["run_id"]: row for row in RunIndex(tmp_path).list()}
    assert rows["good"]["status"] == "finished"
    assert rows["broken"]["status"] == "damaged"
    assert "not valid JSON" in rows["broken"]["result"]["error"]
