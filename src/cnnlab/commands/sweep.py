"""``cnnlab sweep``: a hyper-parameter search on Optuna, each trial an ordinary cnnlab run.

Besides its own options it takes every ``cnnlab train`` flag as a fixed setting of all trials
(``--epochs 3 --subset 2000``); the varying ones come from ``--param`` and ``--space``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from cnnlab.commands.output import console, print_json, print_table
from cnnlab.commands.train import _setting_options, parse_model_args
from cnnlab.errors import UsageError

_HELP = """Search hyper-parameters with Optuna; every trial is a run (group NAME) measured on a
validation split; the best settings are retrained with --final-seeds seeds and tested once.

Examples: cnnlab sweep lr-search --model lenet5 --param 'lr=log:1e-4:1e-1'
--param 'optimizer=choice:sgd,adam' --epochs 2 --subset 5000 --trials 20 --workers 2;
cnnlab sweep --show lr-search. Run the same command again to continue a stopped sweep.
"""

# Settings of one run that a sweep sets itself.
_NOT_FLAGS = ("name",)

_SWEEP_OPTIONS: list[tuple[str, Any, Any]] = [
    ("sweep_name", str, typer.Argument(..., metavar="NAME", help="The sweep (Optuna study) name.")),
    (
        "show",
        bool,
        typer.Option(False, "--show", help="Print the study's state (while it runs, too) and exit."),
    ),
    (
        "space",
        Path | None,
        typer.Option(None, "--space", help="TOML file with \\[search] and \\[fixed] tables."),
    ),
    (
        "param",
        list[str] | None,
        typer.Option(
            None,
            "--param",
            help="NAME=SPEC (repeatable): log:LOW:HIGH, float:LOW:HIGH[:STEP], int:LOW:HIGH[:STEP], "
            "choice:A,B,C; model options as model_args.KEY; a plain value is fixed.",
        ),
    ),
    ("trials", int | None, typer.Option(None, "--trials", help="Finished trials the study should hold.")),
    ("workers", int, typer.Option(1, "--workers", help="Worker processes on this machine (threads shared).")),
    (
        "storage",
        str | None,
        typer.Option(
            None, "--storage", help="sqlite:///PATH or postgresql://... (default: RUNS_DIR/sweeps.db)."
        ),
    ),
    ("pruner", str, typer.Option("median", "--pruner", help="median, hyperband or none.")),
    (
        "pruner_startup",
        int,
        typer.Option(5, "--pruner-startup", help="Median pruner: trials that are never pruned."),
    ),
    (
        "metric",
        str,
        typer.Option("val_accuracy", "--metric", help="The objective: val_accuracy or val_loss."),
    ),
    (
        "final_seeds",
        int,
        typer.Option(3, "--final-seeds", help="Seeds of the best settings' test runs (0: none)."),
    ),
    ("heartbeat", int, typer.Option(10, "--heartbeat", help="Seconds between a trial's heartbeats.")),
    ("sampler_seed", int | None, typer.Option(None, "--sampler-seed", help="Seed of the TPE sampler.")),
    (
        "model_arg",
        list[str] | None,
        typer.Option(None, "--model-arg", help="Fixed model option KEY=VALUE (repeatable)."),
    ),
    ("quiet", bool, typer.Option(False, "--quiet", "-q", help="No progress lines.")),
    ("as_json", bool, typer.Option(False, "--json", help="Print results.json (or --show's state) as JSON.")),
]


def register(app: typer.Typer) -> None:
    app.command("sweep", help=_HELP)(_sweep_command())


def run_sweep(options: dict[str, Any]) -> None:
    """The body of ``cnnlab sweep``: ``options`` are the parsed flags (None where not given)."""
    command = {name: options.pop(name) for name, _, _ in _SWEEP_OPTIONS}
    settings = {name: value for name, value in options.items() if value is not None}
    if command["show"]:
        _show(command["sweep_name"], command["storage"], settings.get("runs_dir"), command["as_json"])
        return
    if command["trials"] is None:
        raise UsageError("Give --trials N: how many finished trials the sweep should hold.")
    if command["model_arg"]:
        settings["model_args"] = parse_model_args(command["model_arg"])
    from cnnlab.sweeps import sweep

    result = sweep(
        command["sweep_name"],
        trials=command["trials"],
        params=command["param"] or (),
        space_file=command["space"],
        workers=command["workers"],
        storage=command["storage"],
        pruner=command["pruner"],
        pruner_startup=command["pruner_startup"],
        metric=command["metric"],
        final_seeds=command["final_seeds"],
        heartbeat_s=command["heartbeat"],
        sampler_seed=command["sampler_seed"],
        progress=not (command["quiet"] or command["as_json"]),
        **settings,
    )
    if command["as_json"]:
        print_json(result.results)
    else:
        console.print(str(result.report_dir / "report.md"))


def _show(name: str, storage: str | None, runs_dir: str | None, as_json: bool) -> None:
    from cnnlab.runs.rundir import default_runs_dir
    from cnnlab.sweeps.report import sweep_state
    from cnnlab.sweeps.storage import check_storage_url, default_storage

    url = check_storage_url(storage) if storage else default_storage(default_runs_dir(runs_dir))
    if not storage and not Path(url[len("sqlite:///") :]).is_file():
        raise UsageError(
            f"No sweeps in {default_runs_dir(runs_dir)} (no sweeps.db); give --storage or --runs-dir."
        )
    state = sweep_state(name, url)
    if as_json:
        print_json(state)
        return
    counts = state["counts"]
    rows = [
        {
            "trial": t["number"],
            "state": t["state"],
            "value": "" if t["value"] is None else t["value"],
            "epochs": t["epochs_reported"],
            **{k: v for k, v in t["params"].items()},
            "run": t["run"] or "",
            "worker": t["worker"] or "",
        }
        for t in state["trials"]
    ]
    print_table(rows, title=f"Sweep {name}: {state['direction']} {state['metric']} ({state['storage']})")
    console.print(
        f"{counts['finished']} finished ({counts['complete']} complete, {counts['pruned']} pruned), "
        f"{counts['running']} running, {counts['waiting']} waiting, {counts['failed']} failed."
    )
    if state["best"]:
        best = state["best"]
        console.print(
            f"Best so far: trial {best['number']}, {state['metric']} {best['value']:.4g}, {best['params']}"
        )


def _sweep_command():
    """A function whose signature Typer reads: the sweep's options plus every train setting."""

    def command(**options: Any) -> None:
        run_sweep(options)

    settings = [option for option in _setting_options() if option[0] not in _NOT_FLAGS]
    parameters, annotations = [], {}
    for name, annotation, option in _SWEEP_OPTIONS + settings:
        kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD
            if name == "sweep_name"
            else inspect.Parameter.KEYWORD_ONLY
        )
        parameters.append(inspect.Parameter(name, kind, default=option))
        annotations[name] = annotation
    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = annotations
    command.__doc__ = _HELP
    return command
