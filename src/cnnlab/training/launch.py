"""``cnnlab train --nproc N``: N ranks of a data-parallel run on this machine, started by torchrun.

The ranks are started by torchrun's own elastic agent (``torch.distributed.run``, called through
its Python entry point, as ``torchrun --standalone --nproc-per-node N -m cnnlab train ...`` would):
it gives each rank its ``RANK``/``WORLD_SIZE``/... variables, watches them, and when one fails or
dies it stops the others (SIGTERM, then SIGKILL after its grace period) and reports every failure.
This module only checks the request before anything starts, turns the agent's report into one
line naming the rank and the cause, and lets each rank record its own failure for that report.

Ctrl-C reaches the agent (the ranks run in sessions of their own); it sends SIGTERM to every rank,
which stop together at a step boundary with a checkpoint (the run is "interrupted", resumable).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from cnnlab.errors import CnnlabError, UsageError
from cnnlab.training.distributed import check_batch_size, launched_rank, launched_world_size

# How often the agent looks at its ranks (seconds): a dead rank stops the others within this much,
# plus the agent's grace period for the survivors.
MONITOR_INTERVAL_S = 0.5

# How long a rank other than 0 that meets a cnnlab error waits before it exits (seconds): such
# errors (a diverging loss, a refused setting) reach every rank at the same step, and rank 0, which
# closes the run and prints the line, should end first, so that the agent reports its failure.
RANK_ERROR_GRACE_S = 10.0

# Messages of a rank that failed only because another one did (its collective lost the peer).
_PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "SIGTERM", "Broken pipe")


def check_nproc(nproc: int) -> None:
    """Refuse a number of processes that cannot be (UsageError), before anything is read."""
    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1 (the number of processes), not {nproc}.")
    if launched_world_size() > 1:
        raise UsageError(
            "--nproc starts torchrun itself; under torchrun leave it out (torchrun's "
            "--nproc-per-node sets the processes)."
        )


def check_settings(nproc: int, device: str, batch_size: int) -> None:
    """Refuse settings that cannot train on ``nproc`` processes, before anything starts."""
    if device == "mps":
        raise UsageError("--nproc needs --device cpu or cuda: MPS has no torch.distributed backend.")
    if device.startswith("cuda") or device == "auto":
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.startswith("cuda") and gpus < nproc:
            raise UsageError(
                f"--nproc {nproc} with --device cuda needs {nproc} GPUs (one a process); found {gpus}."
            )
    check_batch_size(batch_size, nproc)


def launch(child_args: list[str], nproc: int, threads_per_rank: int) -> int:
    """Run ``python -m cnnlab <child_args>`` as ``nproc`` ranks; return the exit code to exit with.

    Rank 0 prints what a one-process run prints (its progress, its own one-line error); when a
    rank fails for a reason of its own, one line here names it."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_rank))  # torchrun would set 1 and say so
    for name in ("torch.distributed.elastic", "torch.distributed.run", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # the agent's own log lines: replaced below
    args = torchrun.parse_args(
        [
            "--standalone",
            f"--nproc-per-node={nproc}",
            "--max-restarts=0",
            f"--monitor-interval={MONITOR_INTERVAL_S}",
            "-m",
            "cnnlab",
            *child_args,
        ]
    )
    try:
        torchrun.run(args)
    except ChildFailedError as failed:
        return _report(failed.failures, nproc)
    except SignalException:  # Ctrl-C or SIGTERM: the ranks saved a checkpoint and said so
        return 130
    return 0


def _report(failures: dict[int, Any], nproc: int) -> int:
    """Print the failure that stopped the run (unless rank 0 already said it); the exit code."""
    from cnnlab.commands.output import err_console

    main = failures.get(0)
    if main is not None and _is_cnnlab_error(main):
        return main.exitcode  # rank 0 printed its one line, as a one-process run does
    rank, cause = _first_cause(failures)
    others = nproc - 1
    err_console.print(
        f"[bold red]Error:[/] rank {rank} of {nproc} failed: {cause}; the other {others} "
        f"rank{'s were' if others > 1 else ' was'} stopped.",
        highlight=False,
    )
    return 1


def _first_cause(failures: dict[int, Any]) -> tuple[int, str]:
    """The rank whose failure came first and was not caused by another's (a lost peer)."""

    def order(item: tuple[int, Any]) -> tuple[bool, int, int]:
        rank, failure = item
        return (_lost_peer(failure), failure.timestamp, rank)

    rank, failure = min(failures.items(), key=order)
    return rank, _cause(failure)


def _cause(failure: Any) -> str:
    if failure.exitcode < 0:
        return f"it died ({failure.signal_name()})"
    message = _message(failure)
    return message or f"it exited with code {failure.exitcode}"


def _message(failure: Any) -> str:
    message = failure.message
    if isinstance(message, dict):
        message = message.get("message", "")
    text = str(message or "").strip()
    return "" if text.startswith("To enable traceback") else text.splitlines()[0] if text else ""


def _lost_peer(failure: Any) -> bool:
    text = _message(failure) if failure.exitcode >= 0 else failure.signal_name()
    return any(sign in text for sign in _PEER_LOST)


def _is_cnnlab_error(failure: Any) -> bool:
    name = _message(failure).split(":", 1)[0]
    return failure.exitcode > 0 and name in _cnnlab_error_names()


def _cnnlab_error_names() -> set[str]:
    import cnnlab.training  # noqa: F401  (defines the training errors)

    names, pending = set(), [CnnlabError]
    while pending:
        kind = pending.pop()
        names.add(kind.__name__)
        pending.extend(kind.__subclasses__())
    return names


def record_rank_failure(exc: BaseException) -> bool:
    """In a rank: write ``exc`` to torchrun's error file (the agent's report reads it). Return True
    when this rank should print it itself: rank 0's own cnnlab errors, the same line a one-process
    run prints; every other failure is reported once, by the launcher or torchrun. Another rank's
    cnnlab error waits up to RANK_ERROR_GRACE_S first (the agent stops it sooner once rank 0 ends)."""
    from torch.distributed.elastic.multiprocessing.errors import get_error_handler

    handler = get_error_handler()
    handler.initialize()
    handler.record_exception(exc)
    if not isinstance(exc, CnnlabError):
        return False
    if launched_rank() != 0:
        time.sleep(RANK_ERROR_GRACE_S)
        return False
    return True


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, CnnlabError):
        return exc.exit_code
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


__all__ = [
    "MONITOR_INTERVAL_S",
    "RANK_ERROR_GRACE_S",
    "check_nproc",
    "check_settings",
    "exit_code_of",
    "launch",
    "record_rank_failure",
]
