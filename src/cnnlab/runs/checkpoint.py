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
    """Load a checkpoint safely; raise :class:`CheckpointError` with a clear message otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"Refused to load {path}: it holds Python objects that could run code when loaded "
            f"(torch.load with weights_only=True rejected it: {_first_line(exc)}). "
            "Only load checkpoints written by cnnlab or another source you trust."
        ) from exc
    except (EOFError, zipfile.BadZipFile, RuntimeError, OSError) as exc:
        raise CheckpointError(
            f"{path} is truncated or corrupt and cannot be read ({_first_line(exc)}). "
            "Use another checkpoint of the run (checkpoints/last.pt or best.pt) or train again."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a cnnlab checkpoint (expected a dict with format "
            f"'{CHECKPOINT_FORMAT}'). cnnlab reads checkpoints that `cnnlab train` wrote."
        )
    return payload


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
