"""``train`` and ``resume``: check everything, load the data, build the model, run the Trainer.

Nothing is written and no step is taken until every setting, the model name, the device and the
data have been checked: a typo costs a second, not a half-trained run.

A run folder is written by one process at a time: the one holding its lock (``RunDir.lock``), taken
when the folder is created or before a resume reads it, and released by the operating system when
the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from cnnlab.data import ImageDataset, to_model_input
from cnnlab.errors import CheckpointError, UsageError
from cnnlab.runs.checkpoint import load_checkpoint, model_from_payload
from cnnlab.runs.run import Run
from cnnlab.runs.rundir import RunDir, default_runs_dir
from cnnlab.training.config import TrainConfig
from cnnlab.training.distributed import Ranks, join_run, launched_rank
from cnnlab.training.environment import describe_environment
from cnnlab.training.float32_recipes import resolve_run_config
from cnnlab.training.hardware import choose_hardware, hardware_context
from cnnlab.training.mixup import check_mixup
from cnnlab.training.progress import Reporter, make_reporter
from cnnlab.training.run_data import RunData, prepare_data
from cnnlab.training.seeding import INIT, seed_global_rng
from cnnlab.training.tensorboard import require_tensorboard
from cnnlab.training.trainer import Trainer
from cnnlab.training.transfer import adopt_source_model, freeze, start_from
from cnnlab.training.tta import with_tta

# How many training images a model's data-dependent initialisation sees (airbench fits its whitening
# layer to the first 5,000).
DATA_INIT_IMAGES = 5000

ModelSpec = str | nn.Module | Callable[[], nn.Module] | None
DatasetSpec = str | os.PathLike[str] | ImageDataset | None


def train(
    model: ModelSpec = None,
    dataset: DatasetSpec = None,
    *,
    config: TrainConfig | None = None,
    recipe: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    test_data: ImageDataset | None = None,
    progress: bool | Reporter = True,
    **settings: Any,
) -> Run:
    """Train a model and return its :class:`~cnnlab.runs.run.Run` (history, model, directory, result).

    ``model``: a registry name (``"lenet5"``), your own ``nn.Module`` (trained as it is; its
    checkpoint stores no registry name, so reload it by building the module and loading
    ``load_checkpoint(path)["model_state"]``), or a function returning a fresh module (called with
    the run's seeded RNG, so seeds repeat). ``dataset``: a name, an image folder, or an
    :class:`~cnnlab.data.ImageDataset` (then ``test_data`` gives the test set, if any).
    ``settings``: any :class:`TrainConfig` field, e.g. ``epochs=3, lr=1e-3``; they override
    ``recipe`` and ``config_file``. ``progress``: a live bar and epoch lines on stderr (False: quiet).

    Raises ConfigError / UnknownNameError before any work for impossible settings, TrainingError
    when the loss diverges, TrainingInterrupted on Ctrl-C (after saving a checkpoint).
    """
    overrides = dict(settings)
    if isinstance(model, str):
        overrides["model"] = model
    if isinstance(dataset, str | os.PathLike):
        overrides["dataset"] = os.fspath(dataset)
    # The recipe's float32 settings where this run computes in float32 on a CPU (float32_recipes).
    resolved = resolve_run_config(recipe=recipe, config_file=config_file, base=config, overrides=overrides)
    user_model = model if model is not None and not isinstance(model, str) else None
    if user_model is not None:
        resolved = dataclasses.replace(resolved, model=_model_label(user_model))
    dataset_object = dataset if isinstance(dataset, ImageDataset) else None
    if dataset_object is not None:
        resolved = dataclasses.replace(resolved, dataset=dataset_object.name)
    return _start(resolved, user_model, dataset_object, test_data, progress)


def resume(
    run: str | os.PathLike[str],
    *,
    model: nn.Module | Callable[[], nn.Module] | None = None,
    dataset: ImageDataset | None = None,
    test_data: ImageDataset | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    progress: bool | Reporter = True,
) -> Run:
    """Continue an interrupted or killed run from ``checkpoints/last.pt``, with its own settings.

    The resumed run ends with the same weights and metrics, to the bit on the same machine, as an
    uninterrupted one. A run of your own ``nn.Module`` or ``ImageDataset`` needs them passed again.
    A run stopped before its first checkpoint starts again from the beginning, with its settings.
    Raises RunIsRunning while another process trains the run.
    """
    run_dir = RunDir.find(run, runs_dir)
    main = launched_rank() == 0  # a data-parallel run's rank 0 holds the lock and shows progress
    progress = progress if main else False
    with run_dir.lock() if main else contextlib.nullcontext():
        status = run_dir.read_result().get("status")
        if status == "finished":
            raise UsageError(f"Run {run_dir.root} has already finished; there is nothing to resume.")
        config = TrainConfig.from_dict(run_dir.read_config(), source=str(run_dir.config_path))
        given = _Given(model, dataset, test_data, progress)
        if not run_dir.last_checkpoint.is_file():
            return _restart(run_dir, config, given)
        return _resume(run_dir, config, given)


def reopen(run: str | os.PathLike[str], *, model: nn.Module | Callable[[], nn.Module] | None = None) -> Run:
    """A finished run read back as :func:`train` returned it: history, result and the trained model
    (its final weights, frozen layers frozen again). A run of your own module needs it passed again."""
    run_dir = RunDir.find(run)
    config = TrainConfig.from_dict(run_dir.read_config(), source=str(run_dir.config_path))
    payload = load_checkpoint(run_dir.last_checkpoint)
    if model is None:
        module = model_from_payload(payload, run_dir.last_checkpoint)
        if module is None:
            raise UsageError(f"Run {run_dir.name} trained your nn.Module ({config.model}): pass it again.")
    else:
        module = _user_module(model, config)
        module.load_state_dict(payload["model_state"])
    freeze(module, config)  # requires_grad is not in the checkpoint
    return Run(run_dir.root, config.to_dict(), run_dir.history(), run_dir.read_result(), module)


@dataclasses.dataclass
class _Given:
    """What ``resume`` was given besides the run (a user's module and data objects, the progress)."""

    model: nn.Module | Callable[[], nn.Module] | None
    dataset: ImageDataset | None
    test_data: ImageDataset | None
    progress: bool | Reporter


def _resume(run_dir: RunDir, config: TrainConfig, given: _Given) -> Run:
    model, dataset = given.model, given.dataset
    payload = _resume_checkpoint(run_dir)
    sources = payload["training"]["sources"]
    if sources["model"] == "module" and model is None:
        raise UsageError(
            f"Run {run_dir.name} trained your own nn.Module ({config.model}); pass it again: "
            "cnnlab.training.resume(run, model=MyNet())."
        )
    if sources["dataset"] == "object" and dataset is None:
        raise UsageError(
            f"Run {run_dir.name} trained on an ImageDataset object; pass it again: "
            "cnnlab.training.resume(run, dataset=..., test_data=...)."
        )
    reporter = make_reporter(given.progress)
    ranks, hardware = join_run(config, choose_hardware(config))
    source = dataset if dataset is not None else config.dataset
    data = prepare_data(config, source, given.test_data, progress=bool(given.progress))
    with hardware_context(hardware):
        if model is None:
            module = model_from_payload(payload, run_dir.root)
        else:
            module = _user_module(model, config)
            module.load_state_dict(payload["model_state"])
        freeze(module, config)  # requires_grad is not in the checkpoint
        trainer = Trainer(config, hardware, module, payload["model"], data, run_dir, reporter, ranks)
        trainer.restore(payload)
        result = trainer.fit(resumed=True)
    return Run(run_dir.root, config.to_dict(), _history(trainer), result, trainer.model)


def _restart(run_dir: RunDir, config: TrainConfig, given: _Given) -> Run:
    """A run killed before its first checkpoint: train it again from step 0, in its own folder."""
    if given.model is None and not _is_registry_model(config.model):
        raise UsageError(
            f"Run {run_dir.name} trained your own nn.Module ({config.model}) and stopped before its "
            "first checkpoint; pass it again to start it over: cnnlab.training.resume(run, model=MyNet())."
        )
    reporter = make_reporter(given.progress)
    reporter.note(
        f"run {run_dir.name} stopped before its first checkpoint: starting it again from the "
        "beginning, with its own settings."
    )
    if launched_rank() == 0:
        for leftover in (run_dir.metrics_path, run_dir.result_path, run_dir.curves_path):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(run_dir.tensorboard_dir, ignore_errors=True)
        shutil.rmtree(run_dir.checkpoints, ignore_errors=True)
    return _start(config, given.model, given.dataset, given.test_data, reporter, run_dir=run_dir)


def _is_registry_model(name: str) -> bool:
    from cnnlab.models import get_info

    try:
        get_info(name)
    except UsageError:
        return False
    return True


def _start(
    config: TrainConfig,
    user_model: nn.Module | Callable[[], nn.Module] | None,
    dataset: ImageDataset | None,
    test_data: ImageDataset | None,
    progress: bool | Reporter,
    run_dir: RunDir | None = None,
) -> Run:
    """Check everything, then train a new run (in ``run_dir``, already locked, when given)."""
    progress = progress if launched_rank() == 0 else False  # a data-parallel run: rank 0 shows it
    reporter = make_reporter(progress)
    config = adopt_source_model(config)  # --init-from a run: its network, unless --model names it
    if user_model is None:
        from cnnlab.models import get_info

        get_info(config.model)  # an unknown name fails here, listing the known ones
    ranks, hardware = join_run(config, choose_hardware(config))
    if config.tensorboard:
        require_tensorboard()
    data = prepare_data(
        config, dataset if dataset is not None else config.dataset, test_data, progress=bool(progress)
    )
    with hardware_context(hardware):
        if user_model is None:
            model, entry = _registry_model(config, data)
        else:
            model, entry = _user_module(user_model, config), _user_entry(user_model)
        init_from_data(model, data.train)
        start_from(model, config, data.train.image_size, data.train.num_classes)  # --init-from, --freeze
        with_tta(model, config.tta)  # test-time augmentation needs a classifier: refuse before writing
        check_mixup(model, config)  # and so does MixUp
        locked = run_dir is not None or not ranks.is_main  # resume() locked a restarted run's folder
        run_dir = run_dir or _shared_run_dir(config, ranks)
        with contextlib.nullcontext() if locked else run_dir.lock():
            trainer = Trainer(config, hardware, model, entry, data, run_dir, reporter, ranks)
            environment = describe_environment(config, trainer.hardware, data)
            trainer.write_start_files({**environment, "distributed": ranks.describe()})
            result = trainer.fit()
    return Run(run_dir.root, config.to_dict(), _history(trainer), result, trainer.model)


def init_from_data(model: nn.Module, train: ImageDataset) -> None:
    """Data-dependent initialisation, for models that have an ``init_from_data(images)`` method
    (airbench's whitening layer): it gets the first training images, scaled as the model sees
    them. Only new runs do this; a resumed run loads those weights from its checkpoint."""
    init = getattr(model, "init_from_data", None)
    if callable(init):
        scale = getattr(model, "input_scale", "standardized")
        init(to_model_input(train.images[:DATA_INIT_IMAGES], train.mean, train.std, scale))


def _registry_model(config: TrainConfig, data: RunData) -> tuple[nn.Module, dict[str, Any]]:
    """The registry model for the data's shape and classes, initialised from the run's seed."""
    from cnnlab.models import create

    kwargs = {
        "num_classes": data.train.num_classes,
        "in_channels": data.train.in_channels,
        "input_size": list(data.train.image_size),
        **config.model_args,
    }
    seed_global_rng(config.seed, INIT)
    model = create(config.model, **kwargs)
    return model, {"name": config.model, "kwargs": kwargs, "class": _model_label(model)}


def _user_module(model: nn.Module | Callable[[], nn.Module], config: TrainConfig) -> nn.Module:
    """The user's module as given, or a fresh one from their factory under the seeded RNG."""
    if isinstance(model, nn.Module):
        return model
    seed_global_rng(config.seed, INIT)
    built = model()
    if not isinstance(built, nn.Module):
        raise UsageError(f"The model factory returned {type(built).__name__}, not an nn.Module.")
    return built


def _user_entry(model: nn.Module | Callable[[], nn.Module]) -> dict[str, Any]:
    return {"name": None, "kwargs": {}, "class": _model_label(model)}


def _model_label(model: nn.Module | Callable[[], nn.Module]) -> str:
    from cnnlab.models.registry import factory_label

    return factory_label(type(model) if isinstance(model, nn.Module) else model, qualified=True)


def _new_run_dir(config: TrainConfig) -> RunDir:
    runs_dir = default_runs_dir(config.runs_dir)
    if config.name:
        return RunDir.create(runs_dir, config.name, exist_ok_suffix=False)
    dataset = Path(config.dataset).name or config.dataset
    # "package.module.small_alexnet(0.25)" -> "small_alexnet": the name, without module or arguments.
    model = config.model.split("(", 1)[0].rsplit(".", 1)[-1]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return RunDir.create(runs_dir, f"{model}-{dataset}-{stamp}", exist_ok_suffix=True)


def _shared_run_dir(config: TrainConfig, ranks: Ranks) -> RunDir:
    """A new run's folder: made by rank 0, whose path every rank of a data-parallel run gets."""
    created = _new_run_dir(config) if ranks.is_main else None
    return RunDir(ranks.broadcast(str(created.root) if created else None))


def _resume_checkpoint(run_dir: RunDir) -> dict[str, Any]:
    payload = load_checkpoint(run_dir.last_checkpoint)
    if "training" not in payload:
        raise CheckpointError(f"{run_dir.last_checkpoint} holds no training state to resume from.")
    return payload


def _history(trainer: Trainer) -> list[dict[str, Any]]:
    return [dict(record) for record in trainer.history]


__all__ = ["reopen", "resume", "train"]
