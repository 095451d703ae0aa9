"""Seeds derived from the run's seed, so that every random draw of a run is a pure function of
``(seed, what, where)`` and a resumed run replays exactly what an uninterrupted one draws.

- the weight initialisation: ``(seed, INIT)``;
- the data order and augmentation: the BatchLoader's own ``(seed, epoch[, batch])`` generators;
- dropout, noise and sampling inside the model during training step ``(epoch, batch)``: the global
  RNG is re-seeded with ``(seed, STEP, epoch, batch)`` before the step;
- sampling during evaluation (a VAE's code, an RBM's chain): ``(seed, EVAL, epoch, batch)``.
"""

from __future__ import annotations

from typing import Any

import torch

from cnnlab.data.loader import seeded_generator

# Stream tags: distinct from the BatchLoader's (0: order, 1: augmentation).
INIT, STEP, EVAL = 10, 11, 12


def derived_seed(seed: int, stream: int, *key: int) -> int:
    """A well-mixed 64-bit seed for ``(seed, stream, *key)``."""
    return seeded_generator(seed, stream, *key).initial_seed()


def seed_global_rng(seed: int, stream: int, *key: int) -> None:
    """Seed torch's global RNG (CPU and every GPU) for the draws of one step."""
    torch.manual_seed(derived_seed(seed, stream, *key))


def rng_state(device: torch.device) -> dict[str, Any]:
    """Torch's global RNG states (saved in checkpoints, restored on resume)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
