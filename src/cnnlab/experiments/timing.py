"""How long an experiment takes on this machine, before it starts.

The plan of an experiment lists what it trains. Each model's training speed (images a second, at the
cell's batch size) comes from the cache in the user cache folder, keyed by model, input, batch,
device, threads and torch version. It holds the speeds measured by earlier training runs of
experiments on this machine, else a probe: the median time of a few optimizer steps on random
inputs, plus the trainer's own cost per step. The estimate is then

    sum over cells of  images trained / speed  +  images evaluated / (EVAL_SPEEDUP * speed)
                      + OVERHEAD_PER_RUN_S per run.

A probe is a rough guide; speeds recorded by real runs are better (docs/experiments.md says how
close the estimates came). Other work on a shared machine slows everything (the report and
``cnnlab experiment list`` state the load average). A probe taken while the machine was busier than
it has cores says more about the other work than about the model, so it is used once and probed
again next time.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cnnlab.atomic import atomic_write_json
from cnnlab.data import get_spec
from cnnlab.data.paths import user_cache_dir
from cnnlab.experiments.machine import load_average
from cnnlab.experiments.plan import CellSpec, ExtraWork, Plan, model_label
from cnnlab.training import TrainConfig, choose_hardware
from cnnlab.training.hardware import available_cores

if TYPE_CHECKING:  # the type only: the experiment table imports this module, not the reverse
    from cnnlab.experiments.registry import Experiment

# Evaluation is a forward pass only, in double-size batches: about a third of a training step's cost.
EVAL_SPEEDUP = 3.0
# Creating a run directory, saving checkpoints, drawing curves.png: seconds a run costs besides steps.
OVERHEAD_PER_RUN_S = 2.0
# A probe starts with a step of SMALL_PROBE_BATCH images. A model that takes that in under
# FAST_STEP_S is timed at its own batch size (up to MAX_PROBE_BATCH): at small batches its speed is
# per-step overhead, not arithmetic. A slow one is timed at the small batch: its speed is arithmetic,
# and a probe of a big model stays short.
SMALL_PROBE_BATCH, MAX_PROBE_BATCH = 8, 64
FAST_STEP_S = 0.05
# What a training step costs beyond the model's arithmetic (batch gather and conversion, metrics,
# seeding, logging): added to a probe's time, which has none of it. Speeds from training runs include it.
TRAINER_STEP_OVERHEAD_S = 0.01
MIN_PROBE_STEPS, MAX_PROBE_STEPS = 3, 20
MIN_PROBE_SECONDS = 0.5
CACHE_FILE = "experiments/throughput.json"

Measure = Callable[["WorkItem", str, int | None], float]


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


@dataclass(frozen=True)
class Estimate:
    seconds: float
    rows: list[dict[str, Any]]  # per work item: label, model, images, images_per_s, seconds

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 1), "rows": self.rows}


def estimate(
    experiment: Experiment,
    *,
    quick: bool,
    seeds: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    measure: Measure | None = None,
) -> Estimate:
    """The expected time of ``experiment`` (its full or quick version) with ``seeds`` seeds."""
    size = experiment.size(quick)
    items = plan_work(experiment.plan(size), seeds or size.seeds)
    measure = measure or measure_throughput
    rows, total = [], 0.0
    speeds: dict[str, float] = {}
    for item in items:
        if item.model_key not in speeds:
            speeds[item.model_key] = measure(item, device, threads)
        speed = speeds[item.model_key]
        seconds = (
            item.train_images / speed
            + item.eval_images / (EVAL_SPEEDUP * speed)
            + OVERHEAD_PER_RUN_S * item.runs
        )
        total += seconds
        rows.append(
            {
                "label": item.label,
                "model": item.model_key.split("|")[0],
                "train_images": item.train_images,
                "eval_images": item.eval_images,
                "images_per_s": round(speed, 1),
                "seconds": round(seconds, 1),
            }
        )
    return Estimate(total, rows)


def plan_work(plan: Plan, seeds: int) -> list[WorkItem]:
    """The work items of a plan run with ``seeds`` seeds."""
    return [_cell_work(cell, seeds) for cell in plan.cells] + [
        _extra_work(extra, seeds) for extra in plan.extra
    ]


def _cell_work(cell: CellSpec, seeds: int) -> WorkItem:
    config = TrainConfig().replace(**cell.settings)
    spec = get_spec(cell.dataset)
    train = config.subset or spec.split_sizes["train"]
    train = round(train * (1 - config.val_split))
    test = config.test_subset or spec.split_sizes["test"]
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


def measure_throughput(item: WorkItem, device: str = "auto", threads: int | None = None) -> float:
    """Training images a second of ``item``'s model here: cached, else probed in a few seconds."""
    key = _speed_key(item, device, threads)
    cache = _read_cache()
    if key in cache and _trusted(cache[key]):
        return float(cache[key]["images_per_s"])
    hardware = choose_hardware(TrainConfig(device=device, threads=threads))
    speed = _time_steps(item, hardware.device, hardware.threads)
    _write_speed(cache, key, speed, "probe")
    return speed


def record_throughput(
    spec: CellSpec, images_per_s: float, device: str = "auto", threads: int | None = None
) -> None:
    """Keep the speed a training run of ``spec`` measured: later estimates use it instead of a probe."""
    if images_per_s > 0:
        _write_speed(
            _read_cache(), _speed_key(_cell_work(spec, 1), device, threads), images_per_s, "training run"
        )


def _speed_key(item: WorkItem, device: str, threads: int | None) -> str:
    hardware = choose_hardware(TrainConfig(device=device, threads=threads))
    return f"{item.model_key}|{hardware.describe()}|torch {torch.__version__}"


def _write_speed(cache: dict[str, Any], key: str, speed: float, how: str) -> None:
    cache[key] = {
        "images_per_s": round(speed, 2),
        "how": how,
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load": _load_average(),
        "cores": available_cores(),
    }
    atomic_write_json(_cache_path(), cache)


def _trusted(entry: dict[str, Any]) -> bool:
    """A training run's speed always; a probe only if the machine was not oversubscribed then."""
    if entry.get("how") == "training run":
        return True
    load, cores = entry.get("load"), entry.get("cores")
    return isinstance(load, (int, float)) and isinstance(cores, int) and load < cores


def _load_average() -> float:
    """The 1-minute load average (0 where the system does not report one)."""
    return load_average() or 0.0


def _time_steps(item: WorkItem, device: torch.device, threads: int) -> float:
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _probe_model(item).to(device).train()
            optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
            # The first step also pays for allocations and kernel selection: it decides nothing.
            _timed_step(model, optimizer, item, SMALL_PROBE_BATCH, device)
            # The median of three: one step slowed by other work must not send a small model
            # down the slow path, where its speed would be all per-step overhead.
            small = statistics.median(
                _timed_step(model, optimizer, item, SMALL_PROBE_BATCH, device) for _ in range(3)
            )
            batch = SMALL_PROBE_BATCH
            if small < FAST_STEP_S and item.batch_size > SMALL_PROBE_BATCH:
                batch = min(item.batch_size, MAX_PROBE_BATCH)
                _timed_step(model, optimizer, item, batch, device)
            times: list[float] = []
            while len(times) < MIN_PROBE_STEPS or (
                len(times) < MAX_PROBE_STEPS and sum(times) < MIN_PROBE_SECONDS
            ):
                times.append(_timed_step(model, optimizer, item, batch, device))
            # The median: on a shared machine single steps are sometimes many times slower.
            per_image = statistics.median(times) / batch + TRAINER_STEP_OVERHEAD_S / item.batch_size
            return 1 / max(per_image, 1e-12)
    finally:
        torch.set_num_threads(saved_threads)


def _probe_model(item: WorkItem) -> nn.Module:
    from cnnlab.models import create

    if not isinstance(item.model, str):
        return item.model()
    channels, height, width = item.input_shape
    return create(item.model, item.num_classes, channels, (height, width), **item.model_args)


def _timed_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, item: WorkItem, batch: int, device: torch.device
) -> float:
    """Seconds for one optimizer step on random inputs of ``batch`` images."""
    from cnnlab.training.metrics import batch_output

    inputs = torch.rand(batch, *item.input_shape, device=device)
    labels = torch.randint(0, item.num_classes, (batch,), device=device)
    _synchronize(device)
    started = time.perf_counter()
    batch_output(model, inputs, labels, nn.functional.cross_entropy).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    _synchronize(device)
    return time.perf_counter() - started


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cache_path() -> Path:
    return user_cache_dir() / CACHE_FILE


def _read_cache() -> dict[str, Any]:
    try:
        cache = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: it only holds measurements, which are taken again
    return cache if isinstance(cache, dict) else {}
