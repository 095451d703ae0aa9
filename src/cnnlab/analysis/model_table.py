"""The model zoo as a table: every registry model's parameters and MACs at the dataset sizes
(1x28x28 for MNIST / Fashion-MNIST, 3x32x32 for CIFAR) and at its paper's size.

Counting a model means building it and tracing it on the meta device: no memory and no real
compute, but a second or so for the deepest ResNets. Results are cached in a JSON file keyed by a
fingerprint of the model sources, so ``cnnlab models`` is instant after its first run and
recomputes by itself when a model file changes.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from cnnlab import __version__, models
from cnnlab.analysis.summary import explain
from cnnlab.atomic import atomic_write_json
from cnnlab.errors import CnnlabError, UnknownNameError
from cnnlab.formatting import format_shape

DATASET_INPUTS = ((1, 28, 28), (3, 32, 32))
DATASET_CLASSES = 10


@lru_cache(maxsize=1024)
def model_costs(name: str, input_shape: tuple[int, int, int], num_classes: int) -> tuple[int, int] | None:
    """``(params, MACs)`` of registry model ``name`` on one ``input_shape`` image, or None when the
    model cannot take that input."""
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
    ``paper_input`` (None where the model refuses that input)."""
    if family is not None and family not in models.families():
        raise UnknownNameError("family", family, models.families())
    cache = _Cache(cache_file)
    rows = []
    for info in models.list_models(family=family, task=task):
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
    """A hash of cnnlab's version and every model and tracing source file."""
    digest = hashlib.sha256(__version__.encode())
    sources = sorted(Path(models.__file__).parent.glob("*.py")) + [Path(__file__).with_name("summary.py")]
    for source in sources:
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]
