"""The user cache: decoded arrays (``.npy``) and records of files already verified.

Decoded datasets live in ``<cache>/decoded/<name>-<fingerprint>/``: one ``.npy`` per split and
array, plus ``meta.json`` (classes, mean, std, verification) written last, so a folder without
``meta.json`` is never trusted. The fingerprint is a hash of the verified source files' checksums,
so a different copy of a dataset (official vs. local manifest) gets its own entry.

Verification records (``<cache>/verified/<hash of the folder path>.json``) hold each source file's
stamp (size, modification time, status-change time, inode) and checksum as last verified. A load
whose files have the same stamp reuses the recorded checksum instead of re-hashing 180 MB on every
run; ``cnnlab data verify`` always re-hashes, and a file that fails it has its record replaced by
one of the failure (never read as a pass), which ``cnnlab data list`` reports until a check of
that file passes again. Size and
mtime alone are not enough: bytes can be rewritten and the mtime put back (``os.utime``, ``touch
-r``, ``cp -p``), but any write or ``utime`` sets the status-change time to now, which no
unprivileged program can set back; a file replaced by another gets a new inode.

The decoded arrays are checked the same way: ``meta.json`` records each array file's stamp and
SHA-256, and an array whose stamp changed is re-hashed; one that no longer matches is decoded again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.atomic import atomic_path, atomic_write_json
from cnnlab.data.paths import DECODED_FOLDER, RECORDS_FOLDER, user_cache_dir

# Bump when the decoding changes, so old caches are not reused.
DECODED_FORMAT = 2  # 2: meta.json holds each array file's stamp and SHA-256
ARRAYS = ("images", "labels")


@dataclass
class Decoded:
    """A decoded dataset: arrays per split, plus what describes them."""

    arrays: dict[str, dict[str, np.ndarray]]  # split -> {"images": ..., "labels": ...}
    meta: dict[str, Any]  # classes, mean, std, verification, ...


def fingerprint(parts: list[str]) -> str:
    """A short hash that identifies a set of verified files (or any list of strings)."""
    text = "\n".join([f"decoded-format-{DECODED_FORMAT}", *sorted(parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def decoded_dir(name: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return user_cache_dir() / DECODED_FOLDER / f"{safe}-{key}"


def load_decoded(name: str, key: str, splits: list[str] | None = None) -> Decoded | None:
    """The cached arrays for ``(name, key)`` (only ``splits``, when given), or None when there is
    no complete entry."""
    folder = decoded_dir(name, key)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        wanted = [split for split in meta["splits"] if splits is None or split in splits]
        files = {f"{split}_{array}.npy": (split, array) for split in wanted for array in ARRAYS}
        if not all(_array_file_intact(folder / name, meta["files"][name]) for name in files):
            return None
        arrays: dict[str, dict[str, np.ndarray]] = {split: {} for split in wanted}
        for name, (split, array) in files.items():
            arrays[split][array] = np.load(folder / name, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None  # a damaged cache is only a cache: decode again
    meta.pop("files")
    return Decoded(arrays, meta)


def _array_file_intact(path: Path, record: dict[str, Any]) -> bool:
    """True if the array file is the one written: same stamp, or (stamp changed: copied, touched)
    same SHA-256 as when written."""
    if file_stamp(path) == record["stamp"]:
        return True
    return _sha256(path) == record["sha256"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def save_decoded(name: str, key: str, decoded: Decoded) -> None:
    """Write the arrays, each atomically, then ``meta.json`` last, which marks the entry complete."""
    folder = decoded_dir(name, key)
    files = {}
    for split, arrays in decoded.arrays.items():
        for array in ARRAYS:
            path = folder / f"{split}_{array}.npy"
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(arrays[array]))
            files[path.name] = {"stamp": file_stamp(path), "sha256": _sha256(path)}
    meta = {**decoded.meta, "splits": list(decoded.arrays), "files": files}
    atomic_write_json(folder / "meta.json", meta)


def _record_path(folder: Path) -> Path:
    key = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:20]
    return user_cache_dir() / RECORDS_FOLDER / f"{key}.json"


def file_stamp(path: Path) -> dict[str, int]:
    """What changes whenever a file's content may have: size, mtime, status-change time, inode."""
    stat = path.stat()
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "ctime_ns": stat.st_ctime_ns,
        "inode": stat.st_ino,
    }


def recorded_digest(path: Path, algorithm: str) -> str | None:
    """The checksum recorded for ``path`` if the file is unchanged since, else None."""
    entry = _read_records(path.parent).get(path.name)
    if not entry or entry.get("failed") or entry.get("algorithm") != algorithm:
        return None
    try:
        stamp = file_stamp(path)
    except OSError:
        return None
    unchanged = all(entry.get(key) == value for key, value in stamp.items())
    return entry.get("digest") if unchanged else None


def remember_digests(checks) -> None:
    """Record (size, mtime, checksum) of files that just passed verification (``FileCheck``s)."""
    _update_records(
        checks,
        lambda check: {
            "algorithm": check.expected.algorithm,
            "digest": check.actual,
            **file_stamp(check.path),
        },
    )


def record_failures(checks) -> None:
    """Replace the records of files that just failed verification (``FileCheck``s) by records of
    the failure: no later load trusts them (a failure is never read as a pass), and ``cnnlab data
    list`` says FAILED, naming them, until a check of the file passes (:func:`remember_digests`)."""
    _update_records(
        checks,
        lambda check: {
            "algorithm": check.expected.algorithm,
            "failed": True,
            "expected": check.expected.digest,
            "digest": check.actual,
        },
    )


def _update_records(checks, entry_of: Callable[[Any], dict[str, Any]]) -> None:
    by_folder: dict[Path, list] = {}
    for check in checks:
        by_folder.setdefault(check.path.parent, []).append(check)
    for folder, folder_checks in by_folder.items():
        records = _read_records(folder)
        records.update({check.path.name: entry_of(check) for check in folder_checks})
        _write_records(folder, records)


def recorded_failure(path: Path) -> bool:
    """Whether the last check of ``path`` failed (and none has passed since)."""
    return bool(_read_records(path.parent).get(path.name, {}).get("failed"))


def _write_records(folder: Path, records: dict[str, dict[str, Any]]) -> None:
    # A read-only cache only costs a re-hash next time.
    with contextlib.suppress(OSError):
        atomic_write_json(_record_path(folder), {"folder": str(folder.resolve()), "files": records})


def _read_records(folder: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_record_path(folder).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return {}
