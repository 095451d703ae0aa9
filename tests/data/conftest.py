"""Small datasets in the official file formats, built on the fly, and registered under test names.

The error-path tests use these instead of the real files: a 20-image MNIST or CIFAR takes
milliseconds to write, and can be broken on purpose (a flipped byte, a truncated gzip, ...).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data import registry
from cnnlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path: Path, array: np.ndarray, magic: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(idx_bytes(array, magic), mtime=0))
    return path


def tiny_images(n: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def tiny_labels(n: int, num_classes: int = 10) -> np.ndarray:
    return (np.arange(n) % num_classes).astype(np.uint8)


def write_tiny_mnist(folder: Path, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    """The four IDX files of a tiny MNIST in ``folder``; returns the arrays written."""
    arrays = {
        "train_images": tiny_images(n_train, (28, 28), seed=1),
        "train_labels": tiny_labels(n_train),
        "test_images": tiny_images(n_test, (28, 28), seed=2),
        "test_labels": tiny_labels(n_test),
    }
    for split, prefix in (("train", "train"), ("test", "t10k")):
        write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", arrays[f"{split}_images"], IMAGES_MAGIC)
        write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", arrays[f"{split}_labels"], LABELS_MAGIC)
    return arrays


def cifar_batch_bytes(images: np.ndarray, labels: np.ndarray, label_key: bytes = b"labels") -> bytes:
    batch = {b"batch_label": b"test", label_key: labels.tolist(), b"data": images.reshape(len(images), -1)}
    return pickle.dumps(batch, protocol=2)


CIFAR10_META = pickle.dumps({b"label_names": [c.encode() for c in registry.CIFAR10_CLASSES]}, protocol=2)


def write_tiny_cifar10(folder: Path, per_batch: int = 4) -> dict[str, np.ndarray]:
    """The extracted ``cifar-10-batches-py`` of a tiny CIFAR-10 (5 train batches + test batch)."""
    batches = folder / registry.CIFAR10_FOLDER
    batches.mkdir(parents=True, exist_ok=True)
    (batches / "batches.meta").write_bytes(CIFAR10_META)
    train = [tiny_images(per_batch, (3, 32, 32), seed=10 + i) for i in range(5)]
    labels = tiny_labels(5 * per_batch)
    for i, images in enumerate(train):
        batch_labels = labels[i * per_batch : (i + 1) * per_batch]
        (batches / f"data_batch_{i + 1}").write_bytes(cifar_batch_bytes(images, batch_labels))
    test = tiny_images(per_batch, (3, 32, 32), seed=20)
    (batches / "test_batch").write_bytes(cifar_batch_bytes(test, tiny_labels(per_batch)))
    return {"train_images": np.concatenate(train), "train_labels": labels, "test_images": test}


def tar_folder(folder: Path, member_root: str, archive: Path) -> Path:
    """Pack ``folder/member_root`` into ``archive`` (.tar.gz), as the official archive is packed."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / member_root, arcname=member_root)
    return archive


def add_tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def register_spec(monkeypatch: pytest.MonkeyPatch, spec: registry.DatasetSpec) -> registry.DatasetSpec:
    monkeypatch.setitem(registry.DATASETS, spec.name, spec)
    return spec


def spec_with_checksums_of(base: registry.DatasetSpec, name: str, folder: Path, **changes):
    """``base`` renamed, with the files in ``folder`` as its "official" files (their real MD5s)."""
    files = tuple(dataclasses.replace(f, md5=md5_of(folder / f.name), size=None) for f in base.files)
    return dataclasses.replace(base, name=name, title=f"tiny {base.name}", files=files, **changes)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache of this test's own, so decoded arrays and records start empty."""
    path = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(path))
    return path / "cnnlab"


@pytest.fixture
def no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """No $CNNLAB_DATA and no offline switch: only the folders a test names are searched."""
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.delenv("CNNLAB_OFFLINE", raising=False)


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, no_env_data):
    """A data root with ``tiny-mnist/`` (20 train, 10 test images), registered as a dataset whose
    official MD5s are those of the generated files. Returns (data root, spec, arrays)."""
    root = tmp_path / "data"
    arrays = write_tiny_mnist(root / "tiny-mnist")
    spec = register_spec(
        monkeypatch, spec_with_checksums_of(registry.MNIST, "tiny-mnist", root / "tiny-mnist")
    )
    return root, spec, arrays


@pytest.fixture
def tiny_cifar10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, no_env_data):
    """A data root with ``tiny-cifar10/`` (20 train, 4 test images) in the extracted layout, and
    its official archive's MD5 set to that of a .tar.gz of it. Returns (data root, spec, arrays)."""
    root = tmp_path / "data"
    folder = root / "tiny-cifar10"
    arrays = write_tiny_cifar10(folder)
    archive = tar_folder(folder, registry.CIFAR10_FOLDER, tmp_path / registry.CIFAR10.archive.name)
    spec = spec_with_checksums_of(
        registry.CIFAR10,
        "tiny-cifar10",
        folder,
        archive=dataclasses.replace(registry.CIFAR10.archive, md5=md5_of(archive)),
    )
    return root, register_spec(monkeypatch, spec), arrays
