"""Where a sweep's trials live: an Optuna RDB storage on SQLite (one machine) or PostgreSQL (many).

The URL is checked before anything is written (a usage error, exit 2, for a URL that is neither
``sqlite:///PATH`` nor ``postgresql://...``), then the database is opened (exit 1, in one line, for
one that cannot be reached). Every worker records a heartbeat for its running trial; a trial whose
heartbeat is older than the grace period belonged to a dead worker: it is marked failed and a copy
with the same parameters is queued (Optuna's ``RetryFailedTrialCallback``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError, UsageError

DB_NAME = "sweeps.db"
SQLITE = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://", "postgres://")
# Seconds between heartbeats of a running trial; a trial is stale after GRACE_FACTOR of them.
HEARTBEAT_S = 10
GRACE_FACTOR = 3
# Retries of a trial whose worker died, before it stays failed.
MAX_RETRY = 3
CONNECT_TIMEOUT_S = 10


class StorageError(CnnlabError):
    """The sweep's database cannot be opened or read."""


def default_storage(runs_dir: str | os.PathLike[str]) -> str:
    """``sqlite:///<runs-dir>/sweeps.db`` (absolute, so every worker opens the same file)."""
    return SQLITE + str(Path(runs_dir).resolve() / DB_NAME)


def check_storage_url(url: str) -> str:
    """The URL as Optuna takes it; a UsageError for anything but SQLite or PostgreSQL."""
    url = url.strip()
    if url.startswith(SQLITE):
        path = Path(url[len(SQLITE) :])
        if not path.name or path.name == ":memory:":
            raise UsageError(
                f"--storage {url}: give a database file, e.g. sqlite:///runs/sweeps.db "
                "(an in-memory database would vanish with each worker)."
            )
        return url
    if url.startswith(POSTGRES_SCHEMES):
        scheme, _, rest = url.partition("://")
        if not rest.split("/", 1)[0] or "/" not in rest or not rest.split("/", 1)[1]:
            raise UsageError(f"--storage {url}: write postgresql://USER:PASSWORD@HOST:PORT/DATABASE.")
        return "postgresql://" + rest if scheme == "postgres" else url
    raise UsageError(
        f"--storage {url!r} is not a database URL cnnlab sweeps use: write sqlite:///PATH/sweeps.db "
        "(one machine) or postgresql://USER:PASSWORD@HOST:PORT/DATABASE (many machines)."
    )


def open_storage(url: str, heartbeat_s: int = HEARTBEAT_S) -> Any:
    """An ``optuna.storages.RDBStorage`` with heartbeats and retries of dead workers' trials."""
    import optuna
    from optuna.storages import RDBStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats are "experimental" in Optuna (since 2.8); cnnlab relies on them deliberately.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    url = shown = check_storage_url(url)
    if url.startswith(SQLITE):
        _check_sqlite_folder(url)
        # Workers on one file wait for each other's write locks instead of failing at once.
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:
        url = _with_installed_driver(url)
        engine_kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    try:
        return RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_s,
            grace_period=heartbeat_s * GRACE_FACTOR,
            **_retry_argument(RDBStorage),
        )
    except Exception as exc:  # SQLAlchemy's errors differ per database; all mean "cannot open"
        raise StorageError(
            f"Cannot open the sweep database {redacted_url(shown)}: {_first_line(exc)}"
        ) from None


def _retry_argument(storage_class: Any) -> dict[str, Any]:
    """The retry callback under its name: Optuna >= 4.9 says heartbeat_stale_trial_callback and
    RetryHeartbeatStaleTrialCallback, older ones failed_trial_callback and RetryFailedTrialCallback."""
    import inspect

    import optuna.storages as storages

    retry = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    new_name = "heartbeat_stale_trial_callback" in inspect.signature(storage_class).parameters
    return {
        "heartbeat_stale_trial_callback" if new_name else "failed_trial_callback": retry(max_retry=MAX_RETRY)
    }


def _check_sqlite_folder(url: str) -> None:
    folder = Path(url[len(SQLITE) :]).parent
    if not folder.is_dir():
        raise StorageError(f"Cannot open the sweep database {url}: the folder {folder} does not exist.")


def _with_installed_driver(url: str) -> str:
    """A plain ``postgresql://`` URL with the driver that is installed: SQLAlchemy 2.1 means
    psycopg 3 by it, while the ``sweep`` extra installs psycopg2."""
    import importlib.util

    scheme, _, rest = url.partition("://")
    wanted = {"postgresql+psycopg2": ("psycopg2",), "postgresql+psycopg": ("psycopg",)}.get(
        scheme, ("psycopg2", "psycopg")
    )
    for module in wanted:
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{module}://{rest}"
    raise StorageError(
        "A postgresql:// storage needs a PostgreSQL driver: pip install 'cnnlab[sweep]' (psycopg2-binary)."
    )


def redacted_url(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(getattr(exc, "orig", None) or exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


__all__ = ["DB_NAME", "StorageError", "check_storage_url", "default_storage", "open_storage", "redacted_url"]
