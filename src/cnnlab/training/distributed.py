"""Data-parallel training: one model on several processes, with PyTorch's DistributedDataParallel.

The processes ("ranks") are started by torchrun (``torch.distributed.run``, whose elastic agent
also stops the other ranks when one fails), either directly across machines or by
``cnnlab train --nproc N`` on one machine (:mod:`cnnlab.training.launch`). A rank finds out that
it is one from the variables torchrun sets (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ...) and
joins the process group: gloo on a CPU, NCCL on CUDA.

What makes an N-process run the one-process run, up to the order of floating-point sums:

- every rank builds the same global batch (the same seeded permutation and augmentation: the
  :class:`~cnnlab.data.BatchLoader` of a one-process run) and keeps its own contiguous share of
  it (:class:`ShardedLoader`);
- DDP averages the gradients over the ranks; a share's loss is weighted by its share of the
  batch, so that the average is the global batch's mean also when a last batch splits unevenly;
- the metric sums (loss, right predictions, image counts) are all-reduced before they are read,
  and evaluation runs each rank on its share of the batches, then all-reduces the sums.

Rank 0 alone writes the run folder (the parts with ``writes_files``, result.json, the index row,
the checkpoints) and shows progress. Everything the ranks decide (stopping on Ctrl-C, early
stopping, divergence) is decided from all-reduced numbers, so every rank decides the same.

What is not the one-process run: batch norm on a CPU normalises each rank's share with its own
statistics (torch's SyncBatchNorm refuses CPU tensors; on CUDA the layers are converted to
SyncBatchNorm), and the randomness inside the model (dropout) is drawn per rank. See
docs/distributed.md.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import os
import signal
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from cnnlab.data import BatchLoader
from cnnlab.errors import ConfigError, UsageError
from cnnlab.training.hardware import Hardware
from cnnlab.training.metrics import MetricSums, StepWindow, uses_objective

# How long a rank waits in a collective (a gradient all-reduce, a broadcast) for the others before
# it gives up. A rank that dies is noticed sooner: torchrun's agent stops the others at once.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)

# Test-only hook (never a flag): "RANK:STEP" makes that rank raise at that step, "RANK:STEP:kill"
# makes it SIGKILL itself, "RANK:STEP:stop" SIGSTOP itself (frozen, for a test to kill the whole
# run at a known step), so that the tests can check how the other ranks are stopped.
FAIL_HOOK_ENV = "CNNLAB_TEST_FAIL_RANK"


def launched_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun), before any process group."""
    return int(os.environ.get("RANK", "0"))


def launched_world_size() -> int:
    """How many ranks torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclasses.dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run; ``Ranks()`` is a one-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes the run folder and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def describe(self) -> dict[str, Any]:
        """environment.json's "distributed" entry."""
        return {
            "world_size": self.world_size,
            "backend": self.backend,
            "local_world_size": self.local_world_size,
            "nodes": max(1, self.world_size // max(1, self.local_world_size)),
        }

    # -- set-up --------------------------------------------------------------------------------
    def fit_hardware(self, hardware: Hardware) -> Hardware:
        """This rank's device (its own GPU) and its share of the machine's threads."""
        if not self.distributed:
            return hardware
        device = hardware.device
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        threads = max(1, hardware.threads // self.local_world_size)
        return dataclasses.replace(hardware, device=device, threads=threads)

    def shard(self, loader: BatchLoader) -> BatchLoader | ShardedLoader:
        """The training loader of this rank: its share of every global batch."""
        if not self.distributed:
            return loader
        return ShardedLoader(loader, self.rank, self.world_size)

    def training_forward(self, model: nn.Module, device: torch.device) -> nn.Module | None:
        """What a training step calls instead of the model: DDP around it (None: the model itself).

        On CUDA the batch norm layers become SyncBatchNorm first (in place: the parameters stay
        the same objects, the state dict the same keys, so checkpoints do not change)."""
        if not self.distributed:
            return None
        if device.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [device.index] if device.type == "cuda" else None
        # Buffers (batch-norm statistics) are copied from rank 0 after each step instead, see
        # sync_buffers: then every rank holds the same model at every step boundary.
        return nn.parallel.DistributedDataParallel(
            _Forward(model), device_ids=device_ids, forward_sync_buffers=False
        )

    def sync_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (running statistics) on every rank, after a step: evaluations, the
        weight average and the checkpoint all see one model (one broadcast per dtype)."""
        if not self.distributed:
            return
        from torch import distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
        for buffer in model.buffers():
            by_dtype.setdefault(buffer.dtype, []).append(buffer)
        for buffers in by_dtype.values():
            flat = _flatten_dense_tensors([b.detach() for b in buffers])
            dist.broadcast(flat, src=0)
            for buffer, value in zip(buffers, _unflatten_dense_tensors(flat, buffers), strict=True):
                buffer.detach().copy_(value)

    def step_seed_key(self) -> tuple[int, ...]:
        """Added to the key of the step's RNG seed: rank 0 draws the one-process stream (its rows
        get the same dropout masks), the others streams of their own."""
        return (self.rank,) if self.rank else ()

    # -- the numbers ---------------------------------------------------------------------------
    def share_weight(self, share: int, batch: int) -> float:
        """The factor on a share's mean loss that makes DDP's average the batch's mean loss."""
        if not self.distributed:
            return 1.0
        return share * self.world_size / batch

    def reduced(self, sums: MetricSums) -> MetricSums:
        """The sums over all ranks (the same object in a one-process run)."""
        if not self.distributed:
            return sums
        from torch import distributed as dist

        shapes: list[Any] = [None] * self.world_size
        dist.all_gather_object(shapes, (sums.count, sums.classify, sorted(sums.terms)))
        names = sorted({name for _, _, terms in shapes for name in terms})
        zero = torch.zeros((), dtype=torch.float64, device=sums.device)
        values = torch.stack(
            [sums.loss, sums.correct.double(), *(sums.terms.get(name, zero) for name in names)]
        )
        dist.all_reduce(values)
        total = MetricSums(sums.device)
        total.count = sum(count for count, _, _ in shapes)
        total.loss, total.correct = values[0], values[1].round().long()
        total.terms = dict(zip(names, values[2:], strict=True))
        total.classify = all(classify for count, classify, _ in shapes if count)
        return total

    def reduce_window(self, window: StepWindow) -> None:
        """Make a full step window the global one, in place, before its record is taken: each
        step's loss the mean of the ranks' weighted share losses, right predictions and images
        summed."""
        if self.distributed:
            window.load_state_dict(self._global_window(window))

    def reduced_window(self, window: StepWindow) -> StepWindow:
        """A global copy of a partial window (for a checkpoint); the window itself is unchanged."""
        if not self.distributed:
            return window
        copy = StepWindow(window.buffer.shape[0], window.buffer.device)
        copy.load_state_dict(self._global_window(window))
        return copy

    def _global_window(self, window: StepWindow) -> dict[str, Any]:
        from torch import distributed as dist

        filled, device = window.filled, window.buffer.device
        counts = torch.tensor([float(window.images)], dtype=torch.float64, device=device)
        packed = torch.cat([window.buffer[:filled].double(), window.correct.double().view(1), counts])
        dist.all_reduce(packed)
        buffer = window.buffer.clone()
        buffer[:filled] = (packed[:filled] / self.world_size).float()
        return {
            "buffer": buffer,
            "filled": filled,
            "first_step": window.first_step,
            "correct": packed[filled].round().long(),
            "images": int(packed[filled + 1].round()),
        }

    def restored(self, sums: MetricSums, window: StepWindow) -> None:
        """After a resume, every rank loaded the checkpoint's global sums: rank 0 keeps them, the
        others start from zero, so that the next all-reduce counts them once. (The window's
        losses stay on every rank: they are averaged over the ranks, not summed.)"""
        if self.rank == 0:
            return
        sums.load_state_dict(MetricSums(sums.device).state_dict() | {"classify": sums.classify})
        window.correct.zero_()
        window.images = 0

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when ``flag`` is true on any (the Ctrl-C/SIGTERM stop request)."""
        if not self.distributed:
            return flag
        from torch import distributed as dist

        value = torch.tensor([int(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def earliest(self, step: int | None, device: torch.device) -> int | None:
        """The smallest of the ranks' ``step`` (None where a rank has none), on every rank: the
        first non-finite step of any rank's share, so that every rank stops at the same one."""
        if not self.distributed:
            return step
        from torch import distributed as dist

        none = torch.iinfo(torch.int64).max
        value = torch.tensor([none if step is None else step], dtype=torch.int64, device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return None if int(value.item()) == none else int(value.item())

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (small picklable values: a run folder's path)."""
        if not self.distributed:
            return value
        from torch import distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def eval_share(self) -> tuple[int, int] | None:
        """(rank, world size): evaluation runs batches ``b`` with ``b % world == rank`` here."""
        return (self.rank, self.world_size) if self.distributed else None

    def test_hook(self, step: int) -> None:
        """Tests only (``CNNLAB_TEST_FAIL_RANK``): fail or die at a given rank and step."""
        spec = os.environ.get(FAIL_HOOK_ENV) if self.distributed else None
        if not spec:
            return
        rank, at, *how = spec.split(":")
        if int(rank) != self.rank or int(at) != step:
            return
        if how in (["kill"], ["stop"]):
            os.kill(os.getpid(), signal.SIGKILL if how == ["kill"] else signal.SIGSTOP)
            return
        raise RuntimeError(f"test failure injected at step {step} ({FAIL_HOOK_ENV}={spec})")


ONE_PROCESS = Ranks()


class _Forward(nn.Module):
    """The module DDP wraps: the model's ``objective(x)`` for models trained by it, else ``model(x)``
    (DDP must see the call to synchronise the gradients of the backward pass that follows)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.objective = uses_objective(model)

    def forward(self, inputs: torch.Tensor) -> Any:
        return self.model.objective(inputs) if self.objective else self.model(inputs)


class ShardedLoader:
    """A :class:`BatchLoader` seen by one rank: rank ``r`` of ``N`` keeps the ``r``-th contiguous
    share (``tensor_split``) of each global batch, which every rank builds the same way."""

    def __init__(self, loader: BatchLoader, rank: int, world_size: int):
        last = len(loader.dataset) % loader.batch_size
        if 0 < last < world_size:
            raise ConfigError(
                f"The last batch of each epoch has {last} image(s), fewer than the {world_size} "
                "processes: change --batch-size or --subset so that every process gets images."
            )
        self.loader, self.rank, self.world_size = loader, rank, world_size
        self.dataset, self.batch_size = loader.dataset, loader.batch_size

    def __len__(self) -> int:
        return len(self.loader)

    def batch_images(self, batch: int) -> int:
        """The images of global batch ``batch`` (all ranks' shares together)."""
        return self.loader.batch_images(batch)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for inputs, labels in self.loader.epoch(epoch, start_batch):
            share = self.rank
            yield inputs.tensor_split(self.world_size)[share], labels.tensor_split(self.world_size)[share]


# -- joining the run -------------------------------------------------------------------------------
_joined: Ranks | None = None


def join(hardware: Hardware) -> Ranks:
    """This process's :class:`Ranks`: outside torchrun a one-process run; under torchrun with more
    than one rank, the process group joined (once per process, left at exit)."""
    global _joined
    if launched_world_size() <= 1:
        return ONE_PROCESS
    if _joined is not None:
        return _joined
    if hardware.device.type == "mps":
        raise UsageError(
            "Data-parallel training needs --device cpu or cuda; MPS has no torch.distributed backend."
        )
    from torch import distributed as dist

    backend = "nccl" if hardware.device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
        atexit.register(_leave)
    _joined = Ranks(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
        backend=dist.get_backend(),
    )
    return _joined


def join_run(config: Any, hardware: Hardware) -> tuple[Ranks, Hardware]:
    """The :class:`Ranks` of a run with ``config`` and this rank's hardware; a batch that does not
    split into the ranks is refused (UsageError) on every rank alike."""
    ranks = join(hardware)
    if ranks.distributed:
        check_batch_size(config.batch_size, ranks.world_size)
    return ranks, ranks.fit_hardware(hardware)


def _leave() -> None:
    from torch import distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def check_batch_size(batch_size: int, world_size: int) -> None:
    """Each global batch splits into equal shares (the last one of an epoch may be smaller)."""
    if batch_size % world_size:
        raise UsageError(
            f"--batch-size {batch_size} does not split into {world_size} processes: use a multiple "
            f"of {world_size} (the global batch is shared out), e.g. "
            f"{batch_size - batch_size % world_size or world_size}."
        )


__all__ = [
    "COLLECTIVE_TIMEOUT",
    "FAIL_HOOK_ENV",
    "ONE_PROCESS",
    "Ranks",
    "ShardedLoader",
    "check_batch_size",
    "join",
    "join_run",
    "launched_rank",
    "launched_world_size",
]
