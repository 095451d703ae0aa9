"""Checkpoints: a hostile pickle is refused without running it; a truncated file gets a clear error."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from cnnlab.errors import CheckpointError
from cnnlab.runs import load_checkpoint, load_trained, save_checkpoint


class _Hostile:
    """Unpickling this would create a file: the classic code-execution payload, made harmless."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "hostile.pt"
    torch.save({"format": "cnnlab-checkpoint/1", "model_state": _Hostile(marker)}, path)
    with pytest.raises(CheckpointError, match="could run code when loaded"):
        load_checkpoint(path)
    assert not marker.exists()
    # The same payload through plain pickle (not torch's zip format) is refused as well.
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Hostile(marker), protocol=2))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)
    assert not marker.exists()


def test_truncated_checkpoint_gets_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "full.pt", {"model_state": {"w": torch.randn(1000)}})
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    assert zipfile.is_zipfile(path)  # the intact file is still fine
    assert torch.equal(load_checkpoint(path)["model_state"]["w"], torch.load(path)["model_state"]["w"])


def test_foreign_checkpoint_is_named_as_such(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="is not a cnnlab checkpoint"):
        load_checkpoint(path)


def test_user_module_checkpoint_explains_how_to_reload(tmp_path):
    path = save_checkpoint(
        tmp_path / "mine.pt",
        {
            "model": {"name": None, "kwargs": {}, "class": "my_project.nets.TinyNet"},
            "model_state": {},
            "data": {"classes": [], "mean": [], "std": [], "input_shape": [1, 4, 4]},
        },
    )
    with pytest.raises(CheckpointError, match=r"my_project.nets.TinyNet\).*load_state_dict"):
        load_trained(path)
