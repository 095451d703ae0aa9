"""The fault suite's soak: a trial kills a real `python -m cnnlab train`, resumes it, compares."""

from __future__ import annotations

import json

from benchmarks import soak


def test_the_last_logged_step_skips_a_half_written_line(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    assert soak._logged_step(metrics) == 0
    metrics.write_text(json.dumps({"kind": "step", "step": 7}) + "\n" + '{"kind": "st')
    assert soak._logged_step(metrics) == 7


def test_two_trials_at_a_time_end_bit_identical_and_the_index_lists_each_run_once(tmp_path, capsys):
    summary = soak.run(trials=2, seed=3, runs_dir=tmp_path / "runs", workers=2)
    assert [trial["name"] for trial in summary["results"]] == ["soak-0", "soak-1"]
    for trial in summary["results"]:
        assert trial["resumed"], trial["message"]
        assert trial["identical"]
    assert summary["identical"] == 2 and summary["index_lists_each_run_once"]
    assert "2/2 bit-identical" in capsys.readouterr().out


def test_the_trials_a_seed_draws_are_the_earlier_sequential_draw():
    """Drawn up front (so workers change nothing): the same trials the one-at-a-time soak drew."""
    import random

    chooser, earlier = random.Random(0), []
    for number in range(20):
        kind = chooser.choice(sorted(soak.SIGNALS))
        step = 0 if chooser.random() < soak.STARTUP_SHARE else chooser.randint(1, soak.STEPS - 1)
        earlier.append((number, kind, step, chooser.uniform(0.0, soak.STARTUP_KILL_S)))
    assert soak.draw_trials(20, 0) == earlier


def test_a_start_up_kill_lands_at_the_first_logged_step_if_that_comes_before_its_delay(tmp_path):
    """On a quiet machine a trial's whole training can end within the start-up window (0.5 s): the
    kill must land before the first checkpoint, not after the run has finished."""
    import signal
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    code = (
        "import json, pathlib, time\n"
        f"run = pathlib.Path({str(run_dir)!r}); run.mkdir()\n"
        "(run / 'config.json').write_text('{}')\n"
        "(run / 'metrics.jsonl').write_text(json.dumps({'kind': 'step', 'step': 1}) + '\\n')\n"
        "time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    assert soak._signal_at(child, run_dir / "metrics.jsonl", 0, 60.0, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
