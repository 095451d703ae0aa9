"""The IDX format of MNIST and Fashion-MNIST (gzipped), read into numpy arrays.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian int32
sizes, then the data, row-major. The four datasets cnnlab reads use type 0x08 (unsigned byte):
images have magic 0x00000803 (N, rows, cols) and labels 0x00000801 (N,).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from cnnlab.errors import DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read a (gzipped or raw) IDX file of unsigned bytes; check its magic and its length."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise _corrupt(path, f"it is only {len(data)} bytes long, too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        what = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"{path} is not an IDX {what} file: its magic number is 0x{magic:08X}, expected "
            f"0x{expected_magic:08X}. The file is corrupt or is not the file its name says (images "
            "and labels swapped?). Put the official file back or download it again."
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_bytes = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected_bytes:
        raise _corrupt(
            path, f"its header promises {expected_bytes} bytes of shape {shape}, it has {len(data)}"
        )
    # A bytearray makes the array writable, so torch.from_numpy can share it without a warning.
    return np.frombuffer(bytearray(data[header:]), dtype=np.uint8).reshape(shape)


def read_idx_images(path: Path) -> np.ndarray:
    """Images as uint8 (N, 1, H, W)."""
    images = read_idx(path, IMAGES_MAGIC)
    return images[:, None, :, :]


def read_idx_labels(path: Path) -> np.ndarray:
    return read_idx(path, LABELS_MAGIC).astype(np.int64)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _corrupt(path, f"it is not a complete gzip file ({exc})") from exc


def _corrupt(path: Path, why: str) -> DataError:
    return DataError(
        f"{path} is truncated or corrupt: {why}. Delete it and run `cnnlab data download` for the "
        "dataset, or copy the official file there again."
    )
