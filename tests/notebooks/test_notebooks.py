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
    assert "%pip install" in install.source and "CNNLAB_SOURCE" in install.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_a_rendered_copy_with_outputs(path: Path):
    rendered = RENDERED / path.name
    assert rendered.is_file(), f"no rendered copy {rendered.relative_to(ROOT)}; see docs/notebooks.md"
    notebook = nbformat.read(rendered, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code) and sum(len(c.outputs) for c in code) >= len(code) // 2
    source = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert [c.source for c in notebook.cells] == source, f"{rendered.name} is not a run of {path.name}"


def _install_cell() -> str:
    """The first code cell, the same in every notebook (the test below checks that)."""
    return nbformat.read(NOTEBOOKS[0], as_version=4).cells[1].source


def test_the_install_cell_is_the_same_everywhere_and_has_no_placeholder():
    cells = {path.name: nbformat.read(path, as_version=4).cells[1].source for path in NOTEBOOKS}
    assert len(set(cells.values())) == 1, f"the install cells differ: {sorted(cells)}"
    for marker in ("YOUR-", "PLACEHOLDER", "TODO", "XXX", "example.com"):
        assert marker not in _install_cell(), marker


class _Shell:
    """Stands in for IPython: records the %pip lines the install cell runs, expanded as IPython does."""

    def __init__(self, namespace: dict):
        self.namespace, self.pip = namespace, []

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> None:
        self.pip.append(f"%{name} {line.format(**self.namespace)}")


def _run_install_cell(monkeypatch, *, installed: bool, source: str = "") -> _Shell:
    from IPython.core.inputtransformer2 import TransformerManager

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: real_find_spec(name, *a) if installed or name != "cnnlab" else None,
    )
    cell = _install_cell().replace('CNNLAB_SOURCE = ""', f"CNNLAB_SOURCE = {source!r}")
    namespace: dict = {}
    shell = _Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    exec(TransformerManager().transform_cell(cell), namespace)
    return shell


def test_the_install_cell_does_nothing_where_cnnlab_imports(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert _run_install_cell(monkeypatch, installed=True).pip == []
    assert "nothing to do" in capsys.readouterr().out


def test_the_install_cell_installs_the_clone_it_sits_in(monkeypatch, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "cnnlab"\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert _run_install_cell(monkeypatch, installed=False).pip == [f'%pip install --quiet -e "{tmp_path}"']


def test_the_install_cell_installs_the_source_given_on_colab(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    shell = _run_install_cell(monkeypatch, installed=False, source=" /content/cnnlab-0.1.0.tar.gz ")
    assert shell.pip == ['%pip install --quiet "/content/cnnlab-0.1.0.tar.gz"']


def test_the_install_cell_without_a_source_stops_with_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="set CNNLAB_SOURCE in this cell") as stopped:
        _run_install_cell(monkeypatch, installed=False)
    assert "\n" not in str(stopped.value)


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
