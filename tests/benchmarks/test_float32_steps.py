"""The float32 step comparison: every variant of each fast recipe's network trains and is timed."""

from __future__ import annotations

import torch

from benchmarks import float32_steps


def test_the_float32_variant_is_the_recipes_float32_net_and_a_step_trains_it():
    step, batch, model = float32_steps.training_step("mnist-fast", float32=True, batch_size=4)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert batch == 4 and first_conv.kernel_size == (4, 4)  # the patch stem of mnist-fast's float32 settings
    before = first_conv.weight.detach().clone()
    step()
    assert not torch.equal(before, first_conv.weight)
    _, _, tuned = float32_steps.training_step("mnist-fast", activation=torch.nn.ReLU, batch_size=4)
    assert next(m for m in tuned.modules() if isinstance(m, torch.nn.Conv2d)).kernel_size == (3, 3)
    assert not any(isinstance(m, torch.nn.GELU) for m in tuned.modules())


def test_compare_keeps_each_variants_fastest_in_the_given_order():
    variants = {"as tuned": {"batch_size": 8}, "float32": {"float32": True, "batch_size": 8}}
    rows = float32_steps.compare("cifar10-quick", variants, steps=1, repeats=1)
    assert [row.label for row in rows] == ["as tuned", "float32"]
    assert all(row.ms_per_128_images > 0 for row in rows)
