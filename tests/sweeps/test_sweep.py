"""A whole sweep in one process: trials are runs on a validation split, the median pruner prunes a
hopeless trial, the best settings are retrained over seeds and tested once, the report has numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

import cnnlab
from cnnlab.cli import main
from cnnlab.runs.index import RunIndex
from cnnlab.runs.rundir import RunDir


def test_pruning_final_seeds_and_report(tiny: dict[str, Any], capsys):
    runs = Path(tiny["runs_dir"])
    # Built to prune: trial 0 learns (lr 0.01), trial 1 cannot (lr 1e-6, at chance after epoch 1),
    # and with one startup trial the median pruner compares trial 1 to trial 0 after its first epoch.
    result = cnnlab.sweep(
        "prune",
        trials=3,
        space={"lr": "log:1e-6:1e-2"},
        enqueue=[{"lr": 1e-2}, {"lr": 1e-6}, {"lr": 3e-3}],
        pruner="median",
        pruner_startup=1,
        final_seeds=2,
        progress=True,
        **{**tiny, "epochs": 2, "optimizer": "adam"},
    )
    states = {t.number: t.state for t in result.study.trials}
    assert states[1] == optuna.trial.TrialState.PRUNED
    assert (
        sum(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for s in states.values())
        == 3
    )
    assert "trial 1 pruned" in capsys.readouterr().err

    # Every trial is an ordinary run in the sweep's group, the pruned one marked so, after 1 epoch.
    rows = {row["run_id"]: row for row in RunIndex(runs).list(group="prune")}
    assert set(rows) == {"prune-trial0", "prune-trial1", "prune-trial2"}
    assert rows["prune-trial1"]["status"] == "pruned" and rows["prune-trial1"]["epochs_done"] == 1
    assert RunDir(runs / "prune-trial1").read_result()["pruned"].startswith("pruned after epoch 1 of 2")
    assert rows["prune-trial0"]["status"] == "finished"
    # The trials never saw the test set; they were measured on their validation split.
    for name in rows:
        final = RunDir(runs / name).read_result()["final"]
        assert "val_accuracy" in final and not any(key.startswith("test_") for key in final)

    # The final runs: the best settings, seeds 0 and 1, each tested once, after its last epoch.
    results = json.loads((result.report_dir / "results.json").read_text())
    best = results["best"]
    assert best["number"] == result.study.best_trial.number and best["settings"]["lr"] == best["params"]["lr"]
    finals = results["final"]["runs"]
    assert [run["seed"] for run in finals] == [0, 1]
    for run in finals:
        history = RunDir(run["dir"]).history()
        assert [("test_accuracy" in record) for record in history] == [False, True]
    # Seed 0 repeats the best trial exactly: same settings, same seed, same validation split.
    assert finals[0]["final"]["val_accuracy"] == best["value"]
    summary = results["final"]["summary"]["test_accuracy"]
    accuracies = [run["final"]["test_accuracy"] for run in finals]
    assert summary["n"] == 2 and abs(summary["mean"] - sum(accuracies) / 2) < 1e-12

    report = (result.report_dir / "report.md").read_text()
    mean, std = summary["mean"] * 100, summary["std"] * 100
    assert f"{mean:.2f} ± {std:.2f}%" in report
    assert "cnnlab train --model lenet5 --dataset mnist" in report
    assert set(results["importance"]["values"]) == {"lr"}
    for plot in ("history.png", "parallel_coordinates.png"):
        assert (result.report_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert f"--lr {best['params']['lr']}" in results["reproduce"]

    # The command line sees the same: the pruned run, and the study's state.
    capsys.readouterr()
    assert main(["runs", "list", "--status", "pruned", "--runs-dir", str(runs), "--json"]) == 0
    pruned = {f"prune-trial{n}" for n, state in states.items() if state == optuna.trial.TrialState.PRUNED}
    assert {row["run_id"] for row in json.loads(capsys.readouterr().out)} == pruned
    assert main(["sweep", "--show", "prune", "--runs-dir", str(runs), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    complete = 3 - len(pruned)
    expected = {"finished": 3, "complete": complete, "pruned": len(pruned), "running": 0, "waiting": 0}
    assert state["counts"] == {**expected, "failed": 0}
    assert state["best"]["number"] == best["number"] and len(state["trials"]) == 3
    assert main(["sweep", "--show", "prune", "--runs-dir", str(runs)]) == 0
    assert f"{complete} complete, {len(pruned)} pruned" in capsys.readouterr().out


def test_running_it_again_reuses_everything(tiny: dict[str, Any]):
    options = {"trials": 2, "space": {"lr": "log:1e-3:1e-2"}, "final_seeds": 1, "progress": False, **tiny}
    first = cnnlab.sweep("again", sampler_seed=0, **options)
    mtime = (
        Path(tiny["runs_dir"]) / f"again-best{first.study.best_trial.number}-seed0" / "result.json"
    ).stat()
    second = cnnlab.sweep("again", **options)
    assert len(second.study.trials) == 2
    assert second.results["final"] == first.results["final"]
    again = (
        Path(tiny["runs_dir"]) / f"again-best{second.study.best_trial.number}-seed0" / "result.json"
    ).stat()
    assert again.st_mtime_ns == mtime.st_mtime_ns


def test_the_later_of_two_workers_racing_for_the_last_trial_gives_it_up():
    from cnnlab.sweeps.objective import is_surplus

    study = optuna.create_study()
    first = study.ask()
    study.tell(first, 1.0)
    second, third = study.ask(), study.ask()  # two workers asked at once for the second of 2 trials
    assert not is_surplus(second, wanted=2)
    assert is_surplus(third, wanted=2)
    assert not is_surplus(third, wanted=3)
