"""``cnnlab recipes``: the presets of ``cnnlab train --recipe``, with what each measured."""

from __future__ import annotations

import json

from cnnlab.cli import main
from cnnlab.training.recipes import list_recipes


def test_recipes_json_lists_every_recipe_with_its_settings_and_measurement(capsys):
    assert main(["recipes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == [recipe.name for recipe in list_recipes()]
    fast = next(row for row in rows if row["name"] == "cifar10-fast")
    assert "model=airbench" in fast["settings"] and "optimizer=muon" in fast["settings"]
    assert "cnnlab train --recipe cifar10-fast" in fast["measured"]
    speedrun = next(row for row in rows if row["name"] == "cifar10-speedrun")
    assert "model=speedrun" in speedrun["settings"] and "epochs=12" in speedrun["settings"]
    main_job = next(row for row in rows if row["name"] == "default")["settings"]
    assert "model=lenet5" in main_job and "epochs=4" in main_job and "crop_padding=1" in main_job


def test_recipes_table_names_them(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "mnist-fast" in out and "cifar10-quick" in out


def test_a_recipes_float32_settings_are_listed_after_its_own(capsys):
    assert main(["recipes", "--json"]) == 0
    quick = next(row for row in json.loads(capsys.readouterr().out) if row["name"] == "cifar10-quick")
    tuned, _, float32 = quick["settings"].partition("; in float32 on a CPU: ")
    assert "'widths': [16, 64, 64]" in tuned and "'widths': [16, 48, 48]" in float32
    assert "; float32: float32 on an AVX2-only AMD EPYC" in quick["measured"]
