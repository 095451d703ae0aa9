"""Live curves: a run's metrics.jsonl tailed as server-sent events, one reader per run.

However many pages follow a run, one ``RunFeed`` reads its files (stat, then the new bytes) every
``POLL_S`` seconds, encodes each new record once and hands the batch to every client: the work per
poll does not grow with the clients, and a client sleeps until there is something to send (20
pages that each polled and parsed the file themselves cost a 2-core training run 5-11% of its
speed). The stream only reads the run's files and opens and closes them at each poll, so the
training process is never blocked by a page, and a client that goes away leaves nothing open; the
feed stops with its last client. Events:

- ``metric``: one record of metrics.jsonl (a step or an epoch), with ``offset``, the byte where
  the next one starts (a reconnecting page passes it back as ``?offset=``);
- ``reset``: the file got shorter (a resumed run dropped the records after its checkpoint): the
  page clears its curves and the records follow again from the start;
- ``status``: the run's status from result.json, when it changes;
- ``end``: the run is no longer running and every record was sent; the stream closes.

The events found by one poll go out as one chunk. A comment line every ``HEARTBEAT_S`` keeps
proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError
from cnnlab.runs.rundir import RunDir

logger = logging.getLogger(__name__)

POLL_S = 0.2
# result.json is read again when its size or modification time changes, and at least this often:
# a killed run's process leaves it saying "running", and only reading it (which checks the
# process) turns it "interrupted".
STATUS_EVERY_S = 2.0
HEARTBEAT_S = 15.0
# How often a waiting client asks whether its page is still there (between batches). Under
# uvicorn, Starlette cancels a stream as soon as its client leaves; this is for servers that don't.
CHECK_S = 5.0
# The batches a feed keeps for clients that are late (a slow socket); one later than that reads
# what it missed from the file itself.
KEPT_BATCHES = 64
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


def metric_texts(records: list[tuple[dict[str, Any], int]]) -> list[tuple[int, str]]:
    """Each record as its ``metric`` event, with the offset after it."""
    return [(after, sse("metric", {**record, "offset": after})) for record, after in records]


@dataclass
class Batch:
    """What one poll of a feed found. ``start``: the offset its records follow (0 after a reset)."""

    seq: int
    start: int
    end_offset: int
    metrics: list[tuple[int, str]]
    reset: bool = False
    status: str | None = None
    end: bool = False
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = "".join(text for _, text in self.metrics)


class RunFeed:
    """The one reader of a run's files that every client following the run shares."""

    def __init__(self, run_dir: RunDir, offset: int, poll_s: float, on_stop: Callable[[RunFeed], None]):
        self.run_dir, self.offset, self.poll_s = run_dir, offset, poll_s
        self.signature, self.status_read = result_signature(run_dir), time.monotonic()
        self.status = run_status(run_dir)
        self.seq, self.batches = 0, deque[Batch](maxlen=KEPT_BATCHES)
        self.clients, self.polls = 0, 0
        self.changed = asyncio.Event()
        self._on_stop = on_stop
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self.clients:
                await asyncio.sleep(self.poll_s)
                if self.poll():
                    return  # the run is over: the clients send "end" and close
        except Exception:  # a reader's bug: logged; its clients follow a new reader
            logger.exception("the live reader of %s failed", self.run_dir.root)
        finally:
            self._on_stop(self)

    def poll(self) -> bool:
        """Read what is new; hand it to the clients as one batch. True once the run is over."""
        self.polls += 1
        start = self.offset
        try:
            records, self.offset, reset = read_new_records(self.run_dir.metrics_path, self.offset)
        except OSError:  # the file went away between its stat and its opening: next poll
            records, reset = [], False
        now, seen = time.monotonic(), result_signature(self.run_dir)
        status = None
        if seen != self.signature or now - self.status_read >= STATUS_EVERY_S:
            self.signature, self.status_read = seen, now
            current = run_status(self.run_dir)
            if current != self.status:
                self.status = status = current
        end = self.status in DONE and not records
        if records or reset or status or end:
            self.seq += 1
            start = 0 if reset else start
            batch = Batch(self.seq, start, self.offset, metric_texts(records), reset, status, end)
            self.batches.append(batch)
            self.changed.set()
            self.changed = asyncio.Event()
        return end

    def after(self, seq: int) -> list[Batch]:
        """The kept batches later than ``seq``."""
        return [batch for batch in self.batches if batch.seq > seq]


class LiveFeeds:
    """The feeds of one web lab, one per run being watched, and the count of open streams."""

    def __init__(self, poll_s: float = POLL_S) -> None:
        self.poll_s = poll_s
        self.feeds: dict[Path, RunFeed] = {}
        self.counter = StreamCounter()

    @property
    def open(self) -> int:
        return self.counter.open

    def join(self, run_dir: RunDir, offset: int) -> RunFeed:
        """The run's feed (started at ``offset`` if there is none), with one client more."""
        feed = self.feeds.get(run_dir.root)
        if feed is None:
            feed = self.feeds[run_dir.root] = RunFeed(run_dir, offset, self.poll_s, self._stopped)
        feed.clients += 1
        return feed

    def leave(self, feed: RunFeed) -> None:
        feed.clients -= 1
        if feed.clients <= 0 and not feed.task.done():
            feed.task.cancel()
            self._stopped(feed)

    def _stopped(self, feed: RunFeed) -> None:
        if self.feeds.get(feed.run_dir.root) is feed:
            del self.feeds[feed.run_dir.root]


async def metric_events(
    feeds: LiveFeeds,
    run_dir: RunDir,
    offset: int,
    is_disconnected: Callable[[], Awaitable[bool]],
    check_s: float = CHECK_S,
) -> AsyncIterator[str]:
    """The event stream of one run from byte ``offset`` of its metrics.jsonl (see the module):
    first what the file holds after ``offset`` and the status, then the feed's batches."""
    feeds.counter.open += 1
    feed = None
    try:
        records, offset, reset = read_new_records(run_dir.metrics_path, offset)
        # Joined with no await since the read: the feed's next batch starts at or before ``offset``.
        feed = feeds.join(run_dir, offset)
        seq, status = feed.seq, feed.status
        yield (
            ("event: reset\ndata: {}\n\n" if reset else "")
            + "".join(text for _, text in metric_texts(records))
            + sse("status", {"status": status})
        )
        sent = time.monotonic()
        while True:
            batches = feed.after(seq)
            if not batches:
                if feed.task.done():  # its reader failed (or stopped): follow a new one
                    feeds.leave(feed)
                    feed = feeds.join(run_dir, offset)
                    seq = feed.seq
                    if feed.status != status:
                        status = feed.status
                        yield sse("status", {"status": status})
                    continue
                if await _woken(feed.changed, check_s):
                    continue
                if await is_disconnected():
                    return
            for batch in batches:
                chunk, offset = _client_chunk(batch, offset, run_dir)
                if batch.status and batch.status != status:
                    status = batch.status
                    chunk += sse("status", {"status": status})
                seq = batch.seq
                if batch.end:
                    yield chunk + sse("end", {"offset": offset})
                    return
                if chunk:
                    yield chunk
                    sent = time.monotonic()
            if time.monotonic() - sent > HEARTBEAT_S:
                sent = time.monotonic()
                yield ": heartbeat\n\n"
    finally:
        feeds.counter.open -= 1
        if feed is not None:
            feeds.leave(feed)


async def _woken(event: asyncio.Event, timeout_s: float) -> bool:
    """Whether ``event`` was set within ``timeout_s``."""
    try:
        await asyncio.wait_for(event.wait(), timeout_s)
    except asyncio.TimeoutError:  # not yet TimeoutError itself on Python 3.10
        return False
    return True


def _client_chunk(batch: Batch, offset: int, run_dir: RunDir) -> tuple[str, int]:
    """The metric events of ``batch`` that a client at ``offset`` has not sent, and its new
    offset. A client that read past the batch's start skips what it has; one that is behind it
    (it missed batches) reads the gap from the file."""
    if batch.reset:
        return "event: reset\ndata: {}\n\n" + batch.text, batch.end_offset
    if batch.start == offset:
        return batch.text, max(offset, batch.end_offset)
    if batch.start > offset:
        records, offset, reset = read_new_records(run_dir.metrics_path, offset)
        texts = metric_texts(records)
        return ("event: reset\ndata: {}\n\n" if reset else "") + "".join(t for _, t in texts), offset
    fresh = [text for after, text in batch.metrics if after > offset]
    return "".join(fresh), max(offset, batch.end_offset)
