"""The python-pickle format of CIFAR-10 and CIFAR-100, read into numpy arrays.

Each batch file is a pickle (written by Python 2) of a dict with ``b"data"`` (uint8, N x 3072:
the red, green and blue 32x32 planes of each image) and ``b"labels"`` (CIFAR-10) or
``b"fine_labels"`` (CIFAR-100). The files are read either from the extracted folder or directly
from the official ``.tar.gz`` (members are looked up by their exact names and never extracted,
so an archive with ``../`` paths or links cannot write anywhere).

Pickles can run code when loaded, so the unpickler here only allows the few numpy functions that
rebuild an array; anything else is refused.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from cnnlab.errors import DataError

_IMAGE_SHAPE = (3, 32, 32)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles from Python 3 store bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        if module.startswith("numpy") and name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct, any version
        return super().find_class(module, name)


def unpickle(data: bytes, where: str) -> dict:
    """Load one CIFAR pickle (bytes keys, as the official Python-2 files have)."""
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(
            f"{where} is not a readable CIFAR batch ({exc}). It is truncated, corrupt or not a "
            "CIFAR file; put the official file back or download the dataset again."
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a CIFAR batch: it holds a {type(obj).__name__}, not a dict.")
    return obj


def decode_batches(batches: Iterable[tuple[str, dict]], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Stack batches into images uint8 (N, 3, 32, 32) and labels int64 (N,)."""
    images, labels = [], []
    for where, batch in batches:
        data, batch_labels = batch.get(b"data"), batch.get(label_key)
        if not isinstance(data, np.ndarray) or batch_labels is None:
            raise DataError(f"{where} lacks the {b'data'!r} or {label_key!r} entry of a CIFAR batch.")
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != int(np.prod(_IMAGE_SHAPE)):
            raise DataError(f"{where} has data of shape {data.shape} {data.dtype}, expected (N, 3072) uint8.")
        if len(batch_labels) != len(data):
            raise DataError(f"{where} has {len(data)} images but {len(batch_labels)} labels.")
        images.append(data.reshape(-1, *_IMAGE_SHAPE))
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def label_names(meta: dict, key: bytes, where: str) -> list[str]:
    names = meta.get(key)
    if not isinstance(names, list):
        raise DataError(f"{where} lacks the {key!r} list of class names.")
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


class CifarFiles:
    """Reads named files of a CIFAR dataset from its folder, or from the official archive in it."""

    def __init__(self, folder: Path, archive: str | None = None):
        self.folder, self.archive = folder, archive
        self._tar: tarfile.TarFile | None = None

    def __enter__(self) -> CifarFiles:
        if self.archive:
            path = self.folder / self.archive
            try:
                self._tar = tarfile.open(path, "r:gz")
            except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                raise DataError(f"{path} is not a readable .tar.gz archive ({exc}).") from exc
        return self

    def __exit__(self, *exc_info) -> None:
        if self._tar is not None:
            self._tar.close()

    def read(self, name: str) -> tuple[str, dict]:
        """Unpickle ``name`` (a path like ``cifar-10-batches-py/data_batch_1``)."""
        if self._tar is None:
            path = self.folder / name
            try:
                return str(path), unpickle(path.read_bytes(), str(path))
            except OSError as exc:
                raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        where = f"{self.folder / self.archive}:{name}"
        return where, unpickle(self._read_member(name, where), where)

    def _read_member(self, name: str, where: str) -> bytes:
        try:
            member = self._tar.getmember(name)
            if not member.isfile():  # a link could point anywhere; the official members are files
                raise DataError(f"{where} is not a regular file in the archive.")
            return self._tar.extractfile(member).read()
        except KeyError:
            raise DataError(
                f"{self.folder / self.archive} has no member {name}: it is not the official archive."
            ) from None
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{where} cannot be read: the archive is truncated or corrupt ({exc}).") from exc


# Per meta file: the key of the labels in each batch, and of the class names in the meta file.
_KEYS = {"batches.meta": (b"labels", b"label_names"), "meta": (b"fine_labels", b"fine_label_names")}


def read_cifar(
    folder: Path, archive: str | None, meta_file: str, split_files: dict[str, tuple[str, ...]]
) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Class names and {split: (images, labels)} of a CIFAR dataset in ``folder``."""
    label_key, names_key = _KEYS[Path(meta_file).name]
    with CifarFiles(folder, archive) as files:
        where, meta = files.read(meta_file)
        classes = label_names(meta, names_key, where)
        splits = {
            split: decode_batches((files.read(name) for name in names), label_key)
            for split, names in split_files.items()
        }
    return classes, splits
