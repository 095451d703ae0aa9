"""Where a named dataset's files are looked for, in order:

1. ``--data-dir`` (the ``data_dir`` argument),
2. ``$CNNLAB_DATA``,
3. the user cache, ``$XDG_CACHE_HOME/cnnlab`` or ``~/.cache/cnnlab`` (where downloads go),
4. for MNIST only, the copy of the four official files shipped inside the package,

and only then downloaded. Each data directory has the layout ``<dir>/<dataset>/<official names>``.
Nothing is looked up over the network when ``download=False`` or ``CNNLAB_OFFLINE=1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.data.registry import DatasetSpec

SHIPPED_MNIST = Path(__file__).resolve().parent / "mnist_files"
DECODED_FOLDER = "decoded"
RECORDS_FOLDER = "verified"


@dataclass(frozen=True)
class Location:
    """A dataset folder that holds a complete set of the dataset's files."""

    folder: Path
    origin: str  # "--data-dir", "$CNNLAB_DATA", "user cache", "shipped with cnnlab"
    files: tuple[str, ...]  # paths relative to ``folder`` that the dataset is read from
    archive: str | None = None  # set when the files are members of this archive in ``folder``


@dataclass
class SearchResult:
    """What a search found: the first complete location, and folders that were incomplete."""

    location: Location | None
    looked_in: list[tuple[Path, str]] = field(default_factory=list)
    incomplete: dict[Path, list[str]] = field(default_factory=dict)  # folder -> missing files


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cnnlab``, else ``~/.cache/cnnlab``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "cnnlab"


def offline() -> bool:
    """True when ``CNNLAB_OFFLINE`` is set to 1/true/yes: never touch the network."""
    return os.environ.get("CNNLAB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def data_roots(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """The data directories searched, in order, each with a label saying where it came from."""
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        roots.append((Path(data_dir).expanduser(), "--data-dir"))
    env = os.environ.get("CNNLAB_DATA")
    if env:
        roots.append((Path(env).expanduser(), "$CNNLAB_DATA"))
    roots.append((user_cache_dir(), "user cache"))
    return roots


def download_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where a download goes: the ``--data-dir`` the user named, else the user cache (never
    ``$CNNLAB_DATA``, which is often a shared, read-only copy)."""
    return Path(data_dir).expanduser() if data_dir is not None else user_cache_dir()


def candidate_folders(spec: DatasetSpec, data_dir=None) -> list[tuple[Path, str]]:
    folders = [(root / spec.name, origin) for root, origin in data_roots(data_dir)]
    if spec.name == "mnist":
        folders.append((SHIPPED_MNIST, "shipped with cnnlab"))
    return folders


def find_dataset(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None) -> SearchResult:
    """Search the candidate folders in order; the first complete one wins."""
    result = SearchResult(location=None)
    for folder, origin in candidate_folders(spec, data_dir):
        result.looked_in.append((folder, origin))
        if not folder.is_dir():
            continue
        location, missing = _complete_location(spec, folder, origin)
        if location is not None:
            result.location = location
            return result
        if missing is not None:
            result.incomplete[folder] = missing
    return result


def _complete_location(spec: DatasetSpec, folder: Path, origin: str):
    """(Location, None) if ``folder`` holds the extracted files or the official archive;
    (None, missing files) if it holds some of them; (None, None) if it holds none."""
    names = tuple(f.name for f in spec.files)
    missing = [name for name in names if not (folder / name).is_file()]
    if not missing:
        return Location(folder, origin, names), None
    if spec.archive and (folder / spec.archive.name).is_file():
        return Location(folder, origin, (spec.archive.name,), archive=spec.archive.name), None
    if len(missing) == len(names):
        return None, None
    return None, missing


def find_dataset_in(spec: DatasetSpec, folder: Path, origin: str) -> Location | None:
    """The location in ``folder`` if it holds a complete copy of the dataset, else None."""
    return _complete_location(spec, folder, origin)[0] if folder.is_dir() else None
