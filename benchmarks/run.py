"""Run the benchmarks and print cnnlab's speed next to the plain-PyTorch loop, as ratios.

    python -m benchmarks.run --quick          # ~3 minutes: peak, a few models, evaluation, load
    python -m benchmarks.run --full           # everything, ~70 minutes on 2 cores
    python -m benchmarks.run --full --only throughput,evaluation
    python -m benchmarks.run --full --only throughput --models airbench,speedrun

Parts: ``peak`` (matmul GFLOP/s), ``breakdown`` (where a step's time goes, and what each of the
trainer's CPU choices changes), ``profile`` (torch.profiler's operator table), ``compile`` (eager
vs ``torch.compile``), ``throughput`` (goal 2), ``evaluation`` (goal 5), ``time-to-64`` (goal 1),
``quick-sweep`` (the variants of ``cifar10-quick`` it was chosen from, over three seeds),
``recipes`` (goals 3 and 4: ``mnist-fast``, ``cifar10-quick`` and ``cifar10-fast`` end to end, each
with the precision it trained in; ``--float32`` adds a float32 run of each, as on a CPU without
bfloat16 kernels),
``default`` (a bare ``cnnlab train``: LeNet-5 on MNIST, its accuracy and time), ``soak`` (the fault
suite's kill-resume-compare trials, :mod:`benchmarks.soak`), ``web`` (the web lab: runs page, live
delay, drawn digit, the cost of watching a run; see benchmarks/web.py), ``airbench`` (cnnlab's
``cifar10-fast`` side by side with the original airbench94_muon.py, passed with ``--airbench PATH``;
8 and 2 epochs, 3 seeds each in full mode; see benchmarks/airbench.py), ``data-parallel`` (2
processes x 1 thread against 1 process x 2 threads, :mod:`benchmarks.data_parallel`). ``--quick`` runs peak,
breakdown, throughput and evaluation on a few models; the other parts run only with ``--full`` (or
when named in ``--only``). The machine line gives the CPU's instruction sets (AVX2, AVX-512F,
AVX512-BF16, AMX) and PyTorch's CPU capability.
Results also go to a JSON file (``--out``). CIFAR-10 must be reachable (``CNNLAB_DATA``); note
that the copy in ``shared/data`` was rebuilt from JPEG, so its accuracies run a little below the
official data's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks import (
    accuracy,
    airbench,
    breakdown,
    compiled,
    data_parallel,
    evaluation,
    soak,
    throughput,
    web,
)
from benchmarks.measure import machine, matmul_gflops, synthetic_dataset
from cnnlab.atomic import atomic_write_json
from cnnlab.models import create, list_models

PARTS = (
    "peak", "breakdown", "profile", "compile", "throughput", "evaluation", "time-to-64", "quick-sweep",
    "recipes", "default", "soak", "web", "airbench", "data-parallel",
)  # fmt: skip
QUICK_PARTS = ("peak", "breakdown", "throughput", "evaluation")
CONV_HEAVY = ("vgg", "resnet")  # families whose achieved GFLOP/s is compared with the matmul peak
# The networks whose steps are taken apart: (name, input shape, batch size, timed steps).
BREAKDOWN_MODELS = {
    "quick": (("tutorial-cnn", (3, 32, 32), 64, 20), ("resnet18", (3, 32, 32), 64, 3)),
    "full": (
        ("mlp", (1, 28, 28), 64, 40),
        ("tutorial-cnn", (3, 32, 32), 64, 30),
        ("speedrun", (3, 32, 32), 256, 6),
        ("resnet18", (3, 32, 32), 64, 6),
    ),
}
# Goal 1's cnnlab side: the recipe and the settings that override it.
TIME_TO_64_RECIPE, TIME_TO_64_SETTINGS = accuracy.QUICK_RECIPE, {}
# Goal 5: the course's network, and the fast recipe's (whose forward pass dominates).
# (name, settings of the cnnlab side): speedrun also in bfloat16, as the fast recipes evaluate it.
EVALUATION_MODELS = {
    "quick": (("tutorial-cnn", {}), ("tutorial-cnn", {"amp": True})),
    "full": (
        ("tutorial-cnn", {}),
        ("tutorial-cnn", {"amp": True}),
        ("speedrun", {}),
        ("speedrun", {"amp": True}),
    ),
}
# Goal 5 (issue 20): evaluation within this factor of its arithmetic floor at the measured matmul
# peak of its precision (float32, and bfloat16 where the CPU has its kernels).
FLOOR_GOAL = 1.5
DEFAULT_OUT = Path(__file__).parent / "results"


def part_peak(mode: str, results: dict[str, Any]) -> None:
    gflops = matmul_gflops()
    results["matmul_gflops"] = gflops
    print(f"matmul peak (4096x4096 float32): {gflops:.1f} GFLOP/s")


def part_breakdown(mode: str, results: dict[str, Any]) -> None:
    print("where a training step's time goes (median ms per step):")
    rows = []
    for name, shape, batch, steps in BREAKDOWN_MODELS[mode]:
        print(f" {name}, batch {batch}, input {'x'.join(map(str, shape))}:")
        dataset = synthetic_dataset(shape, batch * (steps + 2))
        for row in breakdown.compare(name, dataset, batch, steps):
            print(row.line())
            rows.append({"model": name, "label": row.label, "ms": row.milliseconds})
    results["breakdown"] = rows


# The networks whose operators are profiled: (name, batch size, settings as the recipe trains it).
PROFILED = (("tutorial-cnn", 64, {}), ("speedrun", 256, {"amp": True}))


def part_profile(mode: str, results: dict[str, Any]) -> None:
    print("torch.profiler: operators by self CPU time over 3 of cnnlab's training steps")
    for name, batch, settings in PROFILED:
        dataset = synthetic_dataset((3, 32, 32), batch * 4)
        torch.manual_seed(0)
        model = create(name, num_classes=10, in_channels=3, input_size=32)
        print(f" {name}, batch {batch} {settings or ''}")
        print(breakdown.operator_table(model, dataset, batch, **settings))


def part_compile(mode: str, results: dict[str, Any]) -> None:
    print("torch.compile: cnnlab's training step, eager and compiled (fastest of 5 steps after the first)")
    rows = []
    for name, batch, settings in PROFILED:
        result = compiled.measure_compile(name, batch, **settings)
        print(result.line())
        rows.append(result.to_dict())
    results["compile"] = rows


def part_throughput(mode: str, results: dict[str, Any]) -> None:
    print("training throughput, cnnlab vs the plain loop at equal batch size:")
    rows = throughput.run(mode, results.get("models"))
    results["throughput"] = [row.to_dict() for row in rows]
    worst = min(rows, key=lambda row: row.ratio)
    print(f" lowest ratio: {worst.model} x{worst.ratio:.2f}")
    peak = results.get("matmul_gflops")
    if peak:
        for row in rows:
            if row.model.startswith(CONV_HEAVY):
                share = row.cnnlab_gflops / peak
                print(f" {row.model:16s} {row.cnnlab_gflops:6.1f} GFLOP/s = {share:.0%} of the matmul peak")


def part_evaluation(mode: str, results: dict[str, Any]) -> None:
    load = evaluation.measure_load()
    print(
        f"load cifar10 (train + test): first {load.first_seconds:.2f} s, cached {load.cached_seconds:.2f} s"
    )
    _, test = accuracy.load_cifar10()
    peaks = _peaks(results)
    rows = []
    for name, settings in EVALUATION_MODELS[mode]:
        precision = "bfloat16" if settings.get("amp") and "bfloat16" in peaks else "float32"
        result = evaluation.measure_evaluation(test, name, **settings)
        floor = result.floor_seconds(peaks[precision])
        to_floor = result.cnnlab_seconds / floor
        print(
            f"evaluate {result.model} ({precision}) on the {result.images:,} test images: "
            f"plain {result.plain_seconds:.2f} s, cnnlab {result.cnnlab_seconds:.3f} s, x{result.ratio:.1f} "
            f"(accuracy {result.plain_accuracy:.4f} vs {result.cnnlab_accuracy:.4f})\n"
            f"   its arithmetic ({result.gflop_per_image * 1000:.2f} MFLOP per image) at the {precision} "
            f"matmul peak of {peaks[precision]:.1f} GFLOP/s: {floor:.3f} s; cnnlab takes {to_floor:.2f}x "
            f"that floor (goal: within {FLOOR_GOAL}x): {'met' if to_floor <= FLOOR_GOAL else 'NOT met'}"
        )
        rows.append({**result.to_dict(), "precision": precision, "floor_seconds": floor,
                     "to_floor": to_floor, "goal_met": to_floor <= FLOOR_GOAL})  # fmt: skip
    results["load"] = load.to_dict()
    results["evaluation"] = rows


def _peaks(results: dict[str, Any]) -> dict[str, float]:
    """The matmul peak in float32, and in bfloat16 where this CPU has bfloat16 kernels."""
    from cnnlab.training.hardware import cpu_has_bfloat16_kernels

    # Measured only when the results lack them (setdefault would time the matmuls every call).
    if "matmul_gflops" not in results:
        results["matmul_gflops"] = matmul_gflops()
    peaks = {"float32": results["matmul_gflops"]}
    if cpu_has_bfloat16_kernels():
        if "matmul_gflops_bfloat16" not in results:
            results["matmul_gflops_bfloat16"] = matmul_gflops(dtype=torch.bfloat16)
        peaks["bfloat16"] = results["matmul_gflops_bfloat16"]
    return peaks


def part_time_to_64(mode: str, results: dict[str, Any]) -> None:
    target = accuracy.COURSE_TARGET
    train, test = accuracy.load_cifar10()
    plain_run = accuracy.plain_course_run(train, test, target)
    fast_run = accuracy.cnnlab_recipe_run(TIME_TO_64_RECIPE, test_every=1, **TIME_TO_64_SETTINGS)
    runs = [plain_run, fast_run]
    for run in runs:
        reached = run.seconds_to(target)
        shown = f"{reached:.1f} s" if reached is not None else "not reached"
        by_epoch = [round(a, 4) for a in run.accuracies]
        print(f" {run.label}: accuracy by epoch {by_epoch}, to {target:.0%}: {shown}")
    print(" " + time_to_target_verdict(plain_run, fast_run, target))
    results["time_to_64"] = [run.to_dict() for run in runs]


def time_to_target_verdict(
    plain_run: accuracy.AccuracyRun, fast_run: accuracy.AccuracyRun, target: float
) -> str:
    """The ratio of the two times to ``target``. When the plain run never gets there, its whole
    training time is a lower bound on its time to the target, so the ratio is a lower bound too."""
    plain_s, fast_s = plain_run.seconds_to(target), fast_run.seconds_to(target)
    if fast_s is None:
        return f"cnnlab did not reach {target:.0%}: no ratio"
    if plain_s is not None:
        return f"time to {target:.0%}: x{plain_s / fast_s:.1f} shorter with cnnlab"
    return (
        f"time to {target:.0%}: at least x{plain_run.total_train_seconds / fast_s:.1f} shorter with cnnlab "
        f"(the plain run ended at {plain_run.final_accuracy:.2%} after {plain_run.total_train_seconds:.1f} s "
        f"of training without reaching {target:.0%})"
    )


# The quick sweep's seeds: three in full mode (a recipe chosen on one seed may be that seed's luck).
SWEEP_SEEDS = {"quick": (0,), "full": (0, 1, 2)}


def part_quick_sweep(mode: str, results: dict[str, Any]) -> None:
    seeds = SWEEP_SEEDS[mode]
    print(f"cnnlab train --recipe {TIME_TO_64_RECIPE} and variants of it, seeds {list(seeds)}:")
    rows = []
    for row in accuracy.sweep(TIME_TO_64_RECIPE, accuracy.QUICK_SWEEP, seeds):
        print(row.line(), flush=True)
        rows.append(row)
    results["quick_sweep"] = [row.to_dict() for row in rows]


RECIPES = ("mnist-fast", "cifar10-quick", "cifar10-fast")  # issue 20 times each in float32 too


def part_recipes(mode: str, results: dict[str, Any]) -> None:
    rows = []
    variants = [{}] + ([{"amp": False}] if results.get("float32") else [])
    for recipe in results.get("recipes_chosen") or RECIPES:
        for settings in variants:
            run = accuracy.cnnlab_recipe_run(recipe, **settings)
            why = f"{run.precision_note}{_variant_note(recipe, run)}"
            print(
                f" cnnlab train --recipe {recipe}{accuracy.cli_flags(settings)} ({run.precision}: "
                f"{why}): test accuracy {run.final_accuracy:.2%} after "
                f"{run.total_train_seconds:.1f} s of training "
                f"({run.wall_seconds:.1f} s with evaluation and start-up)",
                flush=True,
            )
            rows.append({"recipe": recipe, "settings": settings, **run.to_dict()})
    results["recipes"] = rows


def _variant_note(recipe: str, run: accuracy.AccuracyRun) -> str:
    """The line's note where the run took the recipe's float32 settings (empty otherwise)."""
    if run.recipe_variant != "float32":
        return ""
    from cnnlab.training.recipes import get_recipe

    changed = get_recipe(recipe).float32_settings
    return "; the recipe's float32 settings: " + ", ".join(f"{k}={v}" for k, v in changed.items())


def part_default(mode: str, results: dict[str, Any]) -> None:
    """A bare `cnnlab train` (issue 21's main job): its test accuracy and time, seeds 0-2 in full;
    with --float32 each again with --no-amp (what a CPU without bfloat16 kernels runs)."""
    rows = []
    variants = [{}] + ([{"amp": False}] if results.get("float32") else [])
    for seed in (0, 1, 2) if mode == "full" else (0,):
        for settings in variants:
            cpu_started = time.process_time()
            run = accuracy.cnnlab_recipe_run("default", seed=seed, **settings)
            cpu_s = time.process_time() - cpu_started
            print(
                f" cnnlab train --seed {seed}{accuracy.cli_flags(settings)} ({run.precision}): test accuracy "
                f"{run.final_accuracy:.2%} after {run.total_train_seconds:.1f} s of training "
                f"({run.wall_seconds:.1f} s with evaluation and start-up, {cpu_s:.1f} s of CPU over all "
                f"threads); goal: >= 99% in < 20 s",
                flush=True,
            )
            rows.append({"seed": seed, "settings": settings, "cpu_seconds": cpu_s, **run.to_dict()})
    results["default"] = rows


def part_soak(mode: str, results: dict[str, Any]) -> None:
    results["soak"] = soak.run(trials=soak.TRIALS[mode])


def part_web(mode: str, results: dict[str, Any]) -> None:
    web.run(mode, results)


def part_airbench(mode: str, results: dict[str, Any]) -> None:
    script = results.get("airbench_script")
    airbench.run_part(mode, Path(script) if script else None, results)


def part_data_parallel(mode: str, results: dict[str, Any]) -> None:
    """2 processes x 1 thread against 1 process x 2 threads (and GPUs where there are two)."""
    results["data_parallel"] = data_parallel.run(mode)


RUNNERS: dict[str, Callable[[str, dict[str, Any]], None]] = {
    "peak": part_peak,
    "breakdown": part_breakdown,
    "profile": part_profile,
    "compile": part_compile,
    "throughput": part_throughput,
    "evaluation": part_evaluation,
    "time-to-64": part_time_to_64,
    "quick-sweep": part_quick_sweep,
    "recipes": part_recipes,
    "default": part_default,
    "soak": part_soak,
    "web": part_web,
    "airbench": part_airbench,
    "data-parallel": part_data_parallel,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", dest="mode", action="store_const", const="quick", help="a few minutes (default)"
    )
    size.add_argument(
        "--full", dest="mode", action="store_const", const="full", help="every model and recipe"
    )
    parser.add_argument("--only", default=None, help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument(
        "--models", default=None, help="throughput part: only these zoo models, e.g. airbench,speedrun"
    )
    parser.add_argument(
        "--recipes",
        default=None,
        help=f"recipes part: only these, e.g. mnist-fast (default: {', '.join(RECIPES)})",
    )
    parser.add_argument(
        "--float32",
        action="store_true",
        help="recipes and default parts: also train each with --no-amp (float32, as with no bfloat16)",
    )
    parser.add_argument(
        "--airbench",
        type=Path,
        default=None,
        help="airbench part: path to airbench94_muon.py (github.com/KellerJordan/cifar10-airbench)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results JSON (default: benchmarks/results/MODE.json)"
    )
    parser.set_defaults(mode="quick")
    args = parser.parse_args(argv)
    args.parts = _parts(parser, args)
    args.models = _models(parser, args.models)
    if args.recipes is not None:
        from cnnlab.training.recipes import list_recipes

        known = [recipe.name for recipe in list_recipes()]
        args.recipes = _chosen(parser, args.recipes, known, "recipe", require_some=True)
    return args


def _models(parser: argparse.ArgumentParser, text: str | None) -> list[str] | None:
    if text is None:
        return None
    known = [info.name for info in list_models(task="classify")]
    return _chosen(parser, text, known, "model", require_some=True)


def _chosen(
    parser: argparse.ArgumentParser, text: str, known: Sequence[str], noun: str, require_some: bool = False
) -> list[str]:
    """The comma-separated names in ``text``; a usage error naming the unknown ones otherwise."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or (require_some and not chosen):
        named = ", ".join(unknown) or "(none given)"
        parser.error(f"unknown {noun}(s) {named}; choose from {', '.join(known)}")
    return chosen


def _parts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    if args.only is None:
        return list(QUICK_PARTS if args.mode == "quick" else PARTS)
    return _chosen(parser, args.only, PARTS, "part")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"mode": args.mode, "machine": machine()}
    if args.models:
        results["models"] = args.models
    if args.recipes:
        results["recipes_chosen"] = args.recipes
    results["float32"] = args.float32
    if args.airbench:
        results["airbench_script"] = str(args.airbench)
    found = results["machine"]
    bfloat16 = "yes" if found["bfloat16_kernels"] else "no: --amp trains in float32"
    print(f"{found['cpu']}, {found['cores']} cores ({', '.join(found['isa']) or 'none of AVX2, AVX-512'}; "
          f"torch's CPU capability {found['torch_cpu_capability']}, bfloat16 kernels: {bfloat16}), "
          f"torch {torch.__version__}, load {found['load_average']}")  # fmt: skip
    for part in args.parts:
        print(f"\n== {part}")
        RUNNERS[part](args.mode, results)
    out = args.out or DEFAULT_OUT / f"{args.mode}.json"
    atomic_write_json(out, results)
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
