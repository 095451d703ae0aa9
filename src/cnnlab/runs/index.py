"""The index of runs: one SQLite row per run directory, so listing and comparing is instant.

The index is derived data. Every row is built from a run's own ``config.json`` and
``result.json`` (:func:`row_from_run_dir`), so it can be rebuilt from the run directories at any
time, and is, when the file is missing, corrupt or from another schema version.

Reconciled with the folders: listing adds the row of a run folder the index lacks (a run killed
while it waited for the index's lock), and a run recorded as running whose process is gone reads
"interrupted" (:meth:`RunDir.read_result`), so the index never contradicts the folders.

Concurrency: WAL journal (readers never block the writer) and a busy timeout (a writer waits for
another's transaction instead of failing); each update is one short transaction, so several runs
training at once, in threads or processes, all land.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from cnnlab.errors import CheckpointError
from cnnlab.runs.rundir import RunDir

INDEX_NAME = "index.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

# Columns besides the JSON blobs; the metric columns are copied from result.json's "final".
METRIC_COLUMNS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")
COLUMNS = (
    "run_id", "path", "name", "grp", "model", "dataset", "seed", "status", "epochs_done", "epochs",
    "started", "updated", "duration_s", *METRIC_COLUMNS, "pid", "host", "config_json", "result_json",
)  # fmt: skip
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, path TEXT, name TEXT, grp TEXT, model TEXT, dataset TEXT,
    seed INTEGER, status TEXT, epochs_done INTEGER, epochs INTEGER, started REAL, updated REAL,
    duration_s REAL, {", ".join(f"{c} REAL" for c in METRIC_COLUMNS)}, pid INTEGER, host TEXT,
    config_json TEXT, result_json TEXT
);
CREATE INDEX IF NOT EXISTS runs_group ON runs (grp);
"""


class RunIndex:
    """The index file ``<runs_dir>/index.sqlite``."""

    def __init__(self, runs_dir: str | os.PathLike[str]):
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / INDEX_NAME

    # -- writing -------------------------------------------------------------------------------
    def update(self, run_dir: RunDir) -> None:
        """Insert or replace the row of ``run_dir`` from its files."""
        row = row_from_run_dir(run_dir)
        with self._connect(write=True) as db:
            _upsert(db, row)

    def rebuild(self) -> int:
        """Re-create every row from the run directories; return how many runs were found."""
        rows = _scan_rows(self.runs_dir)
        with self._connect(write=True) as db:
            _replace_all(db, rows)
        return len(rows)

    # -- reading -------------------------------------------------------------------------------
    def list(
        self,
        *,
        status: str | None = None,
        group: str | None = None,
        limit: int | None = None,
        config: bool = True,
        reconcile: bool = True,
    ) -> list[dict]:
        """Rows, newest first; a "running" run whose process is gone reads "interrupted", and a run
        folder without a row gets one first (``reconcile=False``: the caller has just done so).
        ``config=False``: without each run's settings (a listing of many runs that shows none of
        them reads and parses a third of the data)."""
        if reconcile:
            self.reconcile()
        columns = "*" if config else ", ".join(column for column in COLUMNS if column != "config_json")
        query, args = f"SELECT {columns} FROM runs", []
        conditions = []
        if status:
            conditions.append("status = ?")
            args.append(status)
        if group:
            conditions.append("grp = ?")
            args.append(group)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY started DESC, run_id"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return [listed_row(r) for r in db.execute(query, args)]

    def get(self, run_id: str) -> dict | None:
        self.reconcile()
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return listed_row(row) if row else None

    def groups(self) -> list[str]:
        with self._connect() as db:
            return [g for (g,) in db.execute("SELECT DISTINCT grp FROM runs WHERE grp IS NOT NULL")]

    def reconcile(self) -> None:
        """Make the index agree with the folders: a row for each run folder that has none (its
        process died before it wrote one), and the row of each "running" run whose process is gone
        re-read from its folder (which then says "interrupted", see ``RunDir.read_result``)."""
        with self._connect() as db:
            known = {run_id for (run_id,) in db.execute("SELECT run_id FROM runs")}
            running = db.execute("SELECT path, result_json FROM runs WHERE status = 'running'").fetchall()
        stale = scan_run_dirs(self.runs_dir, skip=known)
        for path, result_json in running:
            run_dir = RunDir(path)
            if run_dir.config_path.is_file() and not run_dir.is_live(json.loads(result_json or "{}")):
                stale.append(run_dir)
        if stale:
            rows = [_scanned_row(run) for run in stale]
            with self._connect(write=True) as db:
                for row in rows:
                    _upsert(db, row)

    def stamp(self) -> tuple[tuple[int, int] | None, ...]:
        """The modification time and size of the index's files: another stamp, other rows (a
        write in WAL mode changes the ``-wal`` file, a checkpoint the main one)."""
        stamps = []
        for path in (self.path, self.path.with_name(INDEX_NAME + "-wal")):
            try:
                stat = os.stat(path)
            except OSError:
                stamps.append(None)
                continue
            stamps.append((stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    # -- connection ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction (BEGIN IMMEDIATE for writes: the write lock is
        taken up front, so two writers queue on the busy timeout instead of deadlocking)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        db = self._open()
        try:
            with _transaction(db, "IMMEDIATE" if write else "DEFERRED"):
                yield db
        finally:
            db.close()

    def _open(self) -> sqlite3.Connection:
        """A connection to a current, readable index; creates or repairs it first if needed."""
        try:
            db = _connect_file(self.path)
        except sqlite3.OperationalError:
            raise  # locked or unreachable: not a reason to throw the index away
        except sqlite3.DatabaseError:
            self._set_aside_corrupt()
            db = _connect_file(self.path)
        try:
            if _is_current(db):
                return db
        except sqlite3.OperationalError:
            db.close()
            raise
        except sqlite3.DatabaseError:
            db.close()
            self._set_aside_corrupt()
            db = _connect_file(self.path)
        self._create_and_fill(db)
        return db

    def _create_and_fill(self, db: sqlite3.Connection) -> None:
        """Create the table and fill it from the run directories, in one transaction, unless
        another process did so while this one waited for the write lock."""
        rows = _scan_rows(self.runs_dir)
        with _transaction(db, "IMMEDIATE"):
            if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            db.execute("DROP TABLE IF EXISTS runs")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            _replace_all(db, rows)

    def _set_aside_corrupt(self) -> None:
        """Keep a corrupt index beside the new one for a post-mortem; drop its journal files,
        which belong to the old file and must not be replayed into the new one."""
        with contextlib.suppress(OSError):
            os.replace(self.path, self.path.with_name(f"{INDEX_NAME}.corrupt-{int(time.time())}"))
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.remove(f"{self.path}{suffix}")


def row_from_run_dir(run_dir: RunDir) -> dict[str, Any]:
    """The index row of a run, from its config.json and result.json."""
    config = run_dir.read_config()
    result = run_dir.read_result()
    final = result.get("final") or {}
    row = {
        "run_id": run_dir.name,
        "path": str(run_dir.root.resolve()),
        "name": config.get("name") or run_dir.name,
        "grp": config.get("group"),
        "model": config.get("model"),
        "dataset": config.get("dataset"),
        "seed": config.get("seed"),
        "status": result.get("status", "running"),
        "epochs_done": result.get("epochs_done", 0),
        "epochs": config.get("epochs"),
        "started": result.get("started", run_dir.config_path.stat().st_mtime),
        "updated": result.get("updated"),
        "duration_s": result.get("duration_s"),
        "pid": result.get("pid"),
        "host": result.get("host"),
        "config_json": json.dumps(config),
        "result_json": json.dumps(result),
    }
    row.update({column: final.get(column) for column in METRIC_COLUMNS})
    return row


def scan_run_dirs(runs_dir: Path, skip: Collection[str] = ()) -> list[RunDir]:
    """Every run directory directly inside ``runs_dir``, by name, but those named in ``skip``.

    Plain ``os`` calls: a listing reconciles the index on every call, and with 1,000 runs
    pathlib's objects and a stat of each folder cost more than the index query (the folder test
    comes from the directory entry itself; only the folders not skipped are looked into)."""
    try:
        with os.scandir(runs_dir) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:  # no such folder, or not a folder
        return []
    return [
        RunDir(Path(entry.path))
        for entry in entries
        if entry.name not in skip
        and entry.is_dir()
        and os.path.isfile(os.path.join(entry.path, "config.json"))
    ]


def _is_current(db: sqlite3.Connection) -> bool:
    """The index has this schema version and its table reads (raises DatabaseError if corrupt)."""
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return False
    db.execute("SELECT count(*) FROM runs").fetchone()
    return True


def _connect_file(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are explicit (see _transaction), never implicit.
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: never corrupt, may lose the last commit
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, mode: str) -> Iterator[None]:
    db.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _scan_rows(runs_dir: Path) -> list[dict[str, Any]]:
    return [_scanned_row(run) for run in scan_run_dirs(runs_dir)]


def _scanned_row(run_dir: RunDir) -> dict[str, Any]:
    """The row of a run found by a scan; a folder whose files cannot be read (half-written, edited
    by hand) is listed as "damaged" with the reason, so one bad folder never hides the others."""
    try:
        return row_from_run_dir(run_dir)
    except (CheckpointError, AttributeError, TypeError, ValueError) as exc:  # unreadable or not an object
        reason = (
            str(exc)
            if isinstance(exc, CheckpointError)
            else f"{run_dir.config_path} is not a settings object"
        )
        return {
            "run_id": run_dir.name,
            "path": str(run_dir.root.resolve()),
            "name": run_dir.name,
            "status": "damaged",
            "started": run_dir.root.stat().st_mtime,
            "result_json": json.dumps({"status": "damaged", "error": reason}),
        }


def _replace_all(db: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    db.execute("DELETE FROM runs")
    for row in rows:
        _upsert(db, row)


def _upsert(db: sqlite3.Connection, row: dict[str, Any]) -> None:
    placeholders = ", ".join("?" for _ in COLUMNS)
    db.execute(
        f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({placeholders})",
        [row.get(column) for column in COLUMNS],
    )


def listed_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of the index's columns (from the database, or :func:`row_from_run_dir`) as ``list``
    gives it: ``group`` for ``grp``, and the settings and result decoded (settings only where the
    row has them)."""
    data = dict(row)
    data["group"] = data.pop("grp")
    if "config_json" in data:
        data["config"] = json.loads(data.pop("config_json") or "{}")
    data["result"] = json.loads(data.pop("result_json") or "{}")
    return data
