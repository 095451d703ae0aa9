"""``cnnlab train`` and ``cnnlab runs list|show|compare``.

The flags of ``cnnlab train`` are made from the fields of :class:`~cnnlab.training.config.TrainConfig`
(names, types and help text), so every setting has a flag and the two never drift apart. A flag
given on the command line overrides ``--config`` and ``--recipe``; one not given leaves them be.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any

import typer

from cnnlab.commands.output import console, err_console, print_json, print_table
from cnnlab.errors import UsageError
from cnnlab.formatting import format_duration
from cnnlab.training import config as train_config

RUNS_DIR_HELP = "Runs directory (default: $CNNLAB_RUNS or ./runs)."
MAIN_JOB_RECIPE = "default"  # what a bare `cnnlab train` runs

# Options of `cnnlab train` that are not settings of one run.
_COMMAND_OPTIONS: list[tuple[str, Any, Any]] = [
    ("config_file", Path | None, typer.Option(None, "--config", help="TOML or YAML file of settings.")),
    ("recipe", str | None, typer.Option(None, "--recipe", help="Named preset of settings (e.g. default).")),
    ("resume", str | None, typer.Option(None, "--resume", help="Continue this run (name or directory).")),
    ("seeds", str | None, typer.Option(None, "--seeds", help="Run once per seed, e.g. 0,1,2,3,4 or 0-4.")),
    (
        "model_arg",
        list[str] | None,
        typer.Option(None, "--model-arg", help="Model option KEY=VALUE (repeatable), e.g. dropout=0.5."),
    ),
    ("quiet", bool, typer.Option(False, "--quiet", "-q", help="No progress; print only the run directory.")),
    ("as_json", bool, typer.Option(False, "--json", help="No progress; print the result as JSON.")),
    (
        "nproc",
        int | None,
        typer.Option(
            None,
            "--nproc",
            help="Data-parallel: train on N processes of this machine (torchrun + DDP; the batch is "
            "shared out, --threads too). Across machines use torchrun (docs/distributed.md).",
        ),
    ),
]
# On --resume a run keeps its own settings; only these may be given again.
RESUME_ALLOWED = frozenset({"runs_dir"})

runs_app = typer.Typer(
    help="Look at past runs: list them, show one, compare two configurations.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``train``, ``recipes`` and the ``runs`` group to the root app."""
    app.command("train", help=_TRAIN_HELP)(_train_command())
    app.command("recipes")(recipes_command)
    app.add_typer(runs_app, name="runs")


def recipes_command(
    as_json: bool = typer.Option(False, "--json", help="Print the recipes as JSON."),
) -> None:
    """List the named presets of `cnnlab train --recipe NAME`: what each sets and what it measured."""
    from cnnlab.training.recipes import list_recipes

    rows = [
        {
            "name": recipe.name,
            "summary": recipe.summary,
            "settings": _settings_text(recipe.settings) or "(defaults)",
            "measured": recipe.measured,
            **_float32_cells(recipe),
        }
        for recipe in list_recipes()
    ]
    if as_json:
        print_json(rows)
        return
    print_table(rows, title="cnnlab train --recipe NAME (flags given with it still override it)")


_TRAIN_HELP = """Train a model: `cnnlab train` alone trains LeNet-5 on MNIST to 99% (offline), with the
settings of `--recipe default` (`cnnlab recipes` lists them); the defaults shown below apply
once --model, --dataset or --config is given.

Examples: cnnlab train --model tutorial-cnn --dataset cifar10 --epochs 10 --optimizer adam --lr 1e-3;
cnnlab train --seeds 0-4 --name baseline; cnnlab train --resume baseline-seed0.
"""


def _settings_text(settings: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in settings.items())


def _float32_cells(recipe: Any) -> dict[str, str]:
    """A recipe's float32 settings (taken in float32 on a CPU: training/float32_recipes.py) and
    what they measured, after its own (the JSON has them as their own keys too)."""
    if not recipe.float32_settings:
        return {}
    return {
        "settings": f"{_settings_text(recipe.settings)}; in float32 on a CPU: "
        f"{_settings_text(recipe.float32_settings)}",
        "measured": f"{recipe.measured}; float32: {recipe.float32_measured}",
    }


# -- cnnlab train ------------------------------------------------------------------------------
def run_train(options: dict[str, Any]) -> None:
    """The body of ``cnnlab train``: ``options`` are the parsed flags (None where not given)."""
    from cnnlab.training.distributed import launched_world_size

    if options["nproc"] is not None and options["nproc"] != 1:
        _launch_ranks(options)
    elif launched_world_size() > 1:
        _as_rank(options)
    else:
        _run_train(options)


def _run_train(options: dict[str, Any]) -> None:
    command = {name: options.pop(name) for name, _, _ in _COMMAND_OPTIONS}
    settings = {name: value for name, value in options.items() if value is not None}
    if command["model_arg"]:
        settings["model_args"] = parse_model_args(command["model_arg"])
    quiet, as_json = command["quiet"], command["as_json"]
    from cnnlab.training.progress import ConsoleReporter, Reporter

    reporter = Reporter() if quiet or as_json else ConsoleReporter(err_console, summary=False)
    if command["resume"]:
        run = _resume(command, settings, reporter)
        _print_run(run, quiet, as_json)
        return
    command["recipe"] = command["recipe"] or _main_job_recipe(command, settings)
    if command["seeds"]:
        _train_seeds(command, settings, reporter, quiet, as_json)
        return
    from cnnlab.training import train

    run = train(recipe=command["recipe"], config_file=command["config_file"], progress=reporter, **settings)
    _print_run(run, quiet, as_json)


# -- data-parallel (docs/distributed.md; the engine is torchrun's, training/launch.py) ------------
def _launch_ranks(options: dict[str, Any]) -> None:
    """``--nproc N``: check the request (nothing is written if it is refused), then run this same
    command as N ranks under torchrun's agent, and exit with what they ended with."""
    from cnnlab.training.hardware import available_cores
    from cnnlab.training.launch import check_nproc, check_settings, launch

    nproc = options["nproc"]
    check_nproc(nproc)
    config = _launch_config(options)
    check_settings(nproc, config.device, config.batch_size)
    if options["seeds"]:
        raise UsageError("--nproc trains one run; run --seeds one seed at a time with it.")
    threads = max(1, (config.threads or available_cores()) // nproc)
    code = launch(["train", *_flags(options, skip={"nproc"})], nproc, threads)
    if code:
        raise typer.Exit(code)


def _launch_config(options: dict[str, Any]) -> Any:
    """The settings the ranks will train with (a resumed run's own), checked as `train` checks them."""
    from cnnlab.training.config import TrainConfig, resolve_config

    if options["resume"]:
        from cnnlab.runs.rundir import RunDir

        run_dir = RunDir.find(options["resume"], options.get("runs_dir"))
        if run_dir.read_result().get("status") == "finished":
            raise UsageError(f"Run {run_dir.root} has already finished; there is nothing to resume.")
        return TrainConfig.from_dict(run_dir.read_config(), source=str(run_dir.config_path))
    names = {name for name, _, _ in _COMMAND_OPTIONS}
    settings = {k: v for k, v in options.items() if k not in names and v is not None}
    if options["model_arg"]:
        settings["model_args"] = parse_model_args(options["model_arg"])
    recipe = options["recipe"] or _main_job_recipe({"config_file": options["config_file"]}, settings)
    return resolve_config(recipe=recipe, config_file=options["config_file"], overrides=settings)


_FLAG_NAMES = {"as_json": "json", "config_file": "config"}  # options whose flag is not their name


def _flags(options: dict[str, Any], skip: set[str]) -> list[str]:
    """The command line that gives ``options`` again (the ranks parse the same flags)."""
    flags: list[str] = []
    for name, value in options.items():
        if value is None or name in skip or value is False and name in ("quiet", "as_json"):
            continue
        flag = "--" + _FLAG_NAMES.get(name, name.replace("_", "-"))
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, list):
            flags.extend(part for item in value for part in (flag, str(item)))
        else:
            flags.extend([flag, str(value)])
    return flags


def _as_rank(options: dict[str, Any]) -> None:
    """One rank under torchrun: train; a failure goes to torchrun's report, and only rank 0's own
    cnnlab errors are printed here (the line a one-process run prints)."""
    from cnnlab.training.launch import exit_code_of, record_rank_failure

    try:
        _run_train(options)
    except typer.Exit:
        raise
    except BaseException as exc:
        if record_rank_failure(exc):
            raise
        raise typer.Exit(exit_code_of(exc)) from None


def _main_job_recipe(command: dict[str, Any], settings: dict[str, Any]) -> str | None:
    """``default`` for the main job (no --model, --dataset, --recipe or --config: LeNet-5 on MNIST),
    whose settings reach 99% in one short run (see the recipe); None otherwise, so that other
    models and datasets start from TrainConfig's plain defaults, as in the Python API."""
    if command["config_file"] or "model" in settings or "dataset" in settings:
        return None
    return MAIN_JOB_RECIPE


def parse_model_args(pairs: list[str]) -> dict[str, Any]:
    """``["dropout=0.5", "hidden=[256,128]", "residual=false,false,true"]`` -> ``{"dropout": 0.5,
    "hidden": [256, 128], "residual": [False, False, True]}``: a bare comma-separated value is a list
    (a shell eats the brackets of ``[a,b]`` unless quoted); quote a string that holds a comma."""
    import yaml

    parsed = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--model-arg {pair!r}: write KEY=VALUE, e.g. --model-arg dropout=0.5.")
        parsed[key.strip()] = _model_arg_value(text, yaml)
    return parsed


def _model_arg_value(text: str, yaml: Any) -> Any:
    try:
        value = yaml.safe_load(text)  # numbers, booleans and lists get their types
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and "," in value and text.strip()[:1] not in ("'", '"'):
        try:
            return yaml.safe_load(f"[{text}]")
        except yaml.YAMLError:
            return value
    return value


def _resume(command: dict[str, Any], settings: dict[str, Any], reporter: Any) -> Any:
    changed = sorted(set(settings) - RESUME_ALLOWED)
    if changed or command["config_file"] or command["recipe"] or command["seeds"]:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed) or "--config/--recipe/--seeds"
        raise UsageError(
            f"--resume continues a run with its own settings; {flags} cannot change them. "
            "Start a new run to try other settings."
        )
    from cnnlab.training import resume

    return resume(command["resume"], runs_dir=settings.get("runs_dir"), progress=reporter)


def _train_seeds(
    command: dict[str, Any], settings: dict[str, Any], reporter: Any, quiet: bool, as_json: bool
) -> None:
    from cnnlab.training import parse_seeds, train_seeds

    seeds = parse_seeds(command["seeds"])
    if "seed" in settings:
        raise UsageError("Give either --seed or --seeds, not both.")
    study = train_seeds(
        seeds=seeds,
        recipe=command["recipe"],
        config_file=command["config_file"],
        progress=reporter,
        **settings,
    )
    if as_json:
        print_json(study.to_dict())
    elif quiet:
        console.print("\n".join(str(run.dir) for run in study.runs))
    else:
        print_summary_table(
            study.summary, f"{study.group}: {len(seeds)} seeds ({', '.join(map(str, seeds))})"
        )
        console.print(f"Compare with another group: cnnlab runs compare {study.group} OTHER_GROUP")


def _print_run(run: Any, quiet: bool, as_json: bool) -> None:
    from cnnlab.training.distributed import launched_rank

    if launched_rank() != 0:  # a data-parallel run's result is rank 0's to print
        return
    if as_json:
        print_json({**run.result, "dir": str(run.dir), "history": run.history})
        return
    if quiet:
        console.print(str(run.dir))
        return
    from cnnlab.training.progress import format_metric

    final = run.final
    rows = [{"metric": k, "value": format_metric(k, v).split(" ", 1)[1]} for k, v in final.items()]
    rows.append({"metric": "time", "value": f"{run.result.get('duration_s', 0):.1f} s"})
    print_table(rows, ["metric", "value"], title=f"{run.name}: {run.status}")
    console.print(f"Run directory: {run.dir}\nNext: cnnlab eval {run.dir}   |   cnnlab runs show {run.name}")


def print_summary_table(summary: dict[str, Any], title: str) -> None:
    """The seeds' table, as ``SeedStudy``'s repr shows it (accuracies in percent)."""
    from cnnlab.training.seed_study import SUMMARY_COLUMNS, summary_rows

    rows = [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in summary_rows(summary)]
    print_table(rows, SUMMARY_COLUMNS, title=title)


def _train_command():
    """A function whose signature Typer reads: one option per TrainConfig field, plus the command's."""

    def command(**options: Any) -> None:
        run_train(options)

    parameters, annotations = [], {}
    for name, annotation, option in _COMMAND_OPTIONS + _setting_options():
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option))
        annotations[name] = annotation
    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = annotations
    command.__doc__ = _TRAIN_HELP
    return command


def _setting_options() -> list[tuple[str, Any, Any]]:
    """(name, CLI type, typer.Option) for each TrainConfig field shown on the command line."""
    options = []
    for field in dataclasses.fields(train_config.TrainConfig):
        if not field.metadata.get("cli", True):
            continue
        flag = "--" + field.name.replace("_", "-")
        kind = _cli_type(train_config.setting_type(field.name))
        default = field.default if field.default is not dataclasses.MISSING else None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = field.metadata["help"] + (f" (default: {shown})" if shown is not None else "")
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        options.append(
            (field.name, kind | None, typer.Option(None, *decls, help=help_text, show_default=False))
        )
    return options


def _cli_type(kind: Any) -> Any:
    """The type a flag parses: the field's type without None; pairs and tables as text."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(option for option in typing.get_args(kind) if option is not type(None))
    return kind if kind in (bool, int, float, str) else str


# -- cnnlab runs -------------------------------------------------------------------------------
@runs_app.command("list")
def list_runs(
    runs_dir: Path | None = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    status: str | None = typer.Option(
        None, "--status", help="Only running, finished, failed, interrupted or pruned (sweep trials)."
    ),
    group: str | None = typer.Option(None, "--group", help="Only the runs of this multi-seed group."),
    limit: int | None = typer.Option(None, "--limit", help="At most this many runs (newest first)."),
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Rebuild the index from the run directories first."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List runs, newest first, with their status and final metrics."""
    from cnnlab.runs.index import RunIndex
    from cnnlab.runs.rundir import STATUSES, default_runs_dir

    if status is not None and status not in STATUSES:
        raise UsageError(f"--status must be one of {', '.join(STATUSES)}, not '{status}'.")
    index = RunIndex(default_runs_dir(runs_dir))
    if rebuild:
        err_console.print(f"Rebuilt the index: {index.rebuild()} runs.")
    rows = index.list(status=status, group=group, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"No runs in {index.runs_dir}. Start one with `cnnlab train`.")
        return
    table = [
        {**row, "epochs": f"{row['epochs_done']}/{row['epochs']}", "time": _seconds(row["duration_s"])}
        for row in rows
    ]
    columns = ["run_id", "status", "model", "dataset", "seed", "epochs", "test_accuracy", "test_loss", "time"]
    print_table(table, columns, title=f"Runs in {index.runs_dir}")


@runs_app.command("show")
def show_run(
    run: str = typer.Argument(..., help="Run name or directory, or the group of a --seeds study."),
    runs_dir: Path | None = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Show a run's settings, result and per-epoch history (or a group's seed statistics)."""
    from cnnlab.runs.rundir import RunDir

    try:
        run_dir = RunDir.find(run, runs_dir)
    except UsageError:
        _show_group(run, runs_dir, as_json)
        return
    config, result, history = run_dir.read_config(), run_dir.read_result(), run_dir.history()
    if as_json:
        print_json({"dir": str(run_dir.root), "config": config, "result": result, "history": history})
        return
    console.print(f"[bold]{run_dir.name}[/]: {result.get('status', 'running')}  ({run_dir.root})")
    if result.get("error"):
        console.print(f"[red]{result['error']}[/]")
    shown = ("model", "dataset", "epochs", "batch_size", "optimizer", "lr", "schedule", "loss", "seed")
    console.print("  ".join(f"{key}={config.get(key)}" for key in shown))
    if history:
        print_table(history, title="History (one row an epoch)")


def _show_group(group: str, runs_dir: Path | None, as_json: bool) -> None:
    finals, run_ids = _group_finals(group, runs_dir)
    from cnnlab.training.seed_study import summarize_metrics

    summary = summarize_metrics(finals)
    if as_json:
        print_json({"group": group, "runs": run_ids, "summary": {k: s.to_dict() for k, s in summary.items()}})
        return
    print_summary_table(summary, f"{group}: {len(run_ids)} finished runs")


@runs_app.command("compare")
def compare_runs(
    first: str = typer.Argument(..., help="A run, or the group of a --seeds study."),
    second: str = typer.Argument(..., help="Another run or group."),
    metric: list[str] | None = typer.Option(None, "--metric", help="Only this metric (repeatable)."),
    runs_dir: Path | None = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Do two configurations differ by more than seed noise? Welch's t-test on each final metric."""
    from cnnlab.training.compare import compare

    result = compare(first, second, metrics=metric or None, runs_dir=runs_dir)
    comparisons = result.metrics
    _warn_if_setups_differ(first, second, runs_dir)
    if as_json:
        print_json({"a": first, "b": second, "metrics": {k: c.to_dict() for k, c in comparisons.items()}})
        return
    from cnnlab.training.compare import COLUMNS

    rows = [dict(zip(COLUMNS, row, strict=True)) for row in result.rows()]  # as the Python API shows it
    print_table(rows, title=f"A = {first} (n={result.n_a})   B = {second} (n={result.n_b})")
    for name, c in comparisons.items():
        console.print(f"{name}: {c.verdict()}")


def _warn_if_setups_differ(first: str, second: str, runs_dir: Path | None) -> None:
    """One line when A and B are not the same model on the same dataset: then a difference is not
    one setting's effect against seed noise (and across datasets the numbers do not compare)."""
    a, b = _side_setups(first, runs_dir), _side_setups(second, runs_dir)
    differ = [
        what
        for what, index in (("models", 0), ("datasets", 1))
        if {s[index] for s in a} != {s[index] for s in b}
    ]
    if differ:
        err_console.print(
            f"[yellow]Warning:[/] A ({_setup_text(a)}) and B ({_setup_text(b)}) differ in their "
            f"{' and '.join(differ)}: the test compares them as they are, not one change of setting.",
            highlight=False,
        )


def _side_setups(name: str, runs_dir: Path | None) -> set[tuple[str, str]]:
    """{(model, dataset)} of a run, or of a group's finished runs."""
    from cnnlab.runs.index import RunIndex
    from cnnlab.runs.rundir import RunDir, default_runs_dir

    try:
        config = RunDir.find(name, runs_dir).read_config()
        return {(str(config.get("model")), str(config.get("dataset")))}
    except UsageError:
        rows = RunIndex(default_runs_dir(runs_dir)).list(group=name)
        return {(str(row["model"]), str(row["dataset"])) for row in rows if row["status"] == "finished"}


def _setup_text(setups: set[tuple[str, str]]) -> str:
    return ", ".join(f"{model} on {dataset}" for model, dataset in sorted(setups))


def _group_finals(group: str, runs_dir: Path | None) -> tuple[list[dict[str, Any]], list[str]]:
    from cnnlab.training.compare import group_finals

    return group_finals(group, runs_dir)


def _seconds(value: float | None) -> str:
    return "" if value is None else format_duration(value)
