"""metrics.jsonl as the trainer writes it: each record is in the file as soon as it is written."""

from __future__ import annotations

import json

from cnnlab.runs.rundir import MetricsLog


def test_a_record_reaches_the_file_without_a_flush(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    try:
        log.write({"kind": "step", "step": 1, "loss": 2.0})
        # What the web lab's live stream (another reader) sees, before any checkpoint flushes.
        assert [json.loads(line) for line in path.read_text().splitlines()] == [
            {"kind": "step", "step": 1, "loss": 2.0}
        ]
        log.write({"kind": "step", "step": 2, "loss": 1.5})
        assert len(path.read_text().splitlines()) == 2
    finally:
        log.close()
