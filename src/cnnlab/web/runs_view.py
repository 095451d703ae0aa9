"""The runs as the web lab lists them: the index's rows, each run folder that cannot be read
marked damaged (the others still list), and the best accuracy of each run from its metrics."""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError
from cnnlab.runs.index import RunIndex, listed_row, row_from_run_dir
from cnnlab.runs.rundir import RunDir

# Folders of a runs directory that are not runs (experiment reports live in their own).
NOT_RUNS = frozenset({"experiments"})
# The metric a run is ranked by, in order of preference.
ACCURACY_KEYS = ("test_accuracy", "val_accuracy", "train_accuracy")
LIST_FIELDS = (
    "run_id", "name", "group", "model", "dataset", "seed", "status", "epochs_done", "epochs",
    "started", "updated", "duration_s", "test_accuracy", "test_loss", "val_accuracy", "train_accuracy",
    "train_loss",
)  # fmt: skip


class BestAccuracyCache:
    """The best per-epoch accuracy of each run, re-read only when its metrics.jsonl changes.

    Plain ``os`` calls on strings: with 1,000 runs a page load is 1,000 stats, and pathlib's
    object per path would cost more than the stats themselves.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, int], float | None]] = {}

    def best(self, run_folder: str) -> float | None:
        path = os.path.join(run_folder, "metrics.jsonl")
        try:
            stat = os.stat(path)
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        value = best_accuracy(RunDir(run_folder).history())
        self._cache[path] = (stamp, value)
        return value


def best_accuracy(history: list[dict[str, Any]]) -> float | None:
    """The highest accuracy over the epochs, of the first split that has one (test, val, train)."""
    for key in ACCURACY_KEYS:
        values = [r[key] for r in history if isinstance(r.get(key), int | float) and math.isfinite(r[key])]
        if values:
            return max(values)
    return None


class IndexRowsCache:
    """The index's rows (without settings), read again only when the index has changed: with
    1,000 runs reading them is most of a listing's time, and a page refreshes its list every few
    seconds. The index is reconciled with the folders first, so a run whose process died reads
    "interrupted" (that is a write, and a new stamp)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[tuple, list[dict[str, Any]]]] = {}

    def rows(self, runs_dir: Path) -> list[dict[str, Any]]:
        index = RunIndex(runs_dir)
        index.reconcile()
        stamp, cached = index.stamp(), self._seen.get(str(runs_dir))
        if cached and cached[0] == stamp:
            return cached[1]
        rows = index.list(config=False, reconcile=False)  # the lab's lists show no settings
        self._seen[str(runs_dir)] = (stamp, rows)  # a write after the stamp: read again next time
        return rows


def run_rows(
    runs_dir: Path, cache: IndexRowsCache | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The index's rows of every readable run (as ``RunIndex.list`` gives them, from ``cache``
    when given, without settings), and the run folders that cannot be read, each with why. A
    damaged folder never hides the others: when the index cannot be built because of one, the
    rows come from the folders one by one. The rows are shared with the cache: read, never change."""
    try:
        rows = cache.rows(runs_dir) if cache else RunIndex(runs_dir).list(config=False)
    except (CnnlabError, sqlite3.Error, OSError):
        rows = []
    indexed = {row["run_id"] for row in rows}
    damaged = [  # the index lists a folder it cannot read as "damaged", with why
        {"run_id": row["run_id"], "status": "damaged", "error": row["result"].get("error", "")}
        for row in rows
        if row["status"] == "damaged"
    ]
    rows = [row for row in rows if row["status"] != "damaged"]
    for folder in _unindexed_run_folders(runs_dir, indexed):
        try:
            row = row_from_run_dir(RunDir(folder))
        except (CnnlabError, OSError, ValueError) as exc:
            damaged.append({"run_id": folder.name, "status": "damaged", "error": str(exc)})
            continue
        del row["config_json"]  # as the index's rows here: without the settings
        rows.append(listed_row(row))
    return rows, damaged


def list_runs(
    runs_dir: Path, best: BestAccuracyCache, cache: IndexRowsCache | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``{"runs": [...], "damaged": [...]}``: every readable run, newest first, and why the rest
    cannot be read."""
    rows, damaged = run_rows(runs_dir, cache)
    runs = [_list_entry(row, runs_dir, best) for row in rows]
    runs.sort(key=lambda r: r.get("started") or 0, reverse=True)
    return {"runs": runs, "damaged": damaged}


def _unindexed_run_folders(runs_dir: Path, indexed: set[str]) -> list[Path]:
    """Folders not in the index that are or were meant to be runs: a config.json, metrics, a
    result or checkpoints."""
    try:
        entries = sorted(os.scandir(runs_dir), key=lambda entry: entry.name)
    except OSError:
        return []
    markers = ("config.json", "metrics.jsonl", "result.json", "checkpoints")
    return [
        Path(entry.path)
        for entry in entries
        if entry.name not in indexed
        and not entry.name.startswith(".")
        and entry.name not in NOT_RUNS
        and entry.is_dir()
        and any(os.path.exists(os.path.join(entry.path, marker)) for marker in markers)
    ]


def _list_entry(row: dict[str, Any], runs_dir: Path, best: BestAccuracyCache) -> dict[str, Any]:
    entry = {field: row.get(field) for field in LIST_FIELDS}
    entry["best_accuracy"] = best.best(os.path.join(runs_dir, row["run_id"]))
    entry["error"] = (row.get("result") or {}).get("error")
    return entry
