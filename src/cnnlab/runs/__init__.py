"""The run store: run directories, safe checkpoints, and the index of runs."""

from cnnlab.runs.checkpoint import (
    CHECKPOINT_FORMAT,
    TrainedModel,
    find_checkpoint,
    load_checkpoint,
    load_trained,
    save_checkpoint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainedModel",
    "find_checkpoint",
    "load_checkpoint",
    "load_trained",
    "save_checkpoint",
]
