"""The user cache: decoded arrays (``.npy``) and records of files already verified.

Decoded datasets live in ``<cache>/decoded/<name>-<fingerprint>/``: one ``.npy`` per split and
array, plus ``meta.json`` (classes, mean, std, verification) written last, so a folder without
``meta.json`` is never trusted. The fingerprint is a hash of the verified source files' checksums,
so a different copy of a dataset (official vs. local manifest) gets its own entry.

Verification records (``<cache>/verified/<hash of the folder path>.json``) hold each source file's
size, modification time and checksum as last verified. A load whose files have the same size and
mtime reuses the recorded checksum instead of re-hashing 180 MB on every run; ``cnnlab data
verify`` always re-hashes. This trusts that a file whose size and mtime are unchanged has unchanged
content, the same trade-off ``make`` and ``rsync`` make.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.atomic import atomic_path, atomic_write_json
from cnnlab.data.paths import DECODED_FOLDER, RECORDS_FOLDER, user_cache_dir

# Bump when the decoding changes, so old caches are not reused.
DECODED_FORMAT = 1
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
        arrays = {
            split: {array: np.load(folder / f"{split}_{array}.npy") for array in ARRAYS}
            for split in meta["splits"]
            if splits is None or split in splits
        }
    except (OSError, ValueError, KeyError, EOFError):
        return None  # a damaged cache is only a cache: decode again
    return Decoded(arrays, meta)


def save_decoded(name: str, key: str, decoded: Decoded) -> None:
    """Write the arrays, each atomically, then ``meta.json`` last, which marks the entry complete."""
    folder = decoded_dir(name, key)
    for split, arrays in decoded.arrays.items():
        for array in ARRAYS:
            with atomic_path(folder / f"{split}_{array}.npy") as tmp, open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(arrays[array]))
    atomic_write_json(folder / "meta.json", {**decoded.meta, "splits": list(decoded.arrays)})


def _record_path(folder: Path) -> Path:
    key = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:20]
    return user_cache_dir() / RECORDS_FOLDER / f"{key}.json"


def file_stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def recorded_digest(path: Path, algorithm: str) -> str | None:
    """The checksum recorded for ``path`` if the file is unchanged since, else None."""
    entry = _read_records(path.parent).get(path.name)
    if not entry or entry.get("algorithm") != algorithm:
        return None
    try:
        stamp = file_stamp(path)
    except OSError:
        return None
    unchanged = stamp["size"] == entry.get("size") and stamp["mtime_ns"] == entry.get("mtime_ns")
    return entry.get("digest") if unchanged else None


def remember_digests(checks) -> None:
    """Record (size, mtime, checksum) of files that just passed verification (``FileCheck``s)."""
    by_folder: dict[Path, list] = {}
    for check in checks:
        by_folder.setdefault(check.path.parent, []).append(check)
    for folder, folder_checks in by_folder.items():
        records = _read_records(folder)
        for check in folder_checks:
            records[check.path.name] = {
                "algorithm": check.expected.algorithm,
                "digest": check.actual,
                **file_stamp(check.path),
            }
        # A read-only cache only costs a re-hash next time.
        with contextlib.suppress(OSError):
            atomic_write_json(_record_path(folder), {"folder": str(folder.resolve()), "files": records})


def _read_records(folder: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_record_path(folder).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return {}
