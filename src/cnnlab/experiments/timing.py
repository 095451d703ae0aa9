"""How long an experiment takes, before it starts: from recorded times and arithmetic, never a probe.

The plan of an experiment lists what it trains. Each cell's training speed (images a second, at the
cell's batch size) comes from the first of these that knows it, each with how far it can be off:

1. *measured here*: the speed an earlier training run of an experiment measured on this machine
   (the user cache's ``experiments/throughput.json``, keyed by model, input, batch, device, threads
   and torch version): good to a factor of about 1.3 on a quiet machine;
2. *recorded*: the full run of the same experiment recorded in ``docs/results/NAME/results.json``
   (its cells' times and the machine they ran on): 1.3 on the same CPU, cores, threads and torch,
   2 where only the CPU and cores match, 3 on another machine;
3. *the same model recorded elsewhere* in those reports (another cell or experiment, same model,
   input and batch): the factor of 2., times 1.25 (the optimizer and settings differ);
4. *arithmetic*: the model's multiply-adds an image (the zoo table shipped with cnnlab) at the rate
   the recorded reports' largest network reached: the factor of 2., times 2.

A cell none of them knows (a model of your own that no report holds) is counted as unknown, and
the estimate says so. The estimate is then

    sum over cells of  images trained / speed  +  images evaluated / (EVAL_SPEEDUP * speed)
                      + the recorded experiment's time outside its cells per run (else OVERHEAD_PER_RUN_S),

with its range: each cell's time divided and multiplied by its factor. Nothing is built, trained or
probed: ``cnnlab experiment list`` answers at once (earlier versions probed every model, which took
minutes and was off by 10-50x on a shared machine). Other work slows everything; the listing states
the load average.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cnnlab.atomic import atomic_write_json
from cnnlab.data import get_spec
from cnnlab.data.paths import user_cache_dir
from cnnlab.errors import CnnlabError
from cnnlab.experiments.machine import cpu_name, load_average
from cnnlab.experiments.plan import CellSpec, ExtraWork, Plan, model_label
from cnnlab.training import TrainConfig, choose_hardware
from cnnlab.training.hardware import available_cores

if TYPE_CHECKING:  # the type only: the experiment table imports this module, not the reverse
    from cnnlab.experiments.registry import Experiment


# Evaluation is a forward pass only, in double-size batches: about a third of a training step's cost.
EVAL_SPEEDUP = 3.0
# Seconds a run costs besides its training and evaluation (run directory, checkpoints, curves.png)
# where no recorded report says it: the recorded ones spent 0.3-1.8 s a run (cifar-tutorial: 8).
OVERHEAD_PER_RUN_S = 1.0
# How far a speed from each source can be off, either way (see the module's docstring).
FACTOR_HERE = 1.3
FACTOR_SAME_CPU = 2.0
FACTOR_OTHER_MACHINE = 3.0
FACTOR_OTHER_CELL = 1.25
FACTOR_ARITHMETIC = 2.0
# The shipped reports, in a source checkout (cnnlab is installed from a clone: README).
RECORDED_DIR = Path(__file__).resolve().parents[3] / "docs" / "results"
CACHE_FILE = "experiments/throughput.json"
# Networks whose speed is mostly per-step overhead say nothing about the arithmetic rate.
MIN_ARITHMETIC_MACS = 100_000


@dataclass(frozen=True)
class Speed:
    """A cell's training speed, where it comes from, and the factor it may be off by either way."""

    images_per_s: float
    source: str  # one word or two: "measured here", "recorded", "other cell", "arithmetic", "given"
    factor: float
    detail: str = ""  # which run or report, and on which machine


Measure = Callable[["WorkItem", str, int | None], "float | Speed | None"]


@dataclass(frozen=True)
class WorkItem:
    """What one cell (or an experiment's extra steps) costs: images through the model, over all seeds."""

    label: str
    model: str | Callable[[], nn.Module]
    model_args: dict[str, Any]
    input_shape: tuple[int, int, int]
    num_classes: int
    batch_size: int
    train_images: int  # with a gradient step
    eval_images: int
    runs: int

    @property
    def model_key(self) -> str:
        name = model_label(self.model)
        args = ",".join(f"{k}={v}" for k, v in sorted(self.model_args.items()))
        return f"{name}({args})|{'x'.join(map(str, self.input_shape))}|batch {self.batch_size}"

    @property
    def work(self) -> float:
        """Training-image equivalents: an evaluated image costs 1 / EVAL_SPEEDUP of a trained one."""
        return self.train_images + self.eval_images / EVAL_SPEEDUP


@dataclass(frozen=True)
class Estimate:
    seconds: float  # of the cells whose speed is known
    rows: list[dict[str, Any]]  # per work item: label, model, images, images_per_s, seconds, source
    low: float = 0.0
    high: float = 0.0
    unknown: list[str] = field(default_factory=list)  # labels of cells no source knows

    @property
    def factor(self) -> float:
        """The time is between ``seconds`` divided and multiplied by about this."""
        return self.high / self.seconds if self.seconds else math.inf

    def range_text(self) -> str:
        """``9-36 min``."""
        low, high = rough_duration(self.low), rough_duration(self.high)
        if low.split()[-1] == high.split()[-1]:
            low = low.rsplit(" ", 1)[0]
        return f"{low}-{high}"

    @property
    def source(self) -> str:
        """Where most of the time's estimate comes from (the source of the longest row)."""
        known = [row for row in self.rows if row["seconds"] is not None]
        return max(known, key=lambda row: row["seconds"])["source"] if known else "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "low_s": round(self.low, 1),
            "high_s": round(self.high, 1),
            "source": self.source,
            "unknown": self.unknown,
            "rows": self.rows,
        }


def estimate(
    experiment: Experiment,
    *,
    quick: bool,
    seeds: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    measure: Measure | None = None,
) -> Estimate:
    """The expected time of ``experiment`` (its full or quick version) with ``seeds`` seeds, and its
    range. ``measure(item, device, threads)`` replaces the lookup (a speed, or a :class:`Speed`)."""
    size = experiment.size(quick)
    items = plan_work(experiment.plan(size), seeds or size.seeds)
    if measure is None:
        here = this_machine(device, threads)
        measure = lambda item, d, t: known_speed(item, d, t, experiment.name, here)  # noqa: E731
    overhead = recorded_overhead(experiment, measure)
    rows, unknown = [], []
    total = low = high = 0.0
    for item in items:
        speed = _as_speed(measure(item, device, threads))
        row = {"label": item.label, "model": item.model_key.split("|")[0],
               "train_images": item.train_images, "eval_images": item.eval_images}  # fmt: skip
        if speed is None:
            unknown.append(item.label)
            rows.append({**row, "images_per_s": None, "seconds": None, "source": "unknown"})
            continue
        seconds = item.work / speed.images_per_s + overhead * item.runs
        total, low, high = total + seconds, low + seconds / speed.factor, high + seconds * speed.factor
        rows.append({**row, "images_per_s": round(speed.images_per_s, 1), "seconds": round(seconds, 1),
                     "source": speed.source, "factor": speed.factor, "detail": speed.detail})  # fmt: skip
    return Estimate(total, rows, low, high, unknown)


def plan_work(plan: Plan, seeds: int) -> list[WorkItem]:
    """The work items of a plan run with ``seeds`` seeds."""
    return [_cell_work(cell, seeds) for cell in plan.cells] + [
        _extra_work(extra, seeds) for extra in plan.extra
    ]


def _cell_work(
    cell: CellSpec, seeds: int, train_images: int | None = None, test_images: int | None = None
) -> WorkItem:
    """``cell``'s work over ``seeds``; ``train_images`` / ``test_images``: the split sizes it used
    (default: its settings' subsets, else the dataset's)."""
    config = TrainConfig().replace(**cell.settings)
    spec = get_spec(cell.dataset)
    train = train_images or config.subset or spec.split_sizes["train"]
    train = round(train * (1 - config.val_split))
    test = test_images or config.test_subset or spec.split_sizes["test"]
    evaluations = math.ceil(config.epochs / config.test_every) if config.test_every else 1
    return WorkItem(
        label=cell.label,
        model=cell.model,
        model_args=dict(config.model_args),
        input_shape=spec.image_shape,
        num_classes=spec.num_classes,
        batch_size=config.batch_size,
        train_images=train * config.epochs * seeds,
        eval_images=test * evaluations * seeds,
        runs=seeds,
    )


def _extra_work(extra: ExtraWork, seeds: int) -> WorkItem:
    spec = get_spec(extra.dataset)
    return WorkItem(
        label=f"{model_label(extra.model)}: extra steps",
        model=extra.model,
        model_args={},
        input_shape=spec.image_shape,
        num_classes=spec.num_classes,
        batch_size=extra.batch_size,
        train_images=extra.steps * extra.batch_size * seeds,
        eval_images=0,
        runs=0,
    )


def known_speed(
    item: WorkItem,
    device: str = "auto",
    threads: int | None = None,
    experiment: str | None = None,
    here: dict[str, Any] | None = None,
) -> Speed | None:
    """``item``'s speed from the first source that knows it (see the module's docstring), or None."""
    cached = _read_cache().get(_speed_key(item, device, threads))
    if isinstance(cached, dict) and cached.get("how") == "training run":
        when = f"by a training run here on {cached.get('measured', '?')}"
        return Speed(float(cached["images_per_s"]), "measured here", FACTOR_HERE, when)
    here = here or this_machine(device, threads)
    recorded = _recorded_cells()
    for found in recorded:
        if (found.experiment, found.label, found.model_key) == (experiment, item.label, item.model_key):
            return found.speed(here, "recorded", f"docs/results/{experiment}", 1.0)
    # The same model, input and batch elsewhere; then the same with other model options.
    for same in (lambda found: found.model_key == item.model_key, lambda found: _plain_key(found.model_key)
                 == _plain_key(item.model_key)):  # fmt: skip
        for found in filter(same, recorded):
            where = f"{found.label} in docs/results/{found.experiment}"
            return found.speed(here, "other cell", where, FACTOR_OTHER_CELL)
    return _arithmetic_speed(item, here, recorded)


def _plain_key(model_key: str) -> str:
    """``tutorial-cnn(input_scale=symmetric)|3x32x32|batch 64`` without the model's options."""
    model, _, rest = model_key.partition("|")
    return f"{model.split('(')[0]}|{rest}"


@dataclass(frozen=True)
class RecordedCell:
    """One cell of a recorded report: its speed and the machine it ran on."""

    experiment: str
    label: str
    model_key: str
    model: str
    input_shape: tuple[int, int, int]
    images_per_s: float
    machine: dict[str, Any]

    def speed(self, here: dict[str, Any], source: str, where: str, extra_factor: float) -> Speed:
        factor, machine = machine_factor(self.machine, here)
        return Speed(self.images_per_s, source, factor * extra_factor, f"{where}, {machine}")


def machine_factor(recorded: dict[str, Any], here: dict[str, Any]) -> tuple[float, str]:
    """How far a speed recorded on ``recorded`` may be off here, and the words that say why."""
    if (recorded.get("cpu"), recorded.get("cores")) != (here["cpu"], here["cores"]):
        return FACTOR_OTHER_MACHINE, f"on {recorded.get('cpu', '?')} with {recorded.get('cores', '?')} cores"
    if (recorded.get("threads"), recorded.get("torch")) == (here["threads"], here["torch"]):
        return FACTOR_HERE, "on this CPU"
    threads, version = recorded.get("threads", "?"), recorded.get("torch", "?")
    return FACTOR_SAME_CPU, f"on this CPU with {threads} threads and torch {version}"


def this_machine(device: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """What :func:`machine_factor` compares: CPU, cores, the threads a run would use, torch."""
    hardware = choose_hardware(TrainConfig(device=device, threads=threads))
    return {
        "cpu": cpu_name(),
        "cores": available_cores(),
        "threads": hardware.threads,
        "torch": torch.__version__,
    }


def recorded_overhead(experiment: Experiment, measure: Measure | None = None) -> float:
    """Seconds a run of ``experiment``'s recorded report spent outside its cells' training time,
    less its extra steps (a range test) at their estimated speed: they are counted on their own."""
    report = _recorded_reports().get(experiment.name)
    if not report:
        return OVERHEAD_PER_RUN_S
    cells = report.get("cells", {}).values()
    runs = sum(len(cell.get("seeds", [])) for cell in cells)
    rest = float(report.get("duration_s", 0.0)) - sum(float(cell.get("time_s", 0.0)) for cell in cells)
    extras = [item for item in plan_work(experiment.plan(experiment.full), len(report.get("seeds", [0])))
              if item.runs == 0]  # fmt: skip
    for item in extras:
        speed = _as_speed((measure or known_speed)(item, "auto", None))
        rest -= item.work / speed.images_per_s if speed else 0.0
    return max(rest, 0.0) / runs if runs else OVERHEAD_PER_RUN_S


def _as_speed(speed: float | Speed | None) -> Speed | None:
    return speed if speed is None or isinstance(speed, Speed) else Speed(float(speed), "given", 1.0)


@lru_cache(maxsize=4)
def _recorded_reports(directory: Path = RECORDED_DIR) -> dict[str, dict[str, Any]]:
    """``{experiment: results.json}`` of the finished full runs recorded under ``directory``."""
    reports = {}
    for path in sorted(directory.glob("*/results.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged report estimates nothing
        if isinstance(report, dict) and report.get("status") == "finished" and not report.get("quick"):
            reports[str(report.get("experiment", path.parent.name))] = report
    return reports


@lru_cache(maxsize=1)
def _recorded_cells() -> tuple[RecordedCell, ...]:
    cells = []
    for name, report in _recorded_reports().items():
        for label, cell in report.get("cells", {}).items():
            found = _recorded_cell(name, label, cell, report.get("machine", {}))
            if found is not None:
                cells.append(found)
    return tuple(cells)


def _recorded_cell(experiment: str, label: str, cell: dict[str, Any], machine: dict) -> RecordedCell | None:
    try:
        spec = CellSpec(label, cell["model"], _known_dataset(str(cell["dataset"])), cell.get("settings", {}))
        item = _cell_work(spec, len(cell["seeds"]), cell.get("train_images"), cell.get("test_images"))
        seconds = float(cell["time_s"])
    except (KeyError, TypeError, ValueError, CnnlabError):  # a report of another version: no estimate
        return None
    if seconds <= 0 or item.work <= 0:
        return None
    return RecordedCell(
        experiment, label, item.model_key, str(cell["model"]), item.input_shape, item.work / seconds, machine
    )


def _known_dataset(name: str) -> str:
    """``name``, or the dataset it was derived from: a cell's transform names its result
    ``BASE-what`` (``mnist-permuted``), with BASE's images and splits."""
    base = name.split("-")[0]
    try:
        get_spec(name)
    except CnnlabError:
        return base
    return name


def _arithmetic_speed(
    item: WorkItem, here: dict[str, Any], recorded: tuple[RecordedCell, ...]
) -> Speed | None:
    """Speed from ``item``'s MACs an image at the rate of the recorded network with the most MACs."""
    macs = _macs(item.model, item.input_shape)  # with its default options where it has others
    measured = [(cell, _macs(cell.model, cell.input_shape)) for cell in recorded]
    measured = [(cell, m) for cell, m in measured if m and m >= MIN_ARITHMETIC_MACS]
    if not macs or not measured:
        return None
    cell, cell_macs = max(measured, key=lambda pair: pair[1])
    factor, machine = machine_factor(cell.machine, here)
    detail = (
        f"{macs / 1e6:,.0f} M MACs an image at the rate of {cell.model} ({cell_macs / 1e6:,.1f} M) "
        f"in docs/results/{cell.experiment}, {machine}"
    )
    return Speed(cell.images_per_s * cell_macs / macs, "arithmetic", factor * FACTOR_ARITHMETIC, detail)


def _macs(model: object, input_shape: tuple[int, int, int]) -> int | None:
    """A registry model's multiply-adds on one image, from the shipped zoo table (never computed)."""
    if not isinstance(model, str):
        return None
    return _shipped_macs().get((model, "x".join(map(str, input_shape))))


@lru_cache(maxsize=1)
def _shipped_macs() -> dict[tuple[str, str], int]:
    from cnnlab.analysis.model_table import DATASET_INPUTS, shipped_rows

    table = {}
    for row in shipped_rows() or []:
        for shape in DATASET_INPUTS:
            label = "x".join(map(str, shape))
            if row.get(f"macs_{label}"):
                table[(row["name"], label)] = int(row[f"macs_{label}"])
    return table


def record_throughput(
    spec: CellSpec, images_per_s: float, device: str = "auto", threads: int | None = None
) -> None:
    """Keep the speed a training run of ``spec`` measured: later estimates here use it first."""
    if images_per_s > 0:
        key = _speed_key(_cell_work(spec, 1), device, threads)
        _write_speed(_read_cache(), key, images_per_s, "training run")


def _speed_key(item: WorkItem, device: str, threads: int | None) -> str:
    hardware = choose_hardware(TrainConfig(device=device, threads=threads))
    return f"{item.model_key}|{hardware.describe()}|torch {torch.__version__}"


def _write_speed(cache: dict[str, Any], key: str, speed: float, how: str) -> None:
    cache[key] = {
        "images_per_s": round(speed, 2),
        "how": how,
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load": load_average() or 0.0,
        "cores": available_cores(),
    }
    atomic_write_json(_cache_path(), cache)


def _cache_path() -> Path:
    return user_cache_dir() / CACHE_FILE


def _read_cache() -> dict[str, Any]:
    try:
        cache = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: it only holds measurements, which are taken again
    return cache if isinstance(cache, dict) else {}


def rough_duration(seconds: float) -> str:
    """About two significant figures, for estimates: ``40 s``, ``6.5 min``, ``120 h``."""
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.2g} {unit}"
    return "<1 s"


def format_estimate(found: Estimate) -> str:
    """``18 min``; ``at least 3 min`` where some cells are unknown."""
    if found.unknown:
        return f"at least {rough_duration(found.seconds)}" if found.seconds else "unknown"
    return rough_duration(found.seconds)
