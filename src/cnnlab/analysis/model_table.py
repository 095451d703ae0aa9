"""The model zoo as a table: every registry model's parameters and MACs at the dataset sizes
(1x28x28 for MNIST / Fashion-MNIST, 3x32x32 for CIFAR) and at its paper's size.

Counting a model means building it and tracing it on the meta device: no memory and no real
compute, but a second or so for the deepest ResNets, and 20-30 s for the whole zoo. So the table
ships with cnnlab (``zoo_costs.json`` next to this file, written by ``python -m
cnnlab.analysis.model_table``), keyed by a fingerprint of the model sources: while the sources are
those it was written from, ``cnnlab models`` reads it without importing torch. When a model file
changes, the rows are computed again and cached in the user cache under the new fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_json
from cnnlab.errors import CnnlabError, UnknownNameError
from cnnlab.formatting import format_shape

DATASET_INPUTS = ((1, 28, 28), (3, 32, 32))
DATASET_CLASSES = 10
# The zoo's table as computed from the sources of the fingerprint it holds.
SHIPPED_TABLE = Path(__file__).with_name("zoo_costs.json")
MODELS_SOURCES = Path(__file__).parents[1] / "models"


@lru_cache(maxsize=1024)
def model_costs(name: str, input_shape: tuple[int, int, int], num_classes: int) -> tuple[int, int] | None:
    """``(params, MACs)`` of registry model ``name`` on one ``input_shape`` image, or None when the
    model cannot take that input."""
    from cnnlab.analysis.summary import explain

    try:
        summary = explain(name, input_shape, num_classes)
    except CnnlabError:
        return None
    return summary.params, summary.macs


def model_rows(
    family: str | None = None, task: str | None = None, cache_file: Path | None = None
) -> list[dict]:
    """One dict a registry model: name, family, paper, year, task, and ``params_<CxHxW>`` /
    ``macs_<CxHxW>`` at each dataset size and ``params_paper`` / ``macs_paper`` at the paper's
    ``paper_input`` (None where the model refuses that input).

    The shipped table answers while the model sources are the ones it was computed from; else the
    rows are computed (and kept in ``cache_file``)."""
    shipped = shipped_rows()
    rows = shipped if shipped is not None else computed_rows(cache_file)
    families = list(dict.fromkeys(row["family"] for row in rows))
    if family is not None and family not in families:
        raise UnknownNameError("family", family, families)
    return [row for row in rows if family in (None, row["family"]) and task in (None, row["task"])]


def shipped_rows() -> list[dict] | None:
    """The shipped table's rows, or None when it is missing, damaged, or from other model sources."""
    try:
        stored = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("fingerprint") != _sources_fingerprint():
        return None
    return stored.get("rows")


def write_shipped_table(path: Path = SHIPPED_TABLE) -> list[dict]:
    """Compute every row from the current sources and write them with their fingerprint."""
    rows = computed_rows(None)
    atomic_write_json(path, {"fingerprint": _sources_fingerprint(), "rows": rows})
    return rows


def computed_rows(cache_file: Path | None) -> list[dict[str, Any]]:
    """Every registry model's row, counted now (or taken from ``cache_file`` of the same sources)."""
    from cnnlab import models

    cache = _Cache(cache_file)
    rows = []
    for info in models.list_models():
        row = {
            "name": info.name,
            "family": info.family,
            "paper": info.paper,
            "year": info.year,
            "task": info.task,
        }
        for shape in DATASET_INPUTS:
            row.update(_costs_columns(format_shape(shape), cache.costs(info.name, shape, DATASET_CLASSES)))
        row["paper_input"] = format_shape(info.paper_input)
        row.update(_costs_columns("paper", cache.costs(info.name, info.paper_input, info.paper_classes)))
        rows.append(row)
    cache.save()
    return rows


def _costs_columns(label: str, costs: tuple[int, int] | None) -> dict:
    params, macs = costs if costs is not None else (None, None)
    return {f"params_{label}": params, f"macs_{label}": macs}


class _Cache:
    """``{"fingerprint": ..., "costs": {"name|CxHxW|classes": [params, macs] or null}}`` on disk."""

    def __init__(self, path: Path | None):
        self.path, self.fingerprint, self.changed = path, _sources_fingerprint(), False
        self.entries: dict[str, list[int] | None] = {}
        if path is not None and path.is_file():
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError):
                stored = {}  # a damaged cache is rebuilt, never trusted
            if isinstance(stored, dict) and stored.get("fingerprint") == self.fingerprint:
                self.entries = stored.get("costs", {})

    def costs(self, name: str, shape: tuple[int, int, int], classes: int) -> tuple[int, int] | None:
        key = f"{name}|{format_shape(shape)}|{classes}"
        if key not in self.entries:
            costs = model_costs(name, tuple(shape), classes)
            self.entries[key] = list(costs) if costs is not None else None
            self.changed = True
        value = self.entries[key]
        return tuple(value) if value is not None else None

    def save(self) -> None:
        if self.path is not None and self.changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, {"fingerprint": self.fingerprint, "costs": self.entries})


@lru_cache(maxsize=1)
def _sources_fingerprint() -> str:
    """A hash of every model and tracing source file (the version is not in it: an installed copy
    reports another version than a source tree of the same files)."""
    digest = hashlib.sha256()
    sources = sorted(MODELS_SOURCES.glob("*.py")) + [Path(__file__).with_name("summary.py")]
    for source in sources:
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


if __name__ == "__main__":  # python -m cnnlab.analysis.model_table: rewrite the shipped table
    written = write_shipped_table()
    print(f"{SHIPPED_TABLE}: {len(written)} models, fingerprint {_sources_fingerprint()}", file=sys.stderr)
