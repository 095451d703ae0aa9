"""Fixtures of the fault suite: the tiny, registered datasets of the data tests, and ways to damage
a file that a careless check would not notice (same size, same modification time)."""

from __future__ import annotations

import os
from pathlib import Path

from ..data.conftest import cache_dir, no_env_data, tiny_mnist  # noqa: F401  (fixtures)
from ..experiments.conftest import fixed_speed, tiny_experiment  # noqa: F401  (fixtures)


def flip_keeping_stamp(path: Path, offset: int | None = None) -> None:
    """Flip one byte of ``path`` (the middle one by default), then put its modification time back,
    so size and mtime are exactly those of the original file."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
