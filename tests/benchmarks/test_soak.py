"""The fault suite's soak: a trial kills a real `python -m cnnlab train`, resumes it, compares."""

from __future__ import annotations

import json

from benchmarks import soak


def test_the_last_logged_step_skips_a_half_written_line(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    assert soak._logged_step(metrics) == 0
    metrics.write_text(json.dumps({"kind": "step", "step": 7}) + "\n" + '{"kind": "st')
    assert soak._logged_step(metrics) == 7


def test_one_trial_ends_bit_identical_and_the_index_lists_each_run_once(tmp_path, capsys):
    summary = soak.run(trials=1, seed=3, runs_dir=tmp_path / "runs")
    (trial,) = summary["results"]
    assert trial["resumed"], trial["message"]
    assert trial["identical"] and summary["identical"] == 1
    assert summary["index_lists_each_run_once"]
    assert "1/1 bit-identical" in capsys.readouterr().out
