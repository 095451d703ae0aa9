"""The notebooks in notebooks/: stored without outputs, each opens with its question, and each runs
top to bottom on a clean kernel in the small setting (CNNLAB_NOTEBOOK_SMALL=1: a few hundred
images, one epoch), with this checkout's cnnlab and a temporary runs folder.

The kernel is ipykernel's own "python3" (the interpreter running the tests), so no kernelspec has
to be installed.
"""

from __future__ import annotations

import os
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
    assert all(c.outputs for c in notebook.cells if c.cell_type == "code" and c.source.strip())
    source = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert [c.source for c in notebook.cells] == source, f"{rendered.name} is not a run of {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from nbclient import NotebookClient

    source = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", source)
    monkeypatch.setenv("CNNLAB_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("CNNLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
