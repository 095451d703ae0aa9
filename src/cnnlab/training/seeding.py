"""Seeds derived from the run's seed, so that every random draw of a run is a pure function of
``(seed, what, where)`` and a resumed run replays exactly what an uninterrupted one draws.

- the weight initialisation: ``(seed, INIT)``;
- the data order and augmentation: the BatchLoader's own ``(seed, epoch[, batch])`` generators;
- dropout, noise and sampling inside the model during training step ``(epoch, batch)``: the global
  RNG is re-seeded with ``(seed, STEP, epoch, batch)`` before the step;
- sampling during evaluation (a VAE's code, an RBM's chain): ``(seed, EVAL, epoch, batch)``;
- MixUp's weight and pairing of training step ``(epoch, batch)``: ``(seed, MIXUP, epoch, batch)``.

Re-seeding happens every step, so it must be cheap: the key is mixed with SplitMix64 in a few
integer operations, and only the generators that exist are seeded (``torch.manual_seed`` also
visits every backend and costs ~100x more).
"""

from __future__ import annotations

from typing import Any

import torch

# Stream tags, so that the seeds of different purposes never coincide.
INIT, STEP, EVAL, MIXUP = 10, 11, 12, 13
_MASK = (1 << 64) - 1


def derived_seed(seed: int, stream: int, *key: int) -> int:
    """A well-mixed 63-bit seed for ``(seed, stream, *key)`` (SplitMix64 over the key words)."""
    state = 0
    for word in (seed, stream, *key):
        state = ((state ^ (word & _MASK)) + 0x9E3779B97F4A7C15) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        state = z ^ (z >> 31)
    return state >> 1  # torch seeds are accepted up to 2**64 - 1; keep it positive as int64 too


def seed_global_rng(seed: int, stream: int, *key: int, device: torch.device | None = None) -> None:
    """Seed torch's global CPU generator (and the GPU's, when ``device`` is one) for one step."""
    value = derived_seed(seed, stream, *key)
    torch.default_generator.manual_seed(value)
    if device is not None and device.type == "cuda":
        torch.cuda.manual_seed(value)
    elif device is not None and device.type == "mps":
        torch.mps.manual_seed(value)


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
