"""An exponential moving average (EMA) of a model's weights, for evaluation.

Late in a run, SGD's iterates rattle around a minimum; their running average sits closer to its
centre and usually tests a few tenths of a percent better (Polyak averaging; the speed runs use it,
e.g. airbench's lookahead of weights). :class:`WeightAverage` keeps a float copy of every
floating-point parameter and buffer (batch-norm statistics included, so the averaged weights are
evaluated with matching statistics) and blends the live weights in after every ``every``-th step:

    average <- average + (1 - decay_t) * (weights - average)

``decay_t = min(decay, (1 + t) / (10 + t))`` at update ``t``: a short warm-up, so the early average
is not dominated by the random initialisation. The update is a few multi-tensor (``foreach``)
kernels, deterministic on CPU, and its whole state (the average and the update counter) goes into
checkpoints, so a resumed run averages exactly as an uninterrupted one.

Both are parts of a run (:class:`~cnnlab.training.parts.Part`): they update after every optimizer
step, provide the weights that evaluations and checkpoints report, save their state under
``checkpoint["training"]["ema"]`` / ``["lookahead"]``, and the EMA's average becomes the model's
weights when training ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.training.parts import Part

if TYPE_CHECKING:
    from cnnlab.training.trainer import Trainer


class WeightAverage(Part):
    """The EMA of ``model``'s floating-point state (parameters and buffers).

    It holds on to the model's tensors, which the optimizer updates in place; build it after the
    model has been moved to its device and memory format.
    """

    key = "ema"
    averages_weights = True

    @classmethod
    def for_run(cls, trainer: Trainer) -> WeightAverage | None:
        """The run's EMA (``--ema DECAY``), or None when it has none."""
        return cls(trainer.model, trainer.config.ema) if trainer.config.ema else None

    def __init__(self, model: nn.Module, decay: float, every: int = 1):
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"The EMA decay must be in (0, 1), got {decay}; 0.99 to 0.9999 are usual.")
        if every < 1:
            raise ConfigError(f"The EMA must be updated every >= 1 steps, got {every}.")
        self.decay, self.every = decay, every
        self.updates = 0
        self.model = model
        state = model.state_dict()  # detached tensors sharing the model's storage
        self.names = [name for name, value in state.items() if value.is_floating_point()]
        self.live = [state[name] for name in self.names]
        self.average = [tensor.clone() for tensor in self.live]

    def current_decay(self, step: int) -> float:
        """The decay of the update after optimizer step ``step``."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    def update(self, step: int) -> bool:
        """Blend in the model's weights after optimizer step ``step`` (0-based) when it is due;
        return whether it was."""
        if (step + 1) % self.every:
            return False
        weight = 1.0 - self.current_decay(step)
        with torch.no_grad():
            torch._foreach_lerp_(self.average, self.live, weight)
        self.updates += 1
        return True

    # -- as a part of a run ----------------------------------------------------------------------
    def after_optimizer_step(self, trainer: Trainer, step: int) -> None:
        self.update(step)

    def evaluated_weights(self) -> contextlib.AbstractContextManager[None]:
        return self.applied()

    def evaluated_state_dict(self) -> dict[str, torch.Tensor]:
        return self.averaged_state_dict()

    def on_train_end(self, trainer: Trainer) -> None:
        # The averaged weights are the model the final metrics describe: run.model gets them.
        if trainer.weight_source is self:
            self.copy_to_model()

    # -- the average -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Temporarily load the averaged weights into the model (to evaluate it), then restore them."""
        saved = [tensor.clone() for tensor in self.live]
        self._load(self.average)
        try:
            yield
        finally:
            self._load(saved)

    def copy_to_model(self) -> None:
        """Load the averaged weights into the model for good (at the end of training)."""
        self._load(self.average)

    def averaged_state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict with the averaged values in place of the live ones."""
        state = self.model.state_dict()
        state.update(zip(self.names, self.average, strict=True))
        return state

    def _load(self, tensors: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for live, value in zip(self.live, tensors, strict=True):
                live.copy_(value)

    def state_dict(self) -> dict[str, Any]:
        return {
            "decay": self.decay,
            "every": self.every,
            "updates": self.updates,
            "average": dict(zip(self.names, (t.cpu() for t in self.average), strict=True)),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if sorted(state["average"]) != sorted(self.names):
            raise ConfigError("The checkpoint's weight average does not match this model's weights.")
        self.decay, self.every, self.updates = state["decay"], state["every"], state["updates"]
        with torch.no_grad():
            for tensor, name in zip(self.average, self.names, strict=True):
                tensor.copy_(state["average"][name])


class Lookahead(WeightAverage):
    """Lookahead of weights (Zhang et al. 2019) as airbench94 uses it: every ``every`` steps the
    average moves toward the live weights, and the live weights jump back to the average.

    SGD then explores from a point that forgets its noise, which lets a short run keep a high
    learning rate for longer. The decay of an update after step ``t`` of ``total_steps`` is
    ``decay ** every * ((t + 1) / total_steps) ** 3``: close to 0 early (the live weights are left
    alone while they move fast) and ``decay ** every`` at the end (airbench: 0.95 ** 5 = 0.77).
    It is a pure function of the step, so a resumed run pulls back exactly as an uninterrupted one.
    """

    key = "lookahead"

    @classmethod
    def for_run(cls, trainer: Trainer) -> Lookahead | None:
        """The run's lookahead (``--lookahead DECAY``), or None when it has none."""
        if not trainer.config.lookahead:
            return None
        return cls(trainer.model, trainer.config.lookahead, trainer.config.epochs * trainer.steps_per_epoch)

    def __init__(self, model: nn.Module, decay: float, total_steps: int, every: int = 5):
        super().__init__(model, decay, every)
        if total_steps < 1:
            raise ConfigError(f"Lookahead needs a run of at least one step, got {total_steps}.")
        self.total_steps = total_steps

    def current_decay(self, step: int) -> float:
        progress = min(1.0, (step + 1) / self.total_steps)
        return self.decay**self.every * progress**3

    def update(self, step: int) -> bool:
        """Blend, then pull the live weights back to the average, when due."""
        if not super().update(step):
            return False
        self._load(self.average)
        return True
