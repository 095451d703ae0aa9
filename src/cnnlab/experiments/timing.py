"""How long an experiment takes, before it starts: from recorded times and arithmetic, never a probe.

The plan of an experiment lists what it trains. Each cell's training speed (images a second, at the
cell's batch size, in the precision it will train in here) comes from the first of these that knows
it, each with how far it can be off and how sure it is (the listing's "how sure" column):

1. *measured here*: the speed an earlier training run of an experiment measured on this machine
   (the user cache's ``experiments/throughput.json``, keyed by model, input, batch, device,
   threads, precision and torch version): good to a factor of about 1.3 on a quiet machine;
2. *recorded*: the full run of the same experiment recorded in ``docs/results/NAME/results.json``
   (its cells' times and the machine they ran on);
3. *the same model recorded elsewhere*: another cell or experiment in those reports, or a step time
   in ``recorded_steps.json`` (quiet measurements of networks no report holds: the cifar-classics
   networks, the benchmarks' step breakdown), same model, input and batch: times 1.25 (the
   optimizer and settings differ);
4. *arithmetic*: the model's multiply-adds an image (the zoo table shipped with cnnlab) at the rate
   of the recorded network nearest to it in size, corrected for size (bigger networks reach more
   multiply-adds a second: :func:`size_efficiency`): times 2.

A recording is used as it is where it was made on this CPU kind (name, cores and instruction set:
:func:`cnnlab.experiments.machine.cpu_kind`) in the same precision and threads (*recorded on this
CPU kind*, a factor of 1.3). Otherwise it is *scaled from a recording*: to the precision the cell
trains in here (bfloat16 only where ``amp`` is on and the CPU has bfloat16 kernels:
:func:`bfloat16_gain`) and to the threads (:func:`thread_gain`), with a factor of 2 on this
CPU kind and 3 on another. A cell none of them knows (a model of your own that no report holds)
is counted as unknown, and the estimate says so. The estimate is then

    sum over cells of  images trained / speed  +  images evaluated / (EVAL_SPEEDUP * speed)
                      + the recorded experiment's time outside its cells per run (else OVERHEAD_PER_RUN_S),

with its range: each cell's time divided and multiplied by its factor. A recording made while other
work crowded the CPU (a load average of L on C cores, L > C) ran between as fast as a quiet one and
L / C times slower: it is counted at sqrt(L / C) times its speed, with its factor widened by as
much, so the quiet speed lies inside the range (:func:`load_crowding`). Nothing is built, trained or
probed, and torch is not imported: ``cnnlab experiment list`` answers at once (earlier versions
probed every model, which took minutes and was off by 10-50x on a shared machine). Other work
slows everything; the listing states the load average.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.atomic import atomic_write_json
from cnnlab.data.paths import user_cache_dir
from cnnlab.data.registry import get_spec
from cnnlab.errors import CnnlabError
from cnnlab.experiments.machine import (
    BFLOAT16_KINDS,
    cores,
    cpu_kind,
    cpu_name,
    device_type,
    load_average,
    torch_version,
)
from cnnlab.experiments.plan import CellSpec, ExtraWork, Plan, model_label
from cnnlab.training.config import TrainConfig

if TYPE_CHECKING:  # the types only: the experiment table imports this module, not the reverse
    from torch import nn

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
# How sure an estimate is, surest first: the words of the listing's "how sure" column.
MEASURED_HERE = "measured here"
RECORDED_HERE = "recorded on this CPU kind"
SCALED = "scaled from a recording"
ARITHMETIC_ONLY = "arithmetic only"
SURENESS = (MEASURED_HERE, RECORDED_HERE, SCALED, ARITHMETIC_ONLY)
# The shipped reports, in a source checkout (cnnlab is installed from a clone: README).
RECORDED_DIR = Path(__file__).resolve().parents[3] / "docs" / "results"
# Quiet step times of networks that no shipped report holds (shipped with the package).
RECORDED_STEPS = Path(__file__).with_name("recorded_steps.json")
CACHE_FILE = "experiments/throughput.json"
# Networks whose speed is mostly per-step overhead say nothing about the arithmetic rate.
MIN_ARITHMETIC_MACS = 100_000
# Multiply-adds a second grow with a network's size, about as MACs ** 0.25 (the step breakdown of
# benchmarks/README.md, 2 threads, float32: tutorial CNN 0.65 M MACs at 6.1 G MAC/s, ResNet-18
# 555 M at 33 G), and stop growing at about VGG-11's size (its 153 M reach what ResNet-18's reach).
SIZE_EXPONENT = 0.25
SIZE_SATURATION_MACS = 150e6
# bfloat16's speed-up over float32 where the CPU computes it natively (AVX512-BF16, AMX), by size
# (the same breakdown: tutorial CNN 1.08x, speedrun net 1.76x, ResNet-18 1.82x): none below 1 M
# MACs an image, BFLOAT16_GAIN from 100 M, in between on a log scale.
BFLOAT16_GAIN = 1.8
NATIVE_BFLOAT16_KINDS = {"amx", "avx512_bf16"}
# A step's speed grows with threads as threads ** exponent, the exponent by size: small networks gain
# less from a second core than big ones (their steps are mostly per-operation overhead). 0.5 up to
# 1 M MACs an image, 0.9 from 100 M, in between on a log scale, 0.7 where the size is unknown: a
# guess bounded by the tutorial CNN (5,600 images/s recorded in a 1-thread experiment, 9,400 in the
# 2-thread step breakdown, which leaves out evaluation: an exponent of at most 0.75).
THREAD_EXPONENTS = (0.5, 0.9)
THREAD_EXPONENT_UNKNOWN = 0.7


@dataclass(frozen=True)
class Speed:
    """A cell's training speed, where it comes from, and the factor it may be off by either way."""

    images_per_s: float
    source: str  # one word or two: "measured here", "recorded", "other cell", "arithmetic", "given"
    factor: float
    detail: str = ""  # which run or report, and on which machine
    sureness: str = MEASURED_HERE  # one of SURENESS


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
    amp: bool | None = None  # the settings' amp: bfloat16 where the device has it (None: the default)

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

    @property
    def sureness(self) -> str:
        """How sure the estimate is: the least sure of the rows that make a tenth of its time or more
        (one of :data:`SURENESS`; "unknown" when no row is known)."""
        known = [row for row in self.rows if row["seconds"] is not None]
        if not known:
            return "unknown"
        weighty = [row for row in known if row["seconds"] >= 0.1 * self.seconds] or known
        return max((row.get("sureness", MEASURED_HERE) for row in weighty), key=_sureness_rank)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "low_s": round(self.low, 1),
            "high_s": round(self.high, 1),
            "source": self.source,
            "sureness": self.sureness,
            "unknown": self.unknown,
            "rows": self.rows,
        }


def _sureness_rank(sureness: str) -> int:
    return SURENESS.index(sureness) if sureness in SURENESS else len(SURENESS)


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
                     "source": speed.source, "sureness": speed.sureness, "factor": speed.factor,
                     "detail": speed.detail})  # fmt: skip
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
    seeds = min(seeds, cell.seeds) if cell.seeds else seeds
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
        amp=config.amp,
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
    here = here or this_machine(device, threads)
    cached = _read_cache().get(_speed_key(item, here))
    if isinstance(cached, dict) and cached.get("how") == "training run":
        when = f"by a training run here on {cached.get('measured', '?')}"
        return Speed(float(cached["images_per_s"]), "measured here", FACTOR_HERE, when, MEASURED_HERE)
    wanted = cell_precision(item.amp, here)
    recorded = _recorded_cells()
    for found in recorded:
        if (found.experiment, found.label, found.model_key) == (experiment, item.label, item.model_key):
            return found.speed(here, wanted, "recorded", f"docs/results/{experiment}", 1.0)
    # The same model, input and batch elsewhere; then the same with other model options.
    for same in (lambda found: found.model_key == item.model_key, lambda found: _plain_key(found.model_key)
                 == _plain_key(item.model_key)):  # fmt: skip
        speeds = [found.speed(here, wanted, "other cell", found.where, FACTOR_OTHER_CELL)
                  for found in recorded if same(found)]  # fmt: skip
        if speeds:  # the surest of them
            return min(speeds, key=lambda speed: (speed.factor, _sureness_rank(speed.sureness)))
    return _arithmetic_speed(item, here, wanted, recorded)


def _plain_key(model_key: str) -> str:
    """``tutorial-cnn(input_scale=symmetric)|3x32x32|batch 64`` without the model's options."""
    model, _, rest = model_key.partition("|")
    return f"{model.split('(')[0]}|{rest}"


@dataclass(frozen=True)
class RecordedCell:
    """One cell of a recorded report (or one recorded step time): its speed, its precision and
    the machine it ran on."""

    experiment: str | None  # None: a step time of recorded_steps.json
    label: str
    model_key: str
    model: str
    input_shape: tuple[int, int, int]
    images_per_s: float
    machine: dict[str, Any]
    precision: str = "float32"
    source: str = ""  # where a step time was measured

    @property
    def where(self) -> str:
        if self.experiment is None:
            return f"{self.label} in {RECORDED_STEPS.name} ({self.source})"
        return f"{self.label} in docs/results/{self.experiment}"

    @property
    def macs(self) -> int | None:
        return _macs(self.model, self.input_shape)

    def speed(
        self, here: dict[str, Any], precision: str, source: str, where: str, extra_factor: float
    ) -> Speed:
        """Its speed here in ``precision``: as recorded, or scaled (see the module's docstring)."""
        factor, machine = machine_factor(self.machine, here)
        multiplier, scaled = scale_speed(self, precision, here, self.macs)
        same_kind = same_cpu_kind(self.machine, here)
        sureness = RECORDED_HERE if same_kind and not scaled else SCALED
        if scaled and factor < FACTOR_SAME_CPU:
            factor = FACTOR_SAME_CPU
        crowding = load_crowding(self.machine)
        if crowding > 1:  # it shared the CPU: between as recorded and `crowding` times faster
            step = math.sqrt(crowding)
            multiplier *= step
            factor = max(factor, FACTOR_SAME_CPU) * step
            scaled.append(f"recorded at a load of {self.machine['load_average']:.3g} (x{step:.2g})")
            sureness = SCALED
        detail = f"{where}, {machine}" + (f"; scaled {', '.join(scaled)}" if scaled else "")
        return Speed(self.images_per_s * multiplier, source, factor * extra_factor, detail, sureness)


def load_crowding(machine: dict[str, Any]) -> float:
    """How many times more runnable work than cores the machine had while a recording was made
    (1: none waited). A crowded recording is slower than a quiet one by up to about this much."""
    load, count = machine.get("load_average"), machine.get("cores")
    if not isinstance(load, (int, float)) or not isinstance(count, int) or count <= 0:
        return 1.0
    return max(1.0, float(load) / count)


def same_cpu_kind(recorded: dict[str, Any], here: dict[str, Any]) -> bool:
    """The same CPU name and cores, and the same instruction-set class where the recording says it
    (reports before it was recorded say only the name)."""
    kind = recorded.get("cpu_kind")
    return (recorded.get("cpu"), recorded.get("cores")) == (here["cpu"], here["cores"]) and (
        kind is None or kind == here.get("cpu_kind")
    )


def machine_factor(recorded: dict[str, Any], here: dict[str, Any]) -> tuple[float, str]:
    """How far a speed recorded on ``recorded`` may be off here, and the words that say why."""
    if not same_cpu_kind(recorded, here):
        kind = f" ({recorded['cpu_kind']})" if recorded.get("cpu_kind") else ""
        return (
            FACTOR_OTHER_MACHINE,
            f"on {recorded.get('cpu', '?')}{kind} with {recorded.get('cores', '?')} cores",
        )
    if (recorded.get("threads"), recorded.get("torch")) == (here["threads"], here["torch"]):
        return FACTOR_HERE, "on this CPU"
    threads, version = recorded.get("threads", "?"), recorded.get("torch", "?")
    return FACTOR_SAME_CPU, f"on this CPU with {threads} threads and torch {version}"


def scale_speed(
    recorded: RecordedCell, precision: str, here: dict[str, Any], macs: int | None
) -> tuple[float, list[str]]:
    """The factor that turns ``recorded``'s speed into one here in ``precision``, and what it
    scaled (``["float32 -> bfloat16 (x1.8)", "1 -> 2 threads (x1.8)"]``; empty: none)."""
    multiplier, scaled = 1.0, []
    if recorded.precision != precision:
        kind = here.get("cpu_kind") if precision == "bfloat16" else recorded.machine.get("cpu_kind")
        gain = bfloat16_gain(macs, kind)
        step = gain if precision == "bfloat16" else 1 / gain
        multiplier *= step
        scaled.append(f"{recorded.precision} -> {precision} (x{step:.2g})")
    threads = recorded.machine.get("threads")
    if here["device"] == "cpu" and isinstance(threads, int) and threads != here["threads"]:
        step = thread_gain(macs, threads, here["threads"])
        multiplier *= step
        scaled.append(f"{threads} -> {here['threads']} threads (x{step:.2g})")
    return multiplier, scaled


def bfloat16_gain(macs: int | None, kind: str | None) -> float:
    """How much faster a network of ``macs`` multiply-adds an image trains in bfloat16 than in
    float32 on a CPU of ``kind``: up to :data:`BFLOAT16_GAIN` with native bfloat16 (AVX512-BF16,
    AMX), 1 elsewhere (AVX-512 without them converts, and no quiet measurement says more)."""
    if kind not in NATIVE_BFLOAT16_KINDS or not macs:
        return 1.0
    position = min(max((math.log10(macs) - 6) / 2, 0.0), 1.0)  # 1 M MACs: 0; 100 M: 1
    return 1 + (BFLOAT16_GAIN - 1) * position


def thread_gain(macs: int | None, recorded: int, here: int) -> float:
    """How much faster a network of ``macs`` multiply-adds an image trains on ``here`` threads
    than on ``recorded`` (see :data:`THREAD_EXPONENTS`)."""
    if macs:
        low, high = THREAD_EXPONENTS
        exponent = low + (high - low) * min(max((math.log10(macs) - 6) / 2, 0.0), 1.0)
    else:
        exponent = THREAD_EXPONENT_UNKNOWN
    return (here / recorded) ** exponent


def size_efficiency(macs: int) -> float:
    """Multiply-adds a second a network of ``macs`` reaches, relative (see :data:`SIZE_EXPONENT`)."""
    return min(max(macs, MIN_ARITHMETIC_MACS), SIZE_SATURATION_MACS) ** SIZE_EXPONENT


def cell_precision(amp: bool | None, here: dict[str, Any]) -> str:
    """What a cell with settings' ``amp`` trains in here: bfloat16 under amp where the device has
    it (a CPU: only with bfloat16 kernels, as cnnlab.training.hardware chooses), else float32."""
    use_amp = amp if amp is not None else here["device"] == "cuda"
    if not use_amp:
        return "float32"
    if here["device"] == "cpu":
        return "bfloat16" if here["bfloat16"] else "float32"
    return "bfloat16"  # float16 on GPUs without bfloat16; no recorded speed is a GPU's anyway


def this_machine(device: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """What :func:`machine_factor` compares: CPU, its kind and cores, the device and threads a run
    would use, whether it has bfloat16 kernels, torch's version. Read without importing torch."""
    return {
        "cpu": cpu_name(),
        "cpu_kind": cpu_kind(),
        "cores": cores(),
        "device": device_type(device),
        "threads": threads or cores(),
        "bfloat16": _bfloat16_kernels(),
        "torch": torch_version(),
    }


def _bfloat16_kernels() -> bool:
    """cnnlab.training.hardware's answer where torch is loaded already; the CPU's flags otherwise
    (the same answer on the CPUs it was checked on: AVX-512 and up)."""
    if "torch" in sys.modules:
        from cnnlab.training.hardware import cpu_has_bfloat16_kernels

        return cpu_has_bfloat16_kernels()
    return cpu_kind() in BFLOAT16_KINDS


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
    return (*cells, *_recorded_steps())


def _recorded_cell(experiment: str, label: str, cell: dict[str, Any], machine: dict) -> RecordedCell | None:
    try:
        dataset = _known_dataset(str(cell["dataset"]), experiment, label)
        spec = CellSpec(label, cell["model"], dataset, cell.get("settings", {}))
        item = _cell_work(spec, len(cell["seeds"]), cell.get("train_images"), cell.get("test_images"))
        seconds = float(cell["time_s"])
    except (KeyError, TypeError, ValueError, CnnlabError):  # a report of another version: no estimate
        return None
    if seconds <= 0 or item.work <= 0:
        return None
    # bfloat16 only where amp was on and the machine is known to have had the kernels.
    bfloat16 = item.amp and machine.get("cpu_kind") in BFLOAT16_KINDS
    return RecordedCell(
        experiment, label, item.model_key, str(cell["model"]), item.input_shape, item.work / seconds,
        machine, "bfloat16" if bfloat16 else "float32",
    )  # fmt: skip


@lru_cache(maxsize=1)
def _recorded_steps(path: Path = RECORDED_STEPS) -> tuple[RecordedCell, ...]:
    """The step times of ``recorded_steps.json``: one recorded training speed each."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["steps"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()  # a damaged table estimates nothing
    steps = []
    for entry in entries:
        try:
            shape = tuple(int(size) for size in str(entry["input"]).split("x"))
            key = f"{entry['model']}()|{entry['input']}|batch {int(entry['batch'])}"
            speed = int(entry["batch"]) / float(entry["step_s"])
            steps.append(RecordedCell(None, f"{entry['model']} step", key, str(entry["model"]), shape,  # type: ignore[arg-type]
                                      speed, dict(entry["machine"]), str(entry["precision"]),
                                      str(entry.get("source", ""))))  # fmt: skip
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            continue
    return tuple(steps)


def find_experiment(name: str) -> Any:
    """The registered experiment ``name``: the registry puts its own look-up here when it loads (it
    imports this module for its estimates, so this module cannot import it back)."""
    raise CnnlabError(f"No experiment registry is loaded to look up {name!r}.")


def _known_dataset(name: str, experiment: str, label: str) -> str:
    """``name``, or the dataset it was derived from: a cell's transform names its result
    ``BASE-what`` (``mnist-permuted``), with BASE's images and splits; a folder the transform
    made (transfer's ``cats-vs-dogs``): the dataset of the experiment's cell of that label."""
    for candidate in (name, name.split("-")[0]):
        try:
            get_spec(candidate)
            return candidate
        except CnnlabError:
            pass
    try:
        found = find_experiment(experiment)
    except CnnlabError:
        return name  # an experiment no longer in the catalog: get_spec refuses it
    cells = {cell.label: cell for cell in found.plan(found.full).cells}
    return cells[label].dataset if label in cells else name


def _arithmetic_speed(
    item: WorkItem, here: dict[str, Any], precision: str, recorded: tuple[RecordedCell, ...]
) -> Speed | None:
    """Speed from ``item``'s MACs an image at the rate of the recorded network nearest to it in
    size (on this CPU kind where one is), corrected by :func:`size_efficiency` and scaled to this
    precision and these threads."""
    macs = _macs(item.model, item.input_shape)  # with its default options where it has others
    measured = [(cell, cell.macs) for cell in recorded]
    measured = [(cell, m) for cell, m in measured if m and m >= MIN_ARITHMETIC_MACS]
    if not macs or not measured:
        return None

    def distance(pair: tuple[RecordedCell, int]) -> float:
        cell, cell_macs = pair  # another CPU kind counts as a network e (2.7) times further in size
        return abs(math.log(macs / cell_macs)) + (0.0 if same_cpu_kind(cell.machine, here) else 1.0)

    cell, cell_macs = min(measured, key=distance)
    factor, machine = machine_factor(cell.machine, here)
    multiplier, scaled = scale_speed(cell, precision, here, macs)
    rate = cell.images_per_s * cell_macs * size_efficiency(macs) / size_efficiency(cell_macs)
    detail = (
        f"{macs / 1e6:,.1f} M MACs an image at the rate of {cell.model} ({cell_macs / 1e6:,.1f} M) "
        f"in {cell.where}, {machine}, corrected for size"
        + (f"; scaled {', '.join(scaled)}" if scaled else "")
    )
    return Speed(rate * multiplier / macs, "arithmetic", factor * FACTOR_ARITHMETIC, detail, ARITHMETIC_ONLY)


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
        key = _speed_key(_cell_work(spec, 1), this_machine(device, threads))
        _write_speed(_read_cache(), key, images_per_s, "training run")


def _speed_key(item: WorkItem, here: dict[str, Any]) -> str:
    """``lenet5()|1x28x28|batch 64|cpu, 2 threads, float32|torch 2.13.0+cpu``."""
    threads = f", {here['threads']} threads" if here["device"] == "cpu" else ""
    where = f"{here['device']}{threads}, {cell_precision(item.amp, here)}"
    return f"{item.model_key}|{where}|torch {here['torch']}"


def _write_speed(cache: dict[str, Any], key: str, speed: float, how: str) -> None:
    cache[key] = {
        "images_per_s": round(speed, 2),
        "how": how,
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load": load_average() or 0.0,
        "cores": cores(),
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
