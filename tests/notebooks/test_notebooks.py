"""The notebooks in notebooks/: stored without outputs, each opens with its question, and each runs
top to bottom on a clean kernel in the small setting (CNNLAB_NOTEBOOK_SMALL=1: a few hundred
images, one epoch), with this checkout's cnnlab and a temporary runs folder.

The kernel is ipykernel's own "python3" (the interpreter running the tests), so no kernelspec has
to be installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RENDERED = ROOT / "docs" / "notebooks"
CELL_TIMEOUT_S = 600


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    with_outputs = [
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not with_outputs, f"{path.name}: cells {with_outputs} hold outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_its_question_and_the_install_cell(path: Path):
    first, install = nbformat.read(path, as_version=4).cells[:2]
    assert first.cell_type == "markdown" and "**The question:**" in first.source
    assert "%pip install" in install.source and "except ImportError" in install.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_a_rendered_copy_with_outputs(path: Path):
    rendered = RENDERED / path.name
    assert rendered.is_file(), f"no rendered copy {rendered.relative_to(ROOT)}; see docs/notebooks.md"
    notebook = nbformat.read(rendered, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code) and sum(len(c.outputs) for c in code) >= len(code) // 2
    source = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert [c.source for c in notebook.cells] == source, f"{rendered.name} is not a run of {path.name}"


def _runner():
    """notebooks/run_notebooks.py, the script that also renders docs/notebooks/."""
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "notebooks" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path: Path, tmp_path: Path):
    notebook = _runner().execute(path, tmp_path, small=True, timeout_s=CELL_TIMEOUT_S)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # The objects show themselves: at least one figure came back inline.
    assert any(
        "image/png" in o.get("data", {}) or "data:image/png" in str(o.get("data", "")) for o in outputs
    )
