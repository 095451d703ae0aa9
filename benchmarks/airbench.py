"""Side by side with airbench94_muon: the original script and cnnlab's ``cifar10-fast`` on this CPU.

    python -m benchmarks.airbench --airbench PATH/airbench94_muon.py --epochs 8 --seeds 3
    python -m benchmarks.airbench --airbench PATH --epochs 2 --seeds 3          # the short schedule
    python -m benchmarks.airbench --airbench PATH --epochs 1 --seeds 1 \\
        --subset 400 --test-subset 400 --batch-size 100                         # a check, ~1 minute

airbench94_muon.py (Jordan 2024; repository KellerJordan/cifar10-airbench, MIT) is never part of
cnnlab: the user passes the file (``git clone https://github.com/KellerJordan/cifar10-airbench``).
The benchmark reads it, applies in memory only what a CPU needs (each change an exact textual
substitution that must match the stated number of times, so a changed upstream file fails loudly
instead of being run half-patched; plus two run-time patches of its functions), runs its ``main``
once per seed, then trains ``cnnlab train --recipe cifar10-fast`` with the same epochs and seeds.
Both sides read the same CIFAR-10 copy (``CNNLAB_DATA``): the upstream script's loader finds its
``cifar10/train.pt`` and ``test.pt`` cache files, written from cnnlab's dataset beforehand, so its
torchvision download never runs. Printed per side: test accuracy (mean ± std over seeds), seconds
per epoch, the ratio, the precision each side ran in, the CPU's instruction sets, and which
convolution kernels each side's step runs (``torch.profiler`` over one step: oneDNN's
``aten::mkldnn_convolution`` or the slow reference ``aten::_slow_conv2d_*``, which bfloat16
convolutions fall to on CPUs without AVX512-BF16).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks import accuracy
from benchmarks.measure import machine
from cnnlab.atomic import atomic_write_json
from cnnlab.data import ImageDataset
from cnnlab.errors import CnnlabError

RECIPE = "cifar10-fast"  # cnnlab's translation of airbench94_muon (cnnlab/training/recipes.py)
UPSTREAM_EPOCHS, UPSTREAM_BATCH = 8, 2000  # airbench94_muon's own schedule
PROFILE_BATCH = 64  # images in the profiled step: small, as the slow reference kernel can take a minute
# Operators whose name has "conv" but which only dispatch to a kernel (no arithmetic of their own).
CONV_DISPATCHERS = ("aten::conv2d", "aten::convolution", "aten::_convolution", "aten::_convolution_mode")
SLOW_KERNEL = "slow_conv"  # aten::_slow_conv2d_forward / _backward: the reference kernels
DEFAULT_OUT = Path(__file__).parent / "results" / "airbench.json"


class UpstreamChanged(CnnlabError):
    """The upstream script no longer contains a text the CPU patches replace."""


@dataclass(frozen=True)
class Patch:
    """One exact textual substitution in the upstream source; ``count``: how often ``old`` occurs."""

    old: str
    new: str
    why: str
    count: int = 1

    def line(self) -> str:
        return f"{_one_line(self.old)!r} -> {_one_line(self.new)!r}: {self.why}"


def _one_line(text: str) -> str:
    return " / ".join(part.strip() for part in text.strip().splitlines())


# What a CPU needs, and nothing else. The precision (float16 weights on the GPU) becomes float32
# weights with the forward pass under bfloat16 autocast (or float32): see patch_forward.
CPU_PATCHES: tuple[Patch, ...] = (
    Patch(
        "import torchvision\nimport torchvision.transforms as T\n",
        "",
        "torchvision is not used (not installed with cnnlab): the data cache files are written beforehand, "
        "so its download never runs, and T.Normalize is given as (x - mean) / std",
    ),
    Patch(
        "with open(sys.argv[0]) as f:\n    code = f.read()\n",
        "code = None\n",
        "its own source was read only for the log file of its __main__ block, which is not run",
    ),
    Patch(
        "@torch.compile\ndef zeropower_via_newtonschulz5",
        "def zeropower_via_newtonschulz5",
        "no torch.compile (the __main__ block's model.compile is not run either): on this CPU compiled "
        "code is no faster and compiling takes 10-20 s (benchmarks/README.md, torch.compile)",
    ),
    Patch('map_location=torch.device("cuda")', 'map_location=torch.device("cpu")', "device: cpu"),
    Patch(
        "self.images.half() / 255",
        "self.images.float() / 255",
        "images in float32 instead of float16 (the forward pass casts under autocast)",
    ),
    Patch(
        "mod.half()",
        "mod.float()",
        "weights in float32 instead of float16; the forward pass runs under bfloat16 autocast (or float32)",
    ),
    Patch(
        "torch.cuda.Event(enable_timing=True)",
        "_WallClockEvent()",
        "its timer's CUDA events become wall-clock marks (time.perf_counter)",
        count=2,
    ),
    Patch("torch.cuda.synchronize()", "pass", "nothing to synchronise on a CPU"),
)


def schedule_patches(epochs: int, batch_size: int) -> list[Patch]:
    """The substitutions for a schedule other than the upstream 8 epochs of batch 2,000."""
    patches = []
    if epochs != UPSTREAM_EPOCHS:
        patches.append(
            Patch(
                f"total_train_steps = ceil({UPSTREAM_EPOCHS} * len(train_loader))",
                f"total_train_steps = ceil({epochs} * len(train_loader))",
                f"{epochs} epoch{'s' * (epochs != 1)} instead of {UPSTREAM_EPOCHS} "
                "(the lr still falls linearly to 0 over them; the whitening bias still trains for "
                "3 epochs' steps)",
            )
        )
    if batch_size != UPSTREAM_BATCH:
        patches.append(
            Patch(
                f"    batch_size = {UPSTREAM_BATCH}\n",
                f"    batch_size = {batch_size}\n",
                f"batch {batch_size} instead of {UPSTREAM_BATCH} (a check on a small subset; weight decay "
                "follows it as upstream: 2e-6 * batch_size)",
            )
        )
    return patches


def apply_patches(source: str, patches: Sequence[Patch]) -> str:
    """``source`` with each patch applied; UpstreamChanged if an ``old`` text is not found exactly
    ``count`` times (then the upstream file changed and the patches need reading again)."""
    for patch in patches:
        found = source.count(patch.old)
        if found != patch.count:
            raise UpstreamChanged(
                f"The airbench script has {found} occurrence(s) of {_one_line(patch.old)!r} where "
                f"{patch.count} were expected: it is not the airbench94_muon.py these CPU patches were "
                "written for (benchmarks/airbench.py, CPU_PATCHES)."
            )
        # The same number of lines, so a traceback's line numbers still point into the user's file.
        padding = "\n" * max(0, patch.old.count("\n") - patch.new.count("\n"))
        source = source.replace(patch.old, padding + patch.new)
    return source


class _WallClockEvent:
    """What the upstream timer needs of ``torch.cuda.Event``: ``record()`` and ``elapsed_time`` in ms."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def record(self) -> None:
        self.seconds = time.perf_counter()

    def elapsed_time(self, end: _WallClockEvent) -> float:
        return (end.seconds - self.seconds) * 1000


def _normalize(mean: torch.Tensor, std: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """torchvision.transforms.Normalize for a batch ``(N, C, H, W)``."""
    mean, std = mean.view(-1, 1, 1), std.view(-1, 1, 1)
    return lambda images: (images - mean.to(images)) / std.to(images)


def load_upstream(
    path: Path, patches: Sequence[Patch], name: str = "airbench94_muon_cpu"
) -> types.ModuleType:
    """The upstream script as a module, with ``patches`` applied in memory. Its ``__main__`` block
    does not run (the module has another name)."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CnnlabError(f"Cannot read the airbench script {path}: {error.strerror}.") from None
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__dict__.update(_WallClockEvent=_WallClockEvent, T=types.SimpleNamespace(Normalize=_normalize))
    exec(compile(apply_patches(source, patches), str(path), "exec"), module.__dict__)  # noqa: S102
    return module


def patch_forward(module: types.ModuleType, bfloat16: bool) -> None:
    """Run ``CifarNet.forward`` under bfloat16 autocast (CPU) when ``bfloat16``; the logits come
    back in float32 either way, as autocast's loss would compute them."""
    forward = module.CifarNet.forward

    def forward_on_cpu(self, x, whiten_bias_grad=True):  # noqa: ANN001 - the upstream signature
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            return forward(self, x, whiten_bias_grad).float()

    module.CifarNet.forward = forward_on_cpu


@dataclass
class SideRun:
    """One side, one seed: final test accuracy and training seconds per epoch."""

    seed: int
    accuracy: float
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        return statistics.fmean(self.epoch_seconds) if self.epoch_seconds else float("nan")


def record_epochs(module: types.ModuleType) -> list[dict[str, Any]]:
    """Wrap the upstream ``print_training_details`` so that each printed row is also kept; returns
    the list the rows go to. ``time_seconds`` there is cumulative training time (the whitening fit,
    the epochs; the final 'eval' row adds the TTA evaluation)."""
    rows: list[dict[str, Any]] = []
    printed = module.print_training_details

    def print_and_keep(variables, is_final_entry):  # noqa: ANN001 - the upstream signature
        rows.append({key: variables.get(key) for key in ("epoch", "val_acc", "tta_val_acc", "time_seconds")})
        printed(variables, is_final_entry)

    module.print_training_details = print_and_keep
    return rows


def write_upstream_data(folder: Path, train: ImageDataset, test: ImageDataset) -> None:
    """The upstream loader's cache files ``cifar10/train.pt`` and ``test.pt`` from cnnlab's dataset:
    uint8 images ``(N, H, W, C)`` (torchvision's layout), labels and class names."""
    (folder / "cifar10").mkdir(parents=True, exist_ok=True)
    for name, dataset in (("train.pt", train), ("test.pt", test)):
        images = dataset.images.permute(0, 2, 3, 1).contiguous()
        record = {"images": images, "labels": dataset.labels.clone(), "classes": list(dataset.classes)}
        torch.save(record, folder / "cifar10" / name)


def run_upstream(module: types.ModuleType, data_folder: Path, seed: int) -> SideRun:
    """One call of the upstream ``main`` (a fresh, seeded net), in ``data_folder``, where it finds
    ``cifar10/*.pt``; the net is set up as its ``__main__`` block does, on the CPU, not compiled."""
    rows = record_epochs(module)
    if hasattr(module, "print_columns"):  # the table's head, as its __main__ block prints it
        module.print_columns(module.logging_columns_list, is_head=True)
    torch.manual_seed(seed)
    model = module.CifarNet().to(memory_format=torch.channels_last)
    with contextlib.chdir(data_folder):
        tta_accuracy = module.main(seed, model)
    times = [row["time_seconds"] for row in rows if row["epoch"] != "eval"]
    return SideRun(seed, float(tta_accuracy), [b - a for a, b in zip([0.0, *times], times, strict=False)])


def run_cnnlab(epochs: int, seed: int, bfloat16: bool, **settings: Any) -> tuple[SideRun, str]:
    """``cnnlab train --recipe cifar10-fast --epochs E --seed S``; also the precision it ran in."""
    run = accuracy.cnnlab_recipe_run(RECIPE, epochs=epochs, seed=seed, amp=bfloat16, **settings)
    per_epoch = run.total_train_seconds / epochs
    return SideRun(seed, run.final_accuracy, [per_epoch] * epochs), run.precision


def conv_kernels(step: Callable[[], None]) -> dict[str, float]:
    """Self CPU milliseconds of each convolution operator in one profiled call of ``step`` (after
    one warm-up call: oneDNN builds its kernels on the first)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        step()
    return {
        event.key: round(event.self_cpu_time_total / 1000, 1)
        for event in profiler.key_averages()
        if is_conv_kernel(event.key)
    }


def is_conv_kernel(name: str) -> bool:
    """A convolution operator that does the arithmetic (not a dispatcher or an autograd node)."""
    lowered = name.lower()
    return (
        "conv" in lowered
        and name not in CONV_DISPATCHERS
        and not name.startswith("autograd::")
        and not name.endswith("Backward0")
    )


def upstream_step(module: types.ModuleType, images: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    """One forward and backward of the upstream net on ``images`` (normalised, channels_last)."""
    model = module.CifarNet().to(memory_format=torch.channels_last)
    model.reset()
    model.init_whiten(images)
    model.train()

    def step() -> None:
        loss = F.cross_entropy(model(images), labels, label_smoothing=0.2, reduction="sum")
        loss.backward()
        model.zero_grad(set_to_none=True)

    return step


def cnnlab_step(bfloat16: bool, batch: int) -> Callable[[], None]:
    """One of cnnlab's training steps (the trainer's step, as benchmarks.breakdown takes it) of the
    recipe's network and optimizer."""
    from benchmarks.breakdown import CnnlabStep
    from benchmarks.measure import synthetic_dataset
    from cnnlab.models import create
    from cnnlab.training.hardware import hardware_context
    from cnnlab.training.recipes import get_recipe

    settings = {
        key: value
        for key, value in get_recipe(RECIPE).settings.items()
        if key not in ("model", "dataset", "batch_size")
    }
    settings.update(amp=bfloat16, epochs=1)
    dataset = synthetic_dataset((3, 32, 32), batch * 2)
    torch.manual_seed(0)
    step = CnnlabStep(
        create("airbench", num_classes=10, in_channels=3, input_size=(32, 32)), dataset, batch, **settings
    )
    counter = iter(range(1_000_000))

    def one_step() -> None:
        with hardware_context(step.hardware):
            step(next(counter))

    return one_step


def _same_allocator() -> str:
    """Give both sides the malloc settings cnnlab's trainer sets in its process, before either runs.

    The two sides share this process, and the trainer raises glibc's mmap and trim thresholds the
    first time it trains (cnnlab.training.allocator): without this, the original's first seed would
    run with glibc's defaults (a fresh, zero-filled mmap for every big tensor: 126 s an epoch
    against 67-71 s for its later seeds, measured 2026-12-02) and every later seed with cnnlab's."""
    from cnnlab.training.allocator import keep_freed_memory

    if keep_freed_memory():
        return "freed memory kept (glibc's thresholds raised, as cnnlab's trainer does), for both sides"
    return "left as it is (not glibc, or set by the user), for both sides"


def summary(runs: Sequence[SideRun]) -> dict[str, Any]:
    accuracies = [run.accuracy for run in runs]
    return {
        "seeds": [run.seed for run in runs],
        "accuracies": accuracies,
        "accuracy_mean": statistics.fmean(accuracies),
        "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "seconds_per_epoch": statistics.fmean(run.seconds_per_epoch for run in runs),
        "epoch_seconds": [run.epoch_seconds for run in runs],
    }


def side_line(label: str, side: dict[str, Any]) -> str:
    each = ", ".join(f"{a:.2%}" for a in side["accuracies"])
    return (
        f" {label:34s} test accuracy {side['accuracy_mean']:.2%} ± {side['accuracy_std']:.2%} ({each}); "
        f"{side['seconds_per_epoch']:.1f} s per epoch; {side['precision']}; "
        f"conv kernels: {', '.join(f'{k} {ms} ms' for k, ms in side['conv_kernels'].items()) or 'none seen'}"
        + (" (the slow reference kernel)" if any(SLOW_KERNEL in k for k in side["conv_kernels"]) else "")
    )


def _report(line: str) -> None:
    print(line, flush=True)


def compare(args: argparse.Namespace, report: Callable[[str], None] = _report) -> dict[str, Any]:
    """Run both sides as ``args`` say; returns the results (also printed through ``report``)."""
    from cnnlab.data import load_dataset
    from cnnlab.training.hardware import cpu_has_bfloat16_kernels

    bfloat16 = args.precision == "bfloat16" or (args.precision == "auto" and cpu_has_bfloat16_kernels())
    precision = "bfloat16 autocast" if bfloat16 else "float32"
    patches = [*CPU_PATCHES, *schedule_patches(args.epochs, args.batch_size)]
    found = machine()
    report(
        f"{found['cpu']}, {found['cores']} cores; instruction sets: "
        f"{', '.join(found['isa']) or 'no AVX2/AVX-512'}; "
        f"torch {torch.__version__} (CPU capability {found['torch_cpu_capability']}, bfloat16 kernels: "
        f"{'yes' if found['bfloat16_kernels'] else 'no'}); load {found['load_average']}"
    )
    report(f"upstream: {args.airbench}, changed in memory for the CPU ({len(patches)} substitutions):")
    for patch in patches:
        report(f"  - {patch.line()}")
    report(
        f"  - run time: CifarNet.forward runs under {precision}; the net is built as its __main__ "
        "block builds it, without .cuda() and model.compile; one seeded main() per seed, no warm-up run"
    )
    report(
        "  - data: the CIFAR-10 copy cnnlab trains on (CNNLAB_DATA), written as the loader's "
        "cifar10/*.pt cache files"
    )
    report(f"  - the process's malloc: {_same_allocator()}")
    module = load_upstream(args.airbench, patches)
    patch_forward(module, bfloat16)
    train = load_dataset("cifar10", "train", progress=False)
    test = load_dataset("cifar10", "test", progress=False)
    cnnlab_settings: dict[str, Any] = {}
    if args.subset:
        train, cnnlab_settings["subset"] = train.subset(args.subset), args.subset
    if args.test_subset:
        test, cnnlab_settings["test_subset"] = test.subset(args.test_subset), args.test_subset
    if args.batch_size != UPSTREAM_BATCH:
        cnnlab_settings["batch_size"] = args.batch_size
    seeds = list(range(args.seeds))
    upstream_runs, cnnlab_runs, cnnlab_precisions = [], [], set()
    with tempfile.TemporaryDirectory(prefix="cnnlab-airbench-") as folder:
        write_upstream_data(Path(folder), train, test)
        for seed in seeds:  # the sides alternate, so both see the same hours of a shared machine
            upstream_runs.append(run_upstream(module, Path(folder), seed))
            report(
                f" airbench94_muon seed {seed}: {upstream_runs[-1].accuracy:.2%}, "
                f"{upstream_runs[-1].seconds_per_epoch:.1f} s per epoch"
            )
            run, ran_in = run_cnnlab(args.epochs, seed, bfloat16, **cnnlab_settings)
            cnnlab_runs.append(run)
            cnnlab_precisions.add(ran_in)
            report(
                f" cnnlab {RECIPE} seed {seed}: {run.accuracy:.2%}, {run.seconds_per_epoch:.1f} s per epoch "
                f"({ran_in})"
            )
    images = _normalized(module, train.images[:PROFILE_BATCH])
    upstream = {
        **summary(upstream_runs),
        "precision": precision,
        "conv_kernels": conv_kernels(upstream_step(module, images, train.labels[:PROFILE_BATCH])),
    }
    ours = {
        **summary(cnnlab_runs),
        "precision": ", ".join(sorted(cnnlab_precisions)),
        "conv_kernels": conv_kernels(cnnlab_step(bfloat16, PROFILE_BATCH)),
    }
    results = {
        "machine": found,
        "airbench": str(args.airbench),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "subset": args.subset,
        "test_subset": args.test_subset,
        "patches": [asdict(patch) for patch in patches],
        "upstream": upstream,
        "cnnlab": ours,
        "time_ratio": ours["seconds_per_epoch"] / upstream["seconds_per_epoch"],
        "accuracy_difference": ours["accuracy_mean"] - upstream["accuracy_mean"],
    }
    report(
        f"\n{args.epochs} epoch{'s' * (args.epochs != 1)}, seeds {seeds}, "
        f"conv kernels over one step of {PROFILE_BATCH} images:"
    )
    report(side_line("airbench94_muon (CPU-patched)", upstream))
    report(side_line(f"cnnlab --recipe {RECIPE}", ours))
    report(
        f" cnnlab / airbench94_muon: x{results['time_ratio']:.2f} the time per epoch "
        f"({'faster' if results['time_ratio'] < 1 else 'slower'}), accuracy "
        f"{results['accuracy_difference'] * 100:+.2f} points (seed std {upstream['accuracy_std']:.2%} and "
        f"{ours['accuracy_std']:.2%})"
    )
    results["goal"] = goal_verdict(upstream, ours)
    report(
        f" goal (accuracy at least the original's within seed noise, in at most its time): {results['goal']}"
    )
    return results


def goal_verdict(upstream: dict[str, Any], ours: dict[str, Any]) -> str:
    """Issue 20's goal for the side by side: cnnlab's mean accuracy no lower than the original's by
    more than two standard errors of the difference of the means, and its epochs no slower."""
    if min(len(upstream["accuracies"]), len(ours["accuracies"])) < 2:
        return "not judged (one seed a side: no seed noise to judge the accuracy by)"
    noise = 2 * math.sqrt(
        upstream["accuracy_std"] ** 2 / len(upstream["accuracies"])
        + ours["accuracy_std"] ** 2 / len(ours["accuracies"])
    )
    accurate = ours["accuracy_mean"] >= upstream["accuracy_mean"] - noise
    fast = ours["seconds_per_epoch"] <= upstream["seconds_per_epoch"]
    if accurate and fast:
        return "met"
    missed = [what for what, ok in (("accuracy", accurate), ("time", fast)) if not ok]
    return f"NOT met ({' and '.join(missed)}; seed noise taken as {noise:.2%})"


def _normalized(module: types.ModuleType, images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` images as the upstream loader feeds them (its CIFAR mean and std)."""
    scaled = images.float().div(255)
    return module.T.Normalize(module.CIFAR_MEAN, module.CIFAR_STD)(scaled).contiguous(
        memory_format=torch.channels_last
    )


# benchmarks.run's airbench part: (epochs, seeds) per mode; 8 epochs is the upstream schedule.
SCHEDULES = {"quick": ((2, 1),), "full": ((UPSTREAM_EPOCHS, 3), (2, 3))}


def run_part(mode: str, script: Path | None, results: dict[str, Any]) -> None:
    """benchmarks.run's ``airbench`` part: each schedule of ``mode`` side by side, or a note when
    no script was given (it is never shipped with cnnlab)."""
    if script is None:
        print(" skipped: pass --airbench PATH/airbench94_muon.py (github.com/KellerJordan/cifar10-airbench)")
        results["airbench"] = "skipped: no --airbench PATH"
        return
    rows = []
    for epochs, seeds in SCHEDULES[mode]:
        rows.append(
            compare(parse_args(["--airbench", str(script), "--epochs", str(epochs), "--seeds", str(seeds)]))
        )
    results["airbench"] = rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.airbench", description=__doc__.split("\n\n")[0]
    )
    add_arguments(parser)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results JSON (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    if args.airbench is None:
        parser.error(
            "pass --airbench PATH to airbench94_muon.py (from github.com/KellerJordan/cifar10-airbench)"
        )
    return args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The side-by-side's options."""
    parser.add_argument(
        "--airbench",
        type=Path,
        default=None,
        help="path to airbench94_muon.py (KellerJordan/cifar10-airbench)",
    )
    parser.add_argument(
        "--epochs",
        dest="epochs",
        type=int,
        default=UPSTREAM_EPOCHS,
        help="epochs on both sides (default 8, airbench94_muon's)",
    )
    parser.add_argument("--seeds", dest="seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument(
        "--batch-size",
        dest="batch_size",
        type=int,
        default=UPSTREAM_BATCH,
        help="batch size on both sides (default 2000; smaller only for a check on a subset)",
    )
    parser.add_argument(
        "--subset", dest="subset", type=int, default=None, help="first N training images (a check)"
    )
    parser.add_argument(
        "--test-subset",
        dest="test_subset",
        type=int,
        default=None,
        help="first N test images (a check)",
    )
    parser.add_argument(
        "--precision",
        dest="precision",
        choices=("auto", "bfloat16", "float32"),
        default="auto",
        help="auto: bfloat16 autocast where the CPU has its kernels, as "
        "cnnlab's --amp does; else float32 (default auto)",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = compare(args)
    except CnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    atomic_write_json(args.out, results)
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
