"""Slow where it should be instant (issue 21): listings build, train and probe nothing, and the
model table is readable at 80 columns. Assertions are on what is called, never on wall-clock time."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from rich.console import Console
from torch import nn

from cnnlab.analysis import model_table
from cnnlab.cli import main
from cnnlab.commands import models as models_command


@pytest.fixture
def nothing_is_built(monkeypatch):
    """Building any module, or counting a model's costs, fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a listing built a model")

    monkeypatch.setattr(nn.Module, "__init__", refuse)
    monkeypatch.setattr(model_table, "model_costs", refuse)


def test_experiment_list_builds_and_probes_nothing(nothing_is_built, capsys):
    assert main(["experiment", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(
        row["full_s"] > 0 and row["full_low_s"] <= row["full_s"] <= row["full_high_s"] for row in rows
    )


def test_models_reads_the_shipped_table(nothing_is_built, capsys):
    assert model_table.shipped_rows() is not None, (
        "src/cnnlab/analysis/zoo_costs.json is not from the current model sources: rewrite it with "
        "`python -m cnnlab.analysis.model_table` (else `cnnlab models` counts every model, 20-30 s)"
    )
    assert main(["models", "--format", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["lenet5"]["params_1x28x28"] == 60_850 and rows["resnet152"]["macs_paper"] > 10**10


def test_models_imports_no_torch():
    code = "import sys; from cnnlab.cli import main; main(['models']); sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def imports_torch(*args: str, prelude: str = "") -> tuple[bool, str]:
    """Run ``python -m cnnlab ARGS`` in a fresh interpreter: whether torch was imported, and its output."""
    code = (
        f"import runpy, sys\n{prelude}\n"
        f"sys.argv = ['cnnlab', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('cnnlab', run_name='__main__')\nexcept SystemExit as exit:\n"
        "    code = exit.code\nelse:\n    code = 0\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO TORCH', code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert last.endswith(" 0"), done.stdout[-800:] + done.stderr[-800:]
    return last.startswith("TORCH"), done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("experiment", "list"),
        ("experiment", "list", "--json"),
        ("experiment", "cifar-classics", "--help"),
        ("--help",),
        ("models",),
    ],  # fmt: skip
    ids=" ".join,
)
def test_listing_experiments_imports_no_torch(args):
    """The issue's case: ``cnnlab experiment list`` took 3.2 s on a quiet machine, 2.2 s of it
    importing torch through the catalog's modules. Listing and estimating need plain data only."""
    torch_imported, output = imports_torch(*args)
    assert not torch_imported, f"cnnlab {' '.join(args)} imported torch"
    if args[:2] == ("experiment", "list"):
        assert "cifar-classics" in output


def test_the_torch_check_can_fail():
    """The check above sees torch when anything on the way imports it."""
    torch_imported, _ = imports_torch("experiment", "list", prelude="import cnnlab.experiments.networks")
    assert torch_imported


@pytest.mark.parametrize("command", [["--help"], ["train", "--help"], ["data", "--help"]])
def test_help_imports_no_torch(command):
    code = (
        "import sys\nfrom cnnlab.cli import main\n"
        f"try:\n    main({command!r})\nexcept SystemExit:\n    pass\n"
        "sys.exit(7 if 'torch' in sys.modules else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_other_model_sources_are_counted_again_and_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(model_table, "_sources_fingerprint", lambda: "changed sources")
    counted = []
    monkeypatch.setattr(model_table, "model_costs", lambda *args: counted.append(args) or (1, 2))
    cache = tmp_path / "costs.json"
    rows = model_table.model_rows("lenet", cache_file=cache)
    assert [row["name"] for row in rows] == ["lenet5"] and rows[0]["params_paper"] == 1 and counted
    counted.clear()
    model_table.model_rows("lenet", cache_file=cache)
    assert not counted  # the second listing reads the user cache


def _printed_at(width: int, args: list[str], monkeypatch) -> str:
    """What ``cnnlab ARGS`` prints on a terminal ``width`` characters wide."""
    out = io.StringIO()
    monkeypatch.setattr(
        models_command, "console", Console(file=out, width=width, force_terminal=True, color_system=None)
    )
    assert main(args) == 0
    return out.getvalue()


def _table_at(width: int, monkeypatch, capsys) -> str:
    return _printed_at(width, ["models"], monkeypatch)


@pytest.mark.parametrize("width", [80, 100, 250])
def test_the_table_never_cuts_a_name(width, monkeypatch, capsys):
    text = _table_at(width, monkeypatch, capsys)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    first_cells = {line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")}
    names = {row["name"] for row in model_table.model_rows()}
    assert names <= first_cells


def test_at_80_columns_fewer_columns_and_a_note_saying_which(monkeypatch, capsys):
    narrow, wide = _table_at(80, monkeypatch, capsys), _table_at(250, monkeypatch, capsys)
    assert "Not shown at this width" in narrow and "paper" in narrow.split("Not shown at this width")[1]
    assert "Not shown" not in wide and "LeCun et al." in wide


def _explained_at(width: int, model: str, monkeypatch) -> str:
    return _printed_at(width, ["explain", model], monkeypatch)


@pytest.mark.parametrize("model", ["lenet5", "resnet18", "vgg16"])
def test_explain_fits_80_columns_and_says_what_it_left_out(model, monkeypatch):
    narrow, wide = _explained_at(80, model, monkeypatch), _explained_at(250, model, monkeypatch)
    assert max(len(line) for line in narrow.splitlines()) <= 80 and "…" not in narrow
    assert "Not shown at this width: Type, Window, Jump" in " ".join(narrow.split())
    assert "Not shown" not in wide and "Jump" in wide

    # The size formulas are all there at 80 columns, wrapped or not.
    def formulas(text: str) -> int:  # the "= M" that ends each "(N + 2P - F)/S + 1 = M"
        return sum(len(re.findall(r"= \d+", line)) for line in text.splitlines() if line.startswith("│"))

    assert formulas(wide) == formulas(narrow) > 0
