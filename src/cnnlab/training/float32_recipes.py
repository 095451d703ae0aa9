"""When a recipe takes its float32 settings: a run that will compute in float32 on a CPU.

The fast recipes were tuned in bfloat16 on a CPU with AVX512-BF16. On a CPU without bfloat16
kernels (most laptops; AVX2-only ones such as the AMD EPYC of benchmarks/README.md, "float32 on an
AVX2 CPU") the trainer falls back to float32, where every convolution costs about twice as much,
and what is fastest to an accuracy there is a different network or batch. Such a recipe carries
``float32_settings`` (:class:`~cnnlab.training.recipes.Recipe`), which ``train`` lays over its
settings exactly when this says so (also for ``--no-amp`` on any CPU, so that the float32 column
of the benchmarks is the same run on every machine); the run's ``config.json`` then says
``"recipe_variant": "float32"``. A GPU run in float32 keeps the recipe as it is.
"""

from __future__ import annotations

from typing import Any

from cnnlab.training.config import TrainConfig, resolve_config
from cnnlab.training.hardware import choose_hardware, precision


def resolve_run_config(**sources: Any) -> TrainConfig:
    """:func:`~cnnlab.training.config.resolve_config` of ``sources`` (recipe, config_file, base,
    overrides), with the recipe's float32 settings where the run will train in float32 on a CPU."""
    config = resolve_config(**sources)
    if sources.get("recipe") is None and sources.get("config_file") is None:
        return config  # no recipe to take a variant of
    return resolve_config(**sources, variant="float32") if trains_in_float32_on_cpu(config) else config


def trains_in_float32_on_cpu(config: TrainConfig) -> bool:
    """True when ``config`` will train on a CPU in float32: ``amp`` off, or a CPU without
    bfloat16 kernels (the trainer's own choice, :func:`~cnnlab.training.hardware.choose_hardware`)."""
    if config.device not in ("auto", "cpu"):
        return False  # a GPU asked for by name: no need to probe the CPU
    hardware = choose_hardware(config)
    return hardware.device.type == "cpu" and precision(hardware) == "float32"
