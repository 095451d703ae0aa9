"""Checkpoints: written atomically, read only with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain data and tensors::

    {
      "format": "cnnlab-checkpoint/1",
      "model": {"name": "lenet5", "kwargs": {"num_classes": 10, "in_channels": 1, "input_size": 28}},
      "model_state": <state_dict>,
      "data": {"dataset": "mnist", "classes": [...], "mean": [...], "std": [...],
               "input_shape": [1, 28, 28], "scale": "standardized"},
      "training": {...},   # optional: optimizer, RNG states, position in the data order, and the
                           # state of each part of the run under its key (cnnlab.training.parts)
      "metrics": {...},    # optional: the metrics at the time of saving
    }

``weights_only=True`` refuses any pickle that would import or call code, so a hostile checkpoint
is rejected instead of executed.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.atomic import atomic_write_bytes
from cnnlab.errors import CheckpointError

CHECKPOINT_FORMAT = "cnnlab-checkpoint/1"
# Inside a run directory, the checkpoints a reader prefers, in order.
CHECKPOINT_NAMES = ("best.pt", "last.pt")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temp file + rename); return the path.

    The checkpoint is serialised in memory first, then written as plain bytes: a full disk is then
    an OSError (ENOSPC) naming itself, not torch's zip writer's "unexpected pos" RuntimeError."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, buffer)
    atomic_write_bytes(path, buffer.getbuffer())
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely; raise :class:`CheckpointError` with a clear message otherwise.

    A file that cannot be read gets the diagnosis that fits it, in one line: empty, truncated, not
    a PyTorch file at all (random bytes, text), or a pickle that would import or call code (the
    only case worded as a refusal, since only then was something dangerous in the file).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    unreadable = _unreadable_reason(path)
    if unreadable is None:
        try:
            with warnings.catch_warnings():  # torch's "pickle protocol N" remark on damaged files
                warnings.simplefilter("ignore", UserWarning)
                payload = torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            unreadable = _unpickling_reason(path, exc)
        except Exception as exc:  # noqa: BLE001  (torch raises EOFError, KeyError, RuntimeError, ...)
            unreadable = f"is truncated or corrupt and cannot be read ({_first_line(exc)})"
    if unreadable is not None:
        hint = "" if unreadable.startswith(_REFUSED) else f" {_READ_HINT}"
        raise CheckpointError(f"{path} {unreadable}.{hint}")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a cnnlab checkpoint (expected a dict with format "
            f"'{CHECKPOINT_FORMAT}'). cnnlab reads checkpoints that `cnnlab train` wrote."
        )
    return payload


_REFUSED = "was refused"
_READ_HINT = "Use another checkpoint of the run (checkpoints/last.pt or best.pt) or train again."
# How the files torch.save writes begin: a zip archive (since PyTorch 1.6) or a pickle (protocol 2+).
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


def _unreadable_reason(path: Path) -> str | None:
    """Why ``path`` cannot be a PyTorch file, judged from its bytes before unpickling anything;
    None when it looks like one."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "is empty (0 bytes): it was never written completely"
    if head.startswith(_ZIP_MAGIC):
        return _zip_damage(path, size)
    if head.startswith(_PICKLE_MAGIC):
        return None
    return (
        f"is not a PyTorch file: it starts with {head!r}, not with the bytes of a file "
        "torch.save writes (random bytes, text, or another format)"
    )


def _zip_damage(path: Path, size: int) -> str | None:
    """Why the zip archive torch.save wrote is damaged: incomplete, or a member whose bytes no
    longer match the CRC-32 stored for it (torch.load itself never checks those, so flipped bytes
    in a tensor would load as wrong weights); None when it is intact."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return f"is truncated or corrupt: its zip archive is incomplete ({size} bytes)"
    if damaged is not None:
        entry = damaged.split("/", 1)[-1]  # members sit under a folder named after the temp file
        return f"is corrupt: the bytes of its entry {entry} do not match their stored CRC-32"
    return None


def _unpickling_reason(path: Path, exc: pickle.UnpicklingError) -> str:
    """A pickle torch's weights-only loader rejected: one that names code to import or call is
    refused as such; anything else is a damaged or foreign file, not a threat."""
    text = str(exc)
    named = re.search(r"GLOBAL ([\w.]+)|global:? ([\w.]+)", text)
    if named:
        return (
            f"{_REFUSED}: it holds Python objects that could run code when loaded "
            f"({named.group(1) or named.group(2)}); weights_only=True loads tensors and plain data "
            "only. Only load checkpoints written by cnnlab or another source you trust"
        )
    after = re.search(r"Unpickler error:\s*(\S[^\n]*)", text)
    detail = after.group(1).strip() if after else _first_line(exc)
    return f"is truncated or corrupt: it is not a readable PyTorch pickle ({detail})"


def find_checkpoint(run_or_file: str | Path, prefer: tuple[str, ...] = CHECKPOINT_NAMES) -> Path:
    """The checkpoint file for a run directory (best, then last) or the file itself."""
    path = Path(run_or_file)
    if path.is_file():
        return path
    if path.is_dir():
        for name in prefer:
            candidate = path / "checkpoints" / name
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            f"{path} has no checkpoint (looked for {', '.join('checkpoints/' + n for n in prefer)}). "
            "Is it a run directory of `cnnlab train`, and did the run finish an epoch?"
        )
    raise CheckpointError(f"{path} is neither a run directory nor a checkpoint file.")


@dataclass
class TrainedModel:
    """A model restored from a checkpoint, with what is needed to feed it new images."""

    model: nn.Module
    model_name: str | None
    model_kwargs: dict[str, Any]
    dataset: str | None
    classes: list[str]
    mean: list[float]
    std: list[float]
    input_shape: tuple[int, int, int]  # (C, H, W)
    scale: str = "standardized"
    checkpoint: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) images of ``input_shape`` -> the float batch the model expects."""
        from cnnlab.data.transforms import to_model_input

        return to_model_input(images, self.mean, self.std, self.scale)


def load_trained(run_or_file: str | Path, map_location: str | torch.device = "cpu") -> TrainedModel:
    """Rebuild the trained model of a run directory or checkpoint file, in eval mode."""
    path = find_checkpoint(run_or_file)
    payload = load_checkpoint(path, map_location)
    model = model_from_payload(payload, path)
    if model is None:
        raise CheckpointError(_custom_model_message(payload, path))
    model_info, data_info = payload["model"], payload.get("data")
    if not isinstance(data_info, dict):
        raise CheckpointError(f"{path} has no 'data' entry (classes, mean, std, input shape).")
    model.eval()
    return TrainedModel(
        model=model,
        model_name=model_info["name"],
        model_kwargs=dict(model_info["kwargs"]),
        dataset=data_info.get("dataset"),
        classes=list(data_info["classes"]),
        mean=list(data_info["mean"]),
        std=list(data_info["std"]),
        input_shape=tuple(data_info["input_shape"]),
        scale=data_info.get("scale", "standardized"),
        checkpoint=path,
        metrics=dict(payload.get("metrics") or {}),
    )


def load_checkpoint_model(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module | None:
    """The model of a checkpoint with its weights (train mode), or None for a user's own module."""
    return model_from_payload(load_checkpoint(path, map_location), Path(path))


def model_from_payload(payload: dict[str, Any], path: Path) -> nn.Module | None:
    """Rebuild the registry model a checkpoint describes and load its weights.

    Returns None when the run trained a user's own ``nn.Module`` (``model.name`` is None): only the
    user can build that module; they load ``payload["model_state"]`` into it.
    """
    from cnnlab.models import create

    try:
        model_info = payload["model"]
        if model_info["name"] is None:
            return None
        model = create(model_info["name"], **model_info["kwargs"])
        model.load_state_dict(payload["model_state"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path} does not match its model description ({_first_line(exc)}).") from exc
    return model


def _custom_model_message(payload: dict[str, Any], path: Path) -> str:
    model_class = payload.get("model", {}).get("class") or "your nn.Module"
    return (
        f"{path} holds the weights of a model that is not in cnnlab's registry ({model_class}). "
        "Build that module yourself and load the weights: "
        f"model.load_state_dict(cnnlab.runs.load_checkpoint('{path}')['model_state'])."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
