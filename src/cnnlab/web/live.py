"""Live curves: a run's metrics.jsonl tailed as server-sent events.

The stream only reads the run's files (stat, then the new bytes), every ``POLL_S`` seconds, so a
page that watches never slows or blocks the training process; each poll opens and closes the file,
so a client that goes away leaves nothing open. Events:

- ``metric``: one record of metrics.jsonl (a step or an epoch), with ``offset``, the byte where
  the next one starts (a reconnecting page passes it back as ``?offset=``);
- ``reset``: the file got shorter (a resumed run dropped the records after its checkpoint): the
  page clears its curves and the records follow again from the start;
- ``status``: the run's status from result.json, when it changes;
- ``end``: the run is no longer running and every record was sent; the stream closes.

A comment line every ``HEARTBEAT_S`` keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError
from cnnlab.runs.rundir import RunDir

POLL_S = 0.2
# result.json is read again when its size or modification time changes, and at least this often:
# a killed run's process leaves it saying "running", and only reading it (which checks the
# process) turns it "interrupted". Reading it every poll for every client was most of what 20
# watching pages cost the machine.
STATUS_EVERY_S = 2.0
HEARTBEAT_S = 15.0
DONE = frozenset({"finished", "failed", "interrupted"})


class StreamCounter:
    """How many live streams are open (the tests check that a closed one is freed)."""

    def __init__(self) -> None:
        self.open = 0


def read_new_records(path: Path, offset: int) -> tuple[list[tuple[dict[str, Any], int]], int, bool]:
    """The complete records after byte ``offset``, each with the offset after it; the new offset;
    and whether the file was shorter than ``offset`` (then reading restarted at 0)."""
    try:
        size = path.stat().st_size
    except OSError:
        return [], offset, False
    reset = size < offset
    if reset:
        offset = 0
    if size == offset:
        return [], offset, reset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size - offset)
    records = []
    position = offset
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # a line still being written: it is read whole next time
        position += len(line)
        try:
            records.append((json.loads(line), position))
        except json.JSONDecodeError:
            continue  # a torn line from a killed run: skipped, as RunDir.read_metrics does
    return records, position, reset


def run_status(run_dir: RunDir) -> str:
    """The run's status as ``RunDir.read_result`` says it ("running" before result.json is
    written or while it is unreadable; "interrupted" once the process that trained it is gone)."""
    try:
        return run_dir.read_result().get("status", "running")
    except (CnnlabError, OSError, ValueError):
        return "running"


def result_signature(run_dir: RunDir) -> tuple[int, int] | None:
    """result.json's size and modification time (None while there is none)."""
    try:
        found = run_dir.result_path.stat()
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def metric_events(
    run_dir: RunDir,
    offset: int,
    is_disconnected: Callable[[], Awaitable[bool]],
    counter: StreamCounter,
    poll_s: float = POLL_S,
) -> AsyncIterator[str]:
    """The event stream of one run from byte ``offset`` of its metrics.jsonl (see the module)."""
    counter.open += 1
    try:
        status, beat = None, time.monotonic()
        current, signature, status_read = None, None, -STATUS_EVERY_S
        while not await is_disconnected():
            records, offset, reset = read_new_records(run_dir.metrics_path, offset)
            if reset:
                yield sse("reset", {})
            for record, after in records:
                yield sse("metric", {**record, "offset": after})
            now, seen = time.monotonic(), result_signature(run_dir)
            if seen != signature or now - status_read >= STATUS_EVERY_S:
                signature, status_read, current = seen, now, run_status(run_dir)
            if current != status:
                status = current
                yield sse("status", {"status": status})
            if status in DONE and not records:
                yield sse("end", {"offset": offset})
                return
            if time.monotonic() - beat > HEARTBEAT_S:
                beat = time.monotonic()
                yield ": heartbeat\n\n"
            await asyncio.sleep(poll_s)
    finally:
        counter.open -= 1
