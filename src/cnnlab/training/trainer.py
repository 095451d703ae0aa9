"""The training loop: steps, step and epoch records, evaluation, checkpoints, the run's status.

A run's state at a step boundary is its :class:`Position` (epoch, batch, step), the model, the
optimizer, the partial sums of the epoch's metrics, the step window, the history and the best value
so far. ``checkpoints/last.pt`` holds all of it plus the length of ``metrics.jsonl`` at that moment,
so a resumed run continues with exactly the numbers an uninterrupted run has: the learning rate is
a pure function of the step, the batches a pure function of (seed, epoch, batch), and the model's
own randomness is re-seeded from (seed, epoch, batch) before each step.

Everything else that takes part in a run (weight average, lookahead, divergence guard, metrics log,
TensorBoard, checkpoints, curves, progress) is a :class:`~cnnlab.training.parts.Part`, built by
the factories in ``PARTS`` and called at the hooks the protocol names. A new training option is
one new part and one line in ``PARTS`` (docs/ARCHITECTURE.md, "how to add a training option").
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.data import Augment, BatchLoader
from cnnlab.errors import TrainingError
from cnnlab.runs.checkpoint import save_checkpoint
from cnnlab.runs.index import RunIndex
from cnnlab.runs.rundir import RunDir
from cnnlab.training.checkpointing import CheckpointPart
from cnnlab.training.config import TrainConfig
from cnnlab.training.distributed import ONE_PROCESS, Ranks
from cnnlab.training.divergence import DivergenceGuard, LossDiverged
from cnnlab.training.ema import Lookahead, WeightAverage
from cnnlab.training.evaluation import eval_batch_size, eval_loader, evaluation_sums
from cnnlab.training.hardware import Hardware, autocast, fit_to_model
from cnnlab.training.interrupts import StopSignal, TrainingInterrupted, WriteFailed, writing
from cnnlab.training.losses import build_loss
from cnnlab.training.metrics import BatchOutput, MetricSums, StepWindow, batch_output, uses_objective
from cnnlab.training.metrics_log import CurvesPart, MetricsPart
from cnnlab.training.mixup import MixUp
from cnnlab.training.optimizers import build_optimizer
from cnnlab.training.parts import Part, StepInput
from cnnlab.training.progress import TIMING_KEYS, Reporter, ReporterPart, RunStart
from cnnlab.training.run_data import RunData
from cnnlab.training.schedules import build_schedule
from cnnlab.training.seeding import EVAL, STEP, derived_seed, restore_rng_state, rng_state, seed_global_rng
from cnnlab.training.tensorboard import TensorBoardPart
from cnnlab.training.tta import with_tta

# Evaluation needs no gradients, so it can afford larger batches (fewer, faster kernel calls).
EVAL_BATCH_FACTOR = 2

# The parts of a run, in the order their hooks are called; each one's ``for_run`` builds it for the
# trainer's run, or returns None when the run does without it. Register a new part with one line.
# The order matters where parts depend on each other: the lookahead changes the weights before the
# EMA averages them, and the EMA (the last part that averages weights) is what evaluations report;
# the divergence guard sees a record before it is written; metrics.jsonl has a record before a
# checkpoint records the file's length; curves.png is drawn before the reporter says where it is.
PARTS: list[type[Part]] = [
    MixUp,
    Lookahead,
    WeightAverage,
    DivergenceGuard,
    MetricsPart,
    TensorBoardPart,
    CheckpointPart,
    CurvesPart,
    ReporterPart,
]


@dataclass
class Position:
    epoch: int = 0  # the epoch in progress, 0-based
    batch: int = 0  # batches of that epoch already done
    step: int = 0  # optimizer steps done in all


@dataclass
class Best:
    """The best value of the monitored metric (lower is better), for best.pt and early stopping."""

    monitor: str
    value: float | None = None
    epoch: int | None = None
    stale_epochs: int = 0


class _StopRequested(Exception):
    """Ctrl-C or SIGTERM asked the loop to stop at this step boundary."""


class Trainer:
    """Trains ``model`` on ``data`` as ``config`` says, recording into ``run_dir``."""

    def __init__(
        self,
        config: TrainConfig,
        hardware: Hardware,
        model: nn.Module,
        model_entry: dict[str, Any],
        data: RunData,
        run_dir: RunDir,
        reporter: Reporter,
        ranks: Ranks = ONE_PROCESS,
    ):
        hardware = fit_to_model(hardware, config, model)
        self.config, self.hardware, self.data = config, hardware, data
        self.run_dir, self.reporter = run_dir, reporter
        # A data-parallel run's place (training/distributed.py): rank 0 alone writes files.
        self.ranks = ranks
        self.device = hardware.device
        self.model = model.to(self.device)
        if hardware.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # The model as evaluated: test-time augmentation around it, the weight average inside it.
        self.eval_model = with_tta(self.model, config.tta)
        self.model_entry = model_entry
        self.objective = uses_objective(model)
        self.scale = getattr(model, "input_scale", "standardized")
        self.loss_fn = build_loss(config)
        self.optimizer = build_optimizer(self.model.parameters(), config, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type) if hardware.needs_grad_scaler else None
        # What a step calls in a data-parallel run (DDP around the model); None: the model.
        self.forward = ranks.training_forward(self.model, self.device)
        self.train_loader = ranks.shard(self._train_loader(data.train))
        self.val_loader = self._eval_loader(data.val) if data.val is not None else None
        self.test_loader = self._eval_loader(data.test) if data.test is not None else None
        self.steps_per_epoch = len(self.train_loader)
        self.schedule = build_schedule(config, self.steps_per_epoch)
        self.position = Position()
        self.sums = MetricSums(self.device)
        self.window = StepWindow(config.log_every, self.device)
        self.history: list[dict[str, Any]] = []
        self.best = Best(monitor="val_loss" if self.val_loader else "train_loss")
        self.index = RunIndex(run_dir.root.parent)
        self.started = time.time()
        self.elapsed_before = 0.0  # training seconds spent before this process (resumed runs)
        self.last_checkpoint_step: int | None = None
        self.stop = StopSignal()
        self.parts: list[Part] = [
            part
            for kind in PARTS
            if (ranks.is_main or not kind.writes_files) and (part := kind.for_run(self)) is not None
        ]
        # The part whose weights evaluations and checkpoints report (an average), if any.
        self.weight_source: Part | None = next(
            (part for part in reversed(self.parts) if part.averages_weights), None
        )

    # -- set-up --------------------------------------------------------------------------------
    def _train_loader(self, dataset) -> BatchLoader:
        config = self.config
        return BatchLoader(
            dataset,
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            augment=Augment(config.crop_padding, config.flip, config.alternate_flips, config.crop_pad_mode),
            scale=self.scale,
            device=self.device,
        )

    def _eval_loader(self, dataset) -> BatchLoader:
        size = eval_batch_size(dataset.input_shape, self.config.batch_size * EVAL_BATCH_FACTOR)
        return eval_loader(dataset, scale=self.scale, device=self.device, batch_size=size)

    def write_start_files(self, environment: dict[str, Any]) -> None:
        """config.json and environment.json of a new run."""
        if not self.ranks.is_main:
            return
        for path, content in (
            (self.run_dir.config_path, self.config.to_dict()),
            (self.run_dir.environment_path, environment),
        ):
            with writing(path):
                self.run_dir.write_json(path, content)

    def restore(self, payload: dict[str, Any]) -> None:
        """Continue from a checkpoint's training state (see the module docstring)."""
        state = payload["training"]
        self.position = Position(**state["position"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"])
        if self.weight_source is not None:
            self.model.load_state_dict(state["live_model_state"])
        for part in self.parts:
            if part.key is not None and part.key in state:  # an older checkpoint may lack a newer part
                part.load_state_dict(state[part.key])
        self.sums.load_state_dict(state["sums"])
        self.window.load_state_dict(state["window"])
        self.ranks.restored(self.sums, self.window)  # the checkpoint's sums are all ranks' sums
        self.history = [dict(record) for record in state["history"]]
        self.best = Best(**state["best"])
        self.elapsed_before = state["elapsed_s"]
        self.started = state.get("started", self.started)
        self.last_checkpoint_step = self.position.step
        if not self.ranks.is_main:
            return
        for partial in self.run_dir.checkpoints.glob(".*.partial"):  # left by a kill mid-save
            partial.unlink(missing_ok=True)

    # -- the run -------------------------------------------------------------------------------
    def fit(self, resumed: bool = False) -> dict[str, Any]:
        """Train to the end (or early stop); return result.json. Raises TrainingError on a fault."""
        self._clock = time.perf_counter()
        try:
            self.write_result("running")
            self._call("on_run_start", resumed)
            with self.stop:
                self._run_epochs()
            self._call("on_train_end")
        except LossDiverged as fault:
            message = self._divergence_message(fault)
            self._close("failed", message)
            raise TrainingError(message) from None
        except WriteFailed as fault:
            message = self._write_failed_message(fault)
            self._close("interrupted", message)
            raise TrainingError(message) from None
        except (_StopRequested, KeyboardInterrupt):
            # A first Ctrl-C saved a checkpoint at a step boundary; a second one stops at once.
            message = self._interrupted_message()
            self._close("interrupted", message)
            raise TrainingInterrupted(message) from None
        except BaseException as exc:
            self._close("failed", f"{type(exc).__name__}: {exc}")
            raise
        return self._close("finished")

    def _run_epochs(self) -> None:
        for epoch in range(self.position.epoch, self.config.epochs):
            self._train_epoch(epoch)
            stop_early = self._end_epoch(epoch)
            if self.stop.requested:
                raise _StopRequested
            if stop_early:
                return

    def _call(self, hook: str, *args: Any) -> None:
        """Call ``hook`` of every part, in the order of PARTS."""
        for part in self.parts:
            getattr(part, hook)(self, *args)

    def _train_epoch(self, epoch: int) -> None:
        self.model.train()
        start = self.position.batch
        self._call("on_epoch_start", epoch, self.steps_per_epoch, start)
        self._epoch_clock, self._epoch_images = time.perf_counter(), 0
        for batch, (inputs, labels) in enumerate(self.train_loader.epoch(epoch, start), start):
            images = self.train_loader.batch_images(batch)  # all ranks' shares together
            self._step(epoch, batch, inputs, labels, images)
            self.position = Position(epoch, batch + 1, self.position.step + 1)
            self._epoch_images += images
            self._call("on_step_end", images, self._step_record() if self.window.full else None)
            self.ranks.test_hook(self.position.step)
            if self.ranks.any(self.stop.requested, self.device):  # every rank stops at this step
                self.save_last()
                raise _StopRequested

    def _step(
        self, epoch: int, batch: int, inputs: torch.Tensor, labels: torch.Tensor, images: int
    ) -> BatchOutput:
        step = self.position.step
        for group in self.optimizer.param_groups:  # lr_scale: Muon's filters have their own lr
            group["lr"] = self.schedule.lr(step) * group.get("lr_scale", 1.0)
        # dropout, sampling (a data-parallel rank > 0 draws its own stream)
        seed_global_rng(self.config.seed, STEP, epoch, batch, *self.ranks.step_seed_key(), device=self.device)
        if self.hardware.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        given = StepInput(inputs, self.loss_fn)
        self._call("before_forward", given)  # MixUp blends the images and the loss here
        with autocast(self.hardware):
            output = batch_output(self.model, given.inputs, labels, given.loss_fn, self.forward)
        # A rank's share of the batch's mean loss (1.0 in one process: the loss unchanged).
        weight = self.ranks.share_weight(labels.shape[0], images)
        loss = output.loss if weight == 1.0 else output.loss * weight
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        if self.config.clip_grad_norm:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm, foreach=True)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ranks.sync_buffers(self.model)
        self._call("after_optimizer_step", step)
        correct = self.sums.add(output, labels)
        self.window.add(loss, step, labels.shape[0], correct)
        return output

    def _step_record(self) -> dict[str, Any]:
        """The step record of the full window (the parts write and show it); empties the window."""
        self.ranks.reduce_window(self.window)
        self._check_finite()
        position = self.position
        return {
            "kind": "step",
            "epoch": position.epoch + 1,
            "batch": position.batch,
            "step": position.step,
            "lr": self.schedule.lr(position.step - 1),
            **self.window.take(classify=not self.objective),
        }

    def _end_epoch(self, epoch: int) -> bool:
        """Evaluate, record, checkpoint; return True when early stopping ends the run here."""
        self._check_finite()
        train_seconds = time.perf_counter() - self._epoch_clock
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": self.position.step,
            "lr": self.schedule.lr(self.position.step - 1),
        }
        record.update(_prefixed("train", self.ranks.reduced(self.sums).results()))
        if self.val_loader is not None:
            record.update(_prefixed("val", self._evaluate(self.val_loader, epoch, "val")))
        improved, stop_early = self._update_best(record)
        last = stop_early or epoch + 1 == self.config.epochs
        every = self.config.test_every
        if self.test_loader is not None and (last or (every and (epoch + 1) % every == 0)):
            record.update(_prefixed("test", self._evaluate(self.test_loader, epoch, "test")))
        record["time_s"] = round(train_seconds, 3)
        record["images_per_s"] = round(self._epoch_images / max(train_seconds, 1e-9), 1)
        self.history.append(record)
        self.sums = MetricSums(self.device)
        self.position = Position(epoch + 1, 0, self.position.step)
        self._call("on_epoch_end", record)  # metrics.jsonl, checkpoints (best.pt if improved), result
        return stop_early

    def _evaluate(self, loader: BatchLoader, epoch: int, split: str) -> dict[str, float]:
        self._call("on_evaluation_start", split, len(loader.dataset))
        with self._evaluated_weights():
            sums = evaluation_sums(
                self.eval_model,
                loader,
                loss=self.loss_fn,
                hardware=self.hardware,
                seed=derived_seed(self.config.seed, EVAL, epoch),
                share=self.ranks.eval_share(),  # each rank some batches, then the sums all-reduced
            )
        return self.ranks.reduced(sums).results()

    def _evaluated_weights(self) -> contextlib.AbstractContextManager:
        """The weights evaluations and checkpoints report: the average when there is one."""
        source = self.weight_source
        return source.evaluated_weights() if source is not None else contextlib.nullcontext()

    def _update_best(self, record: dict[str, Any]) -> tuple[bool, bool]:
        best, value = self.best, record[self.best.monitor]
        improved = best.value is None or value < best.value
        if improved:
            best.value, best.epoch, best.stale_epochs = value, record["epoch"], 0
        else:
            best.stale_epochs += 1
        patience = self.config.early_stop
        return improved, bool(patience) and best.stale_epochs >= patience

    # -- faults ----------------------------------------------------------------------------------
    def _check_finite(self) -> None:
        # the earliest of all ranks' (every rank calls this at the same steps, so all stop alike)
        bad_step = self.ranks.earliest(self.window.first_non_finite(), self.device)
        if bad_step is not None:
            value = self.window.loss_of(bad_step)  # finite here when another rank's share diverged
            value = value if not math.isfinite(value) else float("nan")
            raise LossDiverged(bad_step, value, self.schedule.lr(bad_step))

    def _divergence_message(self, fault: LossDiverged) -> str:
        epoch, batch = divmod(fault.step, self.steps_per_epoch)
        where = f"step {fault.step + 1} (epoch {epoch + 1}, batch {batch + 1})"
        if self.last_checkpoint_step is None:
            kept = "No checkpoint had been saved yet."
        else:
            kept = f"checkpoints/last.pt keeps the last good state (step {self.last_checkpoint_step})."
        suggestion = f"--lr {_round_down(fault.lr / 10)}"
        clip = "" if self.config.clip_grad_norm else " or clip the gradients (--clip-grad-norm 1.0)"
        value = f"{fault.value:.4g}" if fault.reason else f"{fault.value}"
        return (
            f"Training diverged: the loss became {value}{fault.reason} at {where} with learning rate "
            f"{fault.lr:.4g}. {kept} Try a lower learning rate (e.g. {suggestion}){clip}."
        )

    def _interrupted_message(self) -> str:
        return f"Interrupted: {self._where_to_continue()}"

    def _write_failed_message(self, fault: WriteFailed) -> str:
        return f"Could not write {fault.path} ({fault.reason}): {self._where_to_continue()}"

    def _where_to_continue(self) -> str:
        if self.last_checkpoint_step is None:
            return (
                "no checkpoint was saved yet. Start it again from the beginning with: "
                f"cnnlab train --resume {self.run_dir.root}"
            )
        return (
            f"checkpoint at step {self.last_checkpoint_step}. Resume with: "
            f"cnnlab train --resume {self.run_dir.root}"
        )

    # -- checkpoints and status ------------------------------------------------------------------
    def save_last(self) -> None:
        """checkpoints/last.pt with the whole training state, after checking the weights are finite."""
        self._check_finite()
        if not bool(torch.stack([p.isfinite().all() for p in self.model.parameters()]).all()):
            raise LossDiverged(self.position.step - 1, float("nan"), self.schedule.lr(self.position.step - 1))
        self.save_checkpoint(self.run_dir.last_checkpoint, training=True)
        self.last_checkpoint_step = self.position.step

    def save_checkpoint(self, path: Path, training: bool) -> None:
        """Write a checkpoint (atomically); ``training``: with the state a resume needs."""
        payload = self.payload(training)  # on every rank: it gathers their partial sums
        if not self.ranks.is_main:
            return
        with writing(path):
            save_checkpoint(path, payload)

    def payload(self, training: bool) -> dict[str, Any]:
        """A checkpoint's content; ``training`` adds the training state (and every part's state)."""
        # model_state holds the weights the metrics were measured with (the average, if any), so a
        # reader of any checkpoint gets the model its numbers describe; a resume also needs the
        # live weights and the average's state.
        source = self.weight_source
        payload = {
            "model": self.model_entry,
            "model_state": self.model.state_dict() if source is None else source.evaluated_state_dict(),
            "data": self._data_entry(),
            "task": "objective" if self.objective else "classify",
            "config": self.config.to_dict(),
            "epoch": self.position.epoch,
            "metrics": _without_timing(self.history[-1]) if self.history else {},
        }
        if training:
            payload["training"] = {
                "position": dataclasses.asdict(self.position),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": rng_state(self.device),
                # all ranks' sums, so that a resume with any number of processes continues them
                "sums": self.ranks.reduced(self.sums).state_dict(),
                "window": self.ranks.reduced_window(self.window).state_dict(),
                "history": self.history,
                "best": dataclasses.asdict(self.best),
                "elapsed_s": self._elapsed(),
                "started": self.started,
                "sources": {
                    "model": "registry" if self.model_entry["name"] else "module",
                    "dataset": "object" if self.data.from_object else "name",
                },
            }
            if source is not None:
                payload["training"]["live_model_state"] = self.model.state_dict()
            for part in self.parts:
                if part.key is not None:
                    payload["training"][part.key] = part.state_dict()
        return payload

    def _data_entry(self) -> dict[str, Any]:
        train = self.data.train
        return {
            "dataset": self.config.dataset,
            "classes": list(train.classes),
            "mean": list(train.mean),
            "std": list(train.std),
            "input_shape": list(train.input_shape),
            "scale": self.scale,
        }

    def _elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._clock

    def _result(self, status: str, error: str | None) -> dict[str, Any]:
        config = self.config
        checkpoints = self.run_dir.checkpoints
        return {
            "status": status,
            "run": self.run_dir.name,
            "model": config.model,
            "dataset": config.dataset,
            "seed": config.seed,
            "group": config.group,
            "epochs": config.epochs,
            "epochs_done": len(self.history),
            "step": self.position.step,
            "final": _without_timing(self.history[-1]) if self.history else {},
            "best": dataclasses.asdict(self.best),
            "started": self.started,
            "updated": time.time(),
            "duration_s": round(self._elapsed(), 3),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "error": error,
            "checkpoints": sorted(p.name for p in checkpoints.glob("*.pt")) if checkpoints.is_dir() else [],
        }

    def write_result(self, status: str, error: str | None = None) -> dict[str, Any]:
        """Write result.json with ``status`` and update the run's index row; return the result."""
        result = self._result(status, error)
        if not self.ranks.is_main:
            return result
        with writing(self.run_dir.result_path):
            self.run_dir.write_json(self.run_dir.result_path, result)
        try:
            self.index.update(self.run_dir)
        except Exception as exc:  # the index is rebuildable; a locked or broken one must not stop training
            self.reporter.note(
                f"could not update the run index ({exc}); `cnnlab runs list --rebuild` fixes it."
            )
        return result

    def _close(self, status: str, error: str | None = None) -> dict[str, Any]:
        try:
            result = self.write_result(status, error)
        except WriteFailed as fault:  # the disk is full: the run ends anyway, with its message
            self.reporter.note(f"could not write {fault.path} ({fault.reason}).")
            result = self._result(status, error)
        self._call("on_run_end", result)
        return result

    def title(self) -> str:
        """curves.png's title."""
        return f"{self.config.model} on {self.config.dataset} (seed {self.config.seed}): {self.run_dir.name}"

    def start_info(self, resumed: bool) -> RunStart:
        """What the reporter shows when the run starts."""
        return RunStart(
            run_dir=str(self.run_dir.root),
            model=self.config.model,
            dataset=self.config.dataset,
            train_images=len(self.data.train),
            val_images=len(self.data.val) if self.data.val is not None else 0,
            test_images=len(self.data.test) if self.data.test is not None else 0,
            epochs=self.config.epochs,
            hardware=self.hardware.describe(),
            resumed_at=f"epoch {self.position.epoch + 1}, batch {self.position.batch}" if resumed else None,
            classes=0 if self.objective else self.data.train.num_classes,
        )


def _prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{key}": value for key, value in values.items()}


def _without_timing(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in TIMING_KEYS}


def _round_down(value: float) -> str:
    """A learning rate a person would type: 0.0347 -> 0.03."""
    if value <= 0:
        return f"{value:g}"
    exponent = 10 ** int(f"{value:e}".split("e")[1])
    return f"{int(value / exponent) * exponent:g}"
