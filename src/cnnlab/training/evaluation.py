"""Evaluate a model on a loader: the loss and accuracy (or each objective term) over all batches.

``evaluate`` is what the trainer runs on the validation and test sets after each epoch, and what
``cnnlab eval`` can reuse; ``predict`` collects the logits for per-class analysis.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from cnnlab.data import BatchLoader, ImageDataset
from cnnlab.training.hardware import Hardware, autocast
from cnnlab.training.metrics import LossFn, MetricSums, batch_output
from cnnlab.training.seeding import EVAL, seed_global_rng

# Evaluation keeps no activations for a backward pass, so it affords larger batches than training,
# but on a CPU much larger batches get slower again: their activations outgrow the caches. About
# a million input values a batch: 341 CIFAR images, 1,337 MNIST digits; never fewer than the
# training batch. (`python -m benchmarks.run --only evaluation` times the result against the plain
# loop's batches of 64.)
EVAL_VALUES_PER_BATCH = 2**20


def eval_batch_size(input_shape: Sequence[int], train_batch_size: int = 1) -> int:
    """The batch size for evaluating images of ``input_shape`` (C, H, W)."""
    return max(train_batch_size, EVAL_VALUES_PER_BATCH // max(1, math.prod(input_shape)))


def eval_loader(
    dataset: ImageDataset,
    *,
    scale: str = "standardized",
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> BatchLoader:
    """The in-order, unaugmented loader the trainer evaluates ``dataset`` with."""
    size = batch_size or eval_batch_size(dataset.input_shape)
    return BatchLoader(dataset, size, shuffle=False, scale=scale, device=device)


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    loss: str | LossFn = "cross-entropy",
    hardware: Hardware | None = None,
    seed: int | None = None,
) -> dict[str, float]:
    """Mean metrics of ``model`` over every batch of ``loader``, in eval mode, without gradients.

    Classifiers get ``loss`` (by the named or given loss function) and ``accuracy``; models with an
    ``objective(x)`` get the mean of every term it returns. ``seed`` makes sampling inside the model
    (a VAE's code, an RBM's chain) repeatable: batch ``b`` draws from ``(seed, b)``. The model's
    train/eval mode is restored afterwards.
    """
    return evaluation_sums(model, loader, loss=loss, hardware=hardware, seed=seed).results()


def evaluation_sums(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    loss: str | LossFn = "cross-entropy",
    hardware: Hardware | None = None,
    seed: int | None = None,
    share: tuple[int, int] | None = None,
) -> MetricSums:
    """:func:`evaluate`'s sums, before the means are read. ``share=(rank, world)``: only the batches
    ``b`` with ``b % world == rank`` (a data-parallel run's rank; each batch keeps its seed)."""
    loss_fn = _loss_function(loss)
    device = hardware.device if hardware else _model_device(model)
    sums = MetricSums(device)
    was_training = model.training
    model.eval()
    # Seeding the global RNG per batch must not change the caller's random state.
    rng_guard = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    try:
        with torch.inference_mode(), rng_guard:
            for batch, (inputs, labels) in enumerate(loader):
                if share is not None and batch % share[1] != share[0]:
                    continue
                if seed is not None:
                    seed_global_rng(seed, EVAL, batch, device=device)
                inputs, labels = _on_device(inputs, labels, device, hardware)
                with autocast(hardware):
                    sums.add(batch_output(model, inputs, labels, loss_fn), labels)
    finally:
        model.train(was_training)
    return sums


def predict(
    model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], *, hardware: Hardware | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, labels)`` of a classifier over every batch of ``loader``, on the CPU."""
    device = hardware.device if hardware else _model_device(model)
    all_logits, all_labels = [], []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for inputs, labels in loader:
                inputs, labels = _on_device(inputs, labels, device, hardware)
                with autocast(hardware):
                    all_logits.append(model(inputs).float().cpu())
                all_labels.append(labels.cpu())
    finally:
        model.train(was_training)
    return torch.cat(all_logits), torch.cat(all_labels)


def _loss_function(loss: str | LossFn) -> LossFn:
    if callable(loss):
        return loss
    from cnnlab.training.config import TrainConfig
    from cnnlab.training.losses import build_loss

    return build_loss(TrainConfig(loss=loss))


def _on_device(
    inputs: torch.Tensor, labels: torch.Tensor, device: torch.device, hardware: Hardware | None
) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    if hardware and hardware.channels_last and inputs.dim() == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs, labels


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
