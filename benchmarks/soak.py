"""The soak of the fault suite (issue 21): short trainings killed at random points, each resumed and
compared with its uninterrupted twin.

Each trial trains LeNet-5 on a few hundred MNIST images for a few epochs as a ``python -m cnnlab
train`` subprocess, with a checkpoint every couple of steps. A seeded random choice picks the signal
(SIGKILL: nothing runs after it; SIGINT: Ctrl-C, the trainer saves and marks the run interrupted)
and the moment: in a quarter of the trials during start-up (within half a second of the run folder
appearing: before the first checkpoint), else after step n.
The run is then resumed with ``--resume`` (a run that cannot be resumed is reported as such, with
its message: the soak works around nothing). Its twin, the same settings under another name, is
trained without interruption. A trial passes when the two end bit-identical: every tensor of the
final checkpoint's model, and every metrics.jsonl record without its wall-clock entries. At the end
``runs list`` must list every run of the soak exactly once.

    python -m benchmarks.soak                 # 20 trials, seed 0, two at a time
    python -m benchmarks.run --only soak      # the same, as a part of the benchmark run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cnnlab.runs.checkpoint import load_checkpoint
from cnnlab.training.progress import TIMING_KEYS

# A trial's training: 384 images, batch 32, 3 epochs = 36 steps, a checkpoint every 2 steps.
SETTINGS = {
    "model": "lenet5", "dataset": "mnist", "subset": 384, "test-subset": 128, "batch-size": 32,
    "epochs": 3, "checkpoint-every": 2, "log-every": 1, "threads": 1,
}  # fmt: skip
STEPS = 36
# Kills during start-up land at most this many seconds after the run folder appears.
STARTUP_KILL_S = 0.5
STARTUP_SHARE = 0.25
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}
TRIALS = {"quick": 5, "full": 20}  # as a part of benchmarks.run
TIMEOUT_S = 600
# Trials at a time: each training runs one thread, so two keep a 2-core machine busy (a trial waits
# on its subprocesses, which is where the time goes: three starts of `python -m cnnlab train`).
WORKERS = 2


@dataclass
class Trial:
    name: str
    signal: str
    at: str  # "start-up" or "step N"
    killed: bool  # False when the run had finished before the signal could land
    resumed: bool
    identical_weights: bool
    identical_metrics: bool
    message: str = ""  # what a failed resume said

    @property
    def identical(self) -> bool:
        return self.resumed and self.identical_weights and self.identical_metrics

    def line(self) -> str:
        verdict = "bit-identical" if self.identical else "DIFFERENT" if self.resumed else "NOT RESUMED"
        where = self.at if self.killed else f"{self.at} (finished first)"
        text = f" {self.name}: {self.signal} at {where}: {verdict}"
        return text + (f": {self.message}" if self.message else "")


def run(
    trials: int = 20, seed: int = 0, runs_dir: Path | None = None, workers: int = WORKERS
) -> dict[str, Any]:
    """Run ``trials`` seeded kill-resume-compare trials, ``workers`` at a time; the summary and every
    trial, as a dict. The trials are drawn before any runs, so a seed names the same trials whatever
    ``workers`` is; each prints its line as it ends."""
    owned = runs_dir is None
    runs_dir = Path(tempfile.mkdtemp(prefix="cnnlab-soak-")) if owned else Path(runs_dir)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_trial, runs_dir, *plan) for plan in draw_trials(trials, seed)]
        for future in as_completed(futures):
            print(future.result().line(), flush=True)
    done = [future.result() for future in futures]
    listed = _listed_names(runs_dir)
    expected = [f"soak-{n}" for n in range(trials)] + [f"twin-{n}" for n in range(trials)]
    counts = Counter(listed)
    index_ok = all(counts[name] == 1 for name in expected) and len(listed) == len(expected)
    summary = {
        "trials": trials,
        "seed": seed,
        "identical": sum(trial.identical for trial in done),
        "not_resumed": sum(not trial.resumed for trial in done),
        "index_lists_each_run_once": index_ok,
        "index_missing": [name for name in expected if counts[name] == 0],
        "index_repeated": [name for name, count in counts.items() if count > 1],
        "runs_dir": str(runs_dir),
        "workers": workers,
        "seconds": round(time.monotonic() - started, 1),
        "results": [{**asdict(trial), "identical": trial.identical} for trial in done],
    }
    problems = f" (missing {summary['index_missing']}, repeated {summary['index_repeated']})"
    print(
        f" {summary['identical']}/{trials} bit-identical to their uninterrupted twin (target: all); "
        f"{summary['not_resumed']} could not be resumed; the index lists every run exactly once: "
        + ("yes" if index_ok else "NO" + problems)
        + f"; {summary['seconds']:.0f} s with {workers} trials at a time"
    )
    return summary


def draw_trials(trials: int, seed: int) -> list[tuple[int, str, int, float]]:
    """Each trial's (number, signal, step, start-up delay), drawn from ``seed``: step 0 is a kill
    during start-up, ``delay`` s after the run folder appears (before any checkpoint)."""
    chooser = random.Random(seed)
    drawn = []
    for number in range(trials):
        kind = chooser.choice(sorted(SIGNALS))
        # A quarter of the kills land during start-up (step 0: before any checkpoint), the rest after a step.
        step = 0 if chooser.random() < STARTUP_SHARE else chooser.randint(1, STEPS - 1)
        drawn.append((number, kind, step, chooser.uniform(0.0, STARTUP_KILL_S)))
    return drawn


def _trial(runs_dir: Path, number: int, kind: str, step: int, delay: float) -> Trial:
    name, twin = f"soak-{number}", f"twin-{number}"
    at = "start-up" if step == 0 else f"step {step}"
    child = _start(runs_dir, name)
    killed = _signal_at(child, runs_dir / name / "metrics.jsonl", step, delay, SIGNALS[kind])
    resumed = _cnnlab(runs_dir, "--resume", name)
    _cnnlab(runs_dir, "--name", twin, *_flags())
    if resumed.returncode != 0:
        message = " ".join((resumed.stderr or "").split())[-300:]
        return Trial(name, kind, at, killed, False, False, False, message)
    return Trial(
        name, kind, at, killed, True,
        _same_weights(runs_dir / name, runs_dir / twin), _same_metrics(runs_dir / name, runs_dir / twin),
    )  # fmt: skip


def _flags() -> list[str]:
    return [f"--{key}={value}" for key, value in SETTINGS.items()] + ["--no-curves", "--quiet"]


def _command(runs_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cnnlab", "train", "--runs-dir", str(runs_dir), *args]


def _start(runs_dir: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        _command(runs_dir, "--name", name, *_flags()), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _cnnlab(runs_dir: Path, *args: str) -> subprocess.CompletedProcess:
    extra = ["--quiet"] if args[0] == "--resume" else []
    return subprocess.run(
        _command(runs_dir, *args, *extra), capture_output=True, text=True, timeout=TIMEOUT_S
    )


def _signal_at(child: subprocess.Popen, metrics: Path, step: int, delay: float, sig: int) -> bool:
    """Send ``sig`` to ``child`` after it logged ``step`` (0: ``delay`` s after its run folder
    appeared or at its first logged step, whichever is first, so before its first checkpoint).
    False when it finished first."""
    started, created = time.monotonic(), None
    while child.poll() is None:
        if created is None and (metrics.parent / "config.json").exists():
            created = time.monotonic()
        # A start-up kill lands ``delay`` s after the run folder appears, or at the first logged
        # step if that comes first: on a quiet machine the whole training can take under 0.5 s,
        # and a start-up kill must land before the first checkpoint (step 2), not after the end.
        early = (
            step == 0
            and created is not None
            and (time.monotonic() - created >= delay or _logged_step(metrics) >= 1)
        )
        if early or (step and _logged_step(metrics) >= step):
            child.send_signal(sig)
            break
        if time.monotonic() - started > TIMEOUT_S:
            child.kill()
            break
        time.sleep(0.01)
    else:
        return False
    try:
        child.wait(timeout=TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return True


def _logged_step(metrics: Path) -> int:
    """The last step in ``metrics`` (0 while there is none; a half-written line is skipped)."""
    try:
        lines = metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line).get("step", 0))
        except ValueError:
            continue
    return 0


def _same_weights(a: Path, b: Path) -> bool:
    try:
        sa, sb = (load_checkpoint(run / "checkpoints" / "last.pt")["model_state"] for run in (a, b))
    except Exception:  # noqa: BLE001 - any unreadable checkpoint is a failed trial, said as such
        return False
    return sa.keys() == sb.keys() and all(torch.equal(sa[key], sb[key]) for key in sa)


def _same_metrics(a: Path, b: Path) -> bool:
    return _learning_records(a) == _learning_records(b)


def _learning_records(run_dir: Path) -> list[dict[str, Any]]:
    try:
        lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = [json.loads(line) for line in lines if line.strip()]
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in records]


def _listed_names(runs_dir: Path) -> list[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "cnnlab", "runs", "list", "--runs-dir", str(runs_dir), "--json"],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    try:
        return [str(row.get("name")) for row in json.loads(listed.stdout)]
    except ValueError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"trials at a time (default {WORKERS})")
    args = parser.parse_args(argv)
    summary = run(args.trials, args.seed, args.runs_dir, args.workers)
    return 0 if summary["identical"] == args.trials and summary["index_lists_each_run_once"] else 1


if __name__ == "__main__":
    os.environ.setdefault("CNNLAB_OFFLINE", "1")
    sys.exit(main())
