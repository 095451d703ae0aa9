"""Run the notebooks top to bottom on a clean kernel and keep the executed copies.

    python notebooks/run_notebooks.py                 # the full setting -> docs/notebooks/*.ipynb
    python notebooks/run_notebooks.py --small 06      # CI's small setting, notebooks matching "06"
    python notebooks/run_notebooks.py --clear         # strip outputs from notebooks/*.ipynb in place

Each notebook runs in a temporary folder (its runs and files go there) with this checkout's
``src`` first on PYTHONPATH and ipykernel's own ``python3`` kernel. The executed copies are written
with their outputs (the figures inline), for reading on GitHub; ``notebooks/`` keeps the sources
without outputs. ``tests/notebooks`` uses :func:`execute` too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks"
RENDERED = ROOT / "docs" / "notebooks"
CELL_TIMEOUT_S = 1800
# nbclient waits 60 s for a kernel by default; on a busy machine starting one took longer.
STARTUP_TIMEOUT_S = 300


def execute(path: Path, workdir: Path, *, small: bool, timeout_s: int = CELL_TIMEOUT_S):
    """Run notebook ``path`` in ``workdir``; return the executed notebook (nbformat), raising
    nbclient's CellExecutionError at the first cell that fails."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    environment = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        "CNNLAB_RUNS": str(workdir / "runs"),
        "MPLBACKEND": "Agg",
    }
    if small:
        environment["CNNLAB_NOTEBOOK_SMALL"] = "1"
    saved = {name: os.environ.get(name) for name in [*environment, "CNNLAB_NOTEBOOK_SMALL"]}
    os.environ.pop("CNNLAB_NOTEBOOK_SMALL", None)
    os.environ.update(environment)  # the kernel inherits the environment of this process
    try:
        client = NotebookClient(
            notebook,
            timeout=timeout_s,
            startup_timeout=STARTUP_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return notebook


def cleared(notebook):
    """The notebook without outputs and execution counts (how notebooks/ stores them)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="Run only the notebooks whose name contains one of these.")
    parser.add_argument("--small", action="store_true", help="CI's small setting (CNNLAB_NOTEBOOK_SMALL=1).")
    parser.add_argument("--out", type=Path, default=RENDERED, help="Where the executed copies go.")
    parser.add_argument("--clear", action="store_true", help="Only strip the sources' outputs, in place.")
    args = parser.parse_args(argv)
    paths = [
        p for p in sorted(SOURCES.glob("*.ipynb")) if not args.only or any(o in p.name for o in args.only)
    ]
    if args.clear:
        for path in paths:
            nbformat.write(cleared(nbformat.read(path, as_version=4)), path)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="cnnlab-notebook-") as workdir:
            notebook = execute(path, Path(workdir), small=args.small)
        nbformat.write(notebook, args.out / path.name)
        print(f"{path.name}: {time.perf_counter() - started:.0f} s -> {args.out / path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
