"""Optimizers by name: SGD (momentum, Nesterov), Adam, AdamW, RMSprop, Adagrad, Muon.

Each builder reads the settings it uses from :class:`~cnnlab.training.config.TrainConfig`. On CUDA
the fused kernels are used where PyTorch has them, elsewhere the multi-tensor (``foreach``) ones:
both do the update of all parameters in a few kernels instead of one loop iteration a tensor.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from cnnlab.registry import Registry
from cnnlab.training.muon import Muon

if TYPE_CHECKING:
    from cnnlab.training.config import TrainConfig

OPTIMIZERS: Registry = Registry("optimizer", order="sorted")


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` over ``params`` at the base learning rate."""
    return OPTIMIZERS.get(config.optimizer)(list(params), config, device)


def _fast_kernels(optimizer_class: type[torch.optim.Optimizer], device: torch.device) -> dict[str, Any]:
    """``fused=True`` on CUDA when the class has it, else ``foreach=True``."""
    accepted = inspect.signature(optimizer_class.__init__).parameters
    if device.type == "cuda" and "fused" in accepted:
        return {"fused": True}
    return {"foreach": True} if "foreach" in accepted else {}


@OPTIMIZERS.register("sgd")
def sgd(params: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
        **_fast_kernels(torch.optim.SGD, device),
    )


@OPTIMIZERS.register("adam")
def adam(params: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    # Adam's weight decay is the L2 penalty added to the gradient (the paper's form); for the
    # decoupled form use adamw.
    return torch.optim.Adam(
        params,
        lr=config.lr,
        betas=tuple(config.betas),
        weight_decay=config.weight_decay,
        **_fast_kernels(torch.optim.Adam, device),
    )


@OPTIMIZERS.register("adamw")
def adamw(params: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        params,
        lr=config.lr,
        betas=tuple(config.betas),
        weight_decay=config.weight_decay,
        **_fast_kernels(torch.optim.AdamW, device),
    )


@OPTIMIZERS.register("rmsprop")
def rmsprop(params: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    # The plain form (Hinton's lecture 6e): config.momentum is SGD's, not applied here.
    return torch.optim.RMSprop(
        params,
        lr=config.lr,
        weight_decay=config.weight_decay,
        **_fast_kernels(torch.optim.RMSprop, device),
    )


@OPTIMIZERS.register("adagrad")
def adagrad(params: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(
        params,
        lr=config.lr,
        weight_decay=config.weight_decay,
        **_fast_kernels(torch.optim.Adagrad, device),
    )


@OPTIMIZERS.register("muon")
def muon(params: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    # Muon on the convolution filters at muon_lr; Nesterov SGD at lr on everything else.
    return Muon(
        params,
        lr=config.muon_lr,
        momentum=config.muon_momentum,
        other_lr=config.lr,
        other_momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
