"""The live stream: new records arrive as they are written, torn lines wait, a shortened file
resets, the stream ends with the run, and a client that goes away frees what it held."""

from __future__ import annotations

import asyncio
import json

from cnnlab.runs.rundir import RunDir
from cnnlab.web.live import StreamCounter, metric_events, read_new_records


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


def test_the_stream_sends_new_lines_then_ends_with_the_run(tmp_path):
    run = _running_run(tmp_path)
    counter = StreamCounter()

    async def scenario() -> list[str]:
        async def connected() -> bool:
            return False

        events = metric_events(run, 0, connected, counter, poll_s=0.01)
        seen = [await anext(events)]  # the status: running
        _append(run, '{"kind": "epoch", "epoch": 1}\n')
        seen.append(await anext(events))
        run.result_path.write_text(json.dumps({"status": "finished"}))
        seen += [event async for event in events]
        return seen

    seen = asyncio.run(scenario())
    assert [e.split("\n")[0] for e in seen] == [
        "event: status",
        "event: metric",
        "event: status",
        "event: end",
    ]
    assert json.loads(seen[1].split("data: ")[1])["epoch"] == 1
    assert counter.open == 0


def test_a_client_that_disconnects_frees_its_stream(tmp_path):
    run = _running_run(tmp_path)
    counter = StreamCounter()
    gone = False

    async def disconnected() -> bool:
        return gone

    async def scenario() -> None:
        nonlocal gone
        events = metric_events(run, 0, disconnected, counter, poll_s=0.01)
        await anext(events)
        assert counter.open == 1
        gone = True
        assert [event async for event in events] == []  # the loop sees the disconnect and returns

    asyncio.run(scenario())
    assert counter.open == 0


def test_a_closed_stream_is_freed_at_once(tmp_path):
    run = _running_run(tmp_path)
    counter = StreamCounter()

    async def scenario() -> None:
        async def connected() -> bool:
            return False

        events = metric_events(run, 0, connected, counter, poll_s=0.01)
        await anext(events)
        await events.aclose()  # what Starlette does when the client goes away mid-wait

    asyncio.run(scenario())
    assert counter.open == 0
