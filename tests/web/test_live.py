"""The live stream: new records arrive as they are written, torn lines wait, a shortened file
resets, the stream ends with the run, and a client that goes away frees what it held."""

from __future__ import annotations

import asyncio
import json

from cnnlab.runs.rundir import RunDir
from cnnlab.web import live
from cnnlab.web.live import LiveFeeds, metric_events, read_new_records


def _running_run(tmp_path) -> RunDir:
    folder = tmp_path / "live"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "result.json").write_text(json.dumps({"status": "running"}))
    (folder / "metrics.jsonl").write_text("")
    return RunDir(folder)


def _append(run: RunDir, text: str) -> None:
    with open(run.metrics_path, "a") as f:
        f.write(text)


def test_only_complete_lines_are_read_and_the_offset_goes_past_them(tmp_path):
    run = _running_run(tmp_path)
    _append(run, '{"kind": "step", "step": 1}\n{"kind": "st')
    records, offset, reset = read_new_records(run.metrics_path, 0)
    assert [r for r, _ in records] == [{"kind": "step", "step": 1}] and not reset
    _append(run, 'ep", "step": 2}\n')
    records, offset, _ = read_new_records(run.metrics_path, offset)
    assert [r for r, _ in records] == [{"kind": "step", "step": 2}]
    assert offset == run.metrics_path.stat().st_size


def test_a_shortened_file_resets_to_its_start(tmp_path):
    run = _running_run(tmp_path)
    _append(run, '{"step": 1}\n{"step": 2}\n')
    _, offset, _ = read_new_records(run.metrics_path, 0)
    run.metrics_path.write_text('{"step": 1}\n')  # a resumed run dropped the records after its checkpoint
    records, _, reset = read_new_records(run.metrics_path, offset)
    assert reset and [r for r, _ in records] == [{"step": 1}]


def _kinds(chunks: list[str]) -> list[str]:
    """The event names in the chunks a stream sent, in order."""
    blocks = [b for chunk in chunks for b in chunk.split("\n\n") if b.startswith("event: ")]
    return [b.split("\n")[0].removeprefix("event: ") for b in blocks]


async def _connected() -> bool:
    return False


def test_the_stream_sends_new_lines_then_ends_with_the_run(tmp_path):
    run = _running_run(tmp_path)
    feeds = LiveFeeds(poll_s=0.01)

    async def scenario() -> list[str]:
        events = metric_events(feeds, run, 0, _connected, check_s=0.01)
        seen = [await anext(events)]  # the status: running
        _append(run, '{"kind": "epoch", "epoch": 1}\n')
        seen.append(await anext(events))
        run.result_path.write_text(json.dumps({"status": "finished"}))
        seen += [event async for event in events]
        return seen

    seen = asyncio.run(scenario())
    assert _kinds(seen) == ["status", "metric", "status", "end"]
    assert json.loads(seen[1].split("data: ")[1])["epoch"] == 1
    assert feeds.open == 0 and not feeds.feeds


def test_the_lines_of_one_poll_go_out_as_one_chunk(tmp_path):
    run = _running_run(tmp_path)
    feeds = LiveFeeds(poll_s=0.05)

    async def scenario() -> str:
        events = metric_events(feeds, run, 0, _connected, check_s=0.01)
        await anext(events)
        _append(run, "".join(f'{{"kind": "step", "step": {k}}}\n' for k in range(5)))
        chunk = await anext(events)
        await events.aclose()
        return chunk

    assert _kinds([asyncio.run(scenario())]) == ["metric"] * 5


def test_twenty_clients_share_one_reader_and_each_gets_every_record(tmp_path):
    run = _running_run(tmp_path)
    _append(run, '{"kind": "step", "step": 0}\n')
    feeds = LiveFeeds(poll_s=0.01)

    async def client(offset: int) -> list[str]:
        return [chunk async for chunk in metric_events(feeds, run, offset, _connected, check_s=0.01)]

    async def scenario() -> tuple[list[list[str]], int]:
        # Half start at the file's start, half at its end (as a page that loaded the metrics).
        clients = [asyncio.create_task(client(0 if k % 2 else 28)) for k in range(20)]
        await asyncio.sleep(0.05)
        assert len(feeds.feeds) == 1 and feeds.open == 20
        for step in range(1, 4):
            _append(run, f'{{"kind": "step", "step": {step}}}\n')
            await asyncio.sleep(0.03)
        run.result_path.write_text(json.dumps({"status": "finished"}))
        seen = await asyncio.gather(*clients)
        return seen, 0

    seen, _ = asyncio.run(scenario())
    for k, chunks in enumerate(seen):
        steps = [json.loads(b.split("data: ")[1])["step"] for c in chunks for b in c.split("\n\n")
                 if b.startswith("event: metric")]  # fmt: skip
        assert steps == ([0, 1, 2, 3] if k % 2 else [1, 2, 3])
        assert _kinds(chunks)[-2:] == ["status", "end"]
    assert feeds.open == 0 and not feeds.feeds


def test_one_poll_reads_the_files_once_for_every_client(tmp_path, monkeypatch):
    run = _running_run(tmp_path)
    feeds = LiveFeeds(poll_s=0.01)
    reads = []
    original = live.read_new_records
    monkeypatch.setattr(live, "read_new_records", lambda *a: reads.append(1) or original(*a))

    async def scenario() -> int:
        streams = [metric_events(feeds, run, 0, _connected, check_s=0.01) for _ in range(20)]
        for events in streams:
            await anext(events)  # each reads what the file holds once, when it connects
        connected = len(reads)
        await asyncio.sleep(0.2)
        feed = next(iter(feeds.feeds.values()))
        polled = len(reads) - connected
        for events in streams:
            await events.aclose()
        return polled, feed.polls

    polled, polls = asyncio.run(scenario())
    assert polls >= 5 and polled == polls  # one read per poll, not one per client


def test_a_client_that_disconnects_frees_its_stream(tmp_path):
    run = _running_run(tmp_path)
    feeds = LiveFeeds(poll_s=0.01)
    gone = False

    async def disconnected() -> bool:
        return gone

    async def scenario() -> None:
        nonlocal gone
        events = metric_events(feeds, run, 0, disconnected, check_s=0.01)
        await anext(events)
        assert feeds.open == 1 and len(feeds.feeds) == 1
        gone = True
        assert [event async for event in events] == []  # the loop sees the disconnect and returns

    asyncio.run(scenario())
    assert feeds.open == 0 and not feeds.feeds


def test_a_closed_stream_is_freed_at_once(tmp_path):
    run = _running_run(tmp_path)
    feeds = LiveFeeds(poll_s=0.01)

    async def scenario() -> None:
        events = metric_events(feeds, run, 0, _connected, check_s=0.01)
        await anext(events)
        await events.aclose()  # what Starlette does when the client goes away mid-wait
        assert feeds.open == 0 and not feeds.feeds

    asyncio.run(scenario())


def test_a_reader_that_fails_is_replaced_and_the_client_still_gets_every_record(tmp_path, monkeypatch):
    run = _running_run(tmp_path)
    feeds = LiveFeeds(poll_s=0.01)
    failures = []
    poll = live.RunFeed.poll

    def failing_once(self):
        if not failures:
            failures.append(self)
            raise RuntimeError("a reader's bug")
        return poll(self)

    monkeypatch.setattr(live.RunFeed, "poll", failing_once)

    async def scenario() -> list[str]:
        events = metric_events(feeds, run, 0, _connected, check_s=0.01)
        seen = [await anext(events)]
        _append(run, '{"kind": "step", "step": 1}\n')
        seen.append(await anext(events))
        run.result_path.write_text(json.dumps({"status": "finished"}))
        seen += [event async for event in events]
        return seen

    seen = asyncio.run(scenario())
    assert failures and _kinds(seen) == ["status", "metric", "status", "end"]
    assert feeds.open == 0 and not feeds.feeds
