"""What stops a run before its end without it being at fault: Ctrl-C, SIGTERM, a write that fails.

Ctrl-C (SIGINT) and SIGTERM finish the current step, save a checkpoint and stop. Stopping at a
step boundary keeps the checkpoint consistent (an exception raised in the middle of
``optimizer.step()`` could leave half the parameters updated). A second Ctrl-C stops at once,
without a new checkpoint; the last one written is then where a resumed run starts.

A run file that cannot be written (disk full, quota, read-only disk) stops the run too, as
interrupted: checkpoints are written atomically, so the last complete one is still there to resume
from once the disk has room.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from cnnlab.errors import TrainingError


class TrainingInterrupted(TrainingError):
    """The run was stopped by the user; its checkpoint and the resume command are in the message."""

    exit_code = 130


class StopSignal:
    """Context manager: while active, SIGINT/SIGTERM set ``requested`` instead of raising."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignal:
        # Signal handlers can only be installed from the main thread; elsewhere (a run started in
        # a worker thread) Ctrl-C keeps its default behaviour.
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


class WriteFailed(TrainingError):
    """A run file could not be written (one line naming it); during training the trainer adds where
    the run can continue from."""

    def __init__(self, path: str | os.PathLike[str], error: OSError):
        self.path, self.error = path, error
        self.reason = error.strerror or str(error)
        super().__init__(f"Could not write {path} ({self.reason}).")


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError (ENOSPC, EDQUOT, EROFS, EIO, ...) raised inside into :class:`WriteFailed`
    naming ``path``, without the chained traceback of the layers below."""
    try:
        yield
    except OSError as exc:
        raise WriteFailed(path, exc) from None
