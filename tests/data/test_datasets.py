import shutil

import numpy as np
import pytest
import torch

from cnnlab.data import datasets, load_dataset, split_validation
from cnnlab.data.cache import decoded_dir
from cnnlab.errors import ChecksumError, ConfigError, DataError, UnknownNameError

from .conftest import sha256_of, tar_folder


def test_tiny_mnist_loads_with_shapes_classes_and_exact_train_stats(tiny_mnist):
    root, spec, arrays = tiny_mnist
    train = load_dataset("tiny-mnist", data_dir=root)
    assert train.images.shape == (20, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and train.labels.tolist() == arrays["train_labels"].tolist()
    assert train.input_shape == (1, 28, 28) and train.num_classes == 10 and train.in_channels == 1
    assert train.verification == "official" and train.location == str(root / "tiny-mnist")
    pixels = arrays["train_images"].astype(np.float64) / 255
    assert train.mean == pytest.approx([pixels.mean()], abs=1e-12)
    assert train.std == pytest.approx([pixels.std()], abs=1e-12)
    test = load_dataset("tiny-mnist", "test", data_dir=root)
    assert len(test) == 10 and test.mean == train.mean  # test batches use the train statistics
    assert np.array_equal(test.images[:, 0].numpy(), arrays["test_images"])


def test_second_load_comes_from_the_cache(tiny_mnist, monkeypatch):
    root, _, _ = tiny_mnist
    first = load_dataset("tiny-mnist", data_dir=root)
    monkeypatch.setattr(datasets, "decode", lambda *a: pytest.fail("decoded again instead of cached"))
    second = load_dataset("tiny-mnist", data_dir=root)
    assert torch.equal(first.images, second.images) and second.std == first.std


def test_subset_keeps_first_images_and_train_stats(tiny_mnist):
    root, _, arrays = tiny_mnist
    full = load_dataset("tiny-mnist", data_dir=root)
    small = load_dataset("tiny-mnist", data_dir=root, subset=7)
    assert len(small) == 7 and torch.equal(small.images, full.images[:7]) and small.mean == full.mean
    assert len(full.subset(1000)) == 20
    with pytest.raises(ConfigError):
        full.subset(0)


def test_flipped_byte_is_refused_with_file_and_checksums(tiny_mnist):
    root, spec, _ = tiny_mnist
    path = root / "tiny-mnist" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[-9] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        load_dataset("tiny-mnist", data_dir=root)
    message = str(info.value)
    assert str(path) in message and spec.file(path.name).md5 in message
    assert "cnnlab data download tiny-mnist" in message


def test_local_manifest_copy_with_truncated_gzip_is_a_decode_error(tiny_mnist):
    root, _, _ = tiny_mnist
    folder = root / "tiny-mnist"
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    names = [p.name for p in sorted(folder.iterdir())]
    (folder / "SHA256SUMS").write_text("".join(f"{sha256_of(folder / n)}  {n}\n" for n in names))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is truncated or corrupt"):
        load_dataset("tiny-mnist", data_dir=root)


def test_a_manifest_copy_gets_its_own_cache_entry(tiny_mnist):
    root, _, _ = tiny_mnist
    folder = root / "tiny-mnist"
    official = load_dataset("tiny-mnist", data_dir=root)
    names = [p.name for p in sorted(folder.iterdir())]
    (folder / "SHA256SUMS").write_text("".join(f"{sha256_of(folder / n)}  {n}\n" for n in names))
    local = load_dataset("tiny-mnist", data_dir=root)
    assert local.verification == "local manifest" and official.verification == "official"
    entries = sorted(p.name for p in decoded_dir("tiny-mnist", "x").parent.iterdir())
    assert len(entries) == 2 and all(e.startswith("tiny-mnist-") for e in entries)


def test_cifar_archive_is_accepted_and_verified_as_official(tiny_cifar10, tmp_path):
    root, spec, arrays = tiny_cifar10
    shutil.rmtree(root / "tiny-cifar10")
    (root / "tiny-cifar10").mkdir()
    shutil.copy(tmp_path / "cifar-10-python.tar.gz", root / "tiny-cifar10")
    train = load_dataset("tiny-cifar10", data_dir=root)
    assert train.images.shape == (20, 3, 32, 32) and train.verification == "official"
    assert np.array_equal(train.images.numpy(), arrays["train_images"])
    assert train.classes == list(spec.classes)


def test_missing_files_offline_say_where_and_which_names(tiny_mnist, tmp_path, monkeypatch):
    _, spec, _ = tiny_mnist
    empty = tmp_path / "empty"
    (empty / "tiny-mnist").mkdir(parents=True)
    (empty / "tiny-mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        load_dataset("tiny-mnist", data_dir=empty)
    message = str(info.value)
    assert "with a data directory given, cnnlab uses no other copy" in message
    lacks = "(--data-dir) is incomplete: it lacks train-labels-idx1-ubyte.gz"
    assert f"{empty / 'tiny-mnist'} {lacks}" in message
    assert f"Put the official files into {empty / 'tiny-mnist'}/" in message
    assert all(f.name in message for f in spec.files)
    monkeypatch.delenv("CNNLAB_OFFLINE")
    with pytest.raises(DataError, match="downloading is off"):
        load_dataset("tiny-mnist", data_dir=tmp_path / "nowhere", download=False)


def test_shipped_mnist_is_used_when_nothing_else_is_there(tmp_path, cache_dir, no_env_data, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    test = load_dataset("mnist", "test", data_dir=tmp_path / "nothing")
    assert test.location.endswith("mnist_files") and test.verification == "official"
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.class_counts()[:3] == [980, 1135, 1032]


def test_unknown_names_and_splits():
    with pytest.raises(UnknownNameError, match="Did you mean 'cifar10'.*image folder"):
        load_dataset("cifar-10")
    with pytest.raises(UnknownNameError, match="Unknown split 'valid'"):
        load_dataset("mnist", "valid")


def test_split_validation_is_a_seeded_stratified_partition(tiny_mnist):
    root, _, _ = tiny_mnist
    data = load_dataset("tiny-mnist", data_dir=root)  # 20 images, 2 per class
    train, val = split_validation(data, 0.5, seed=3)
    assert (len(train), len(val)) == (10, 10) and val.split == "val" and train.split == "train"
    assert val.class_counts() == [1] * 10 and train.mean == data.mean
    key = lambda d: {bytes(img.numpy()) for img in d.images}  # noqa: E731
    assert key(train) | key(val) == key(data) and not key(train) & key(val)
    again, _ = split_validation(data, 0.5, seed=3)
    other, _ = split_validation(data, 0.5, seed=4)
    assert torch.equal(again.images, train.images) and not torch.equal(other.images, train.images)
    plain_train, plain_val = split_validation(data, 0.25, seed=0, stratify=False)
    assert (len(plain_train), len(plain_val)) == (15, 5)


def test_split_validation_rejects_impossible_fractions(tiny_mnist):
    data = load_dataset("tiny-mnist", data_dir=tiny_mnist[0])
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ConfigError):
            split_validation(data, fraction)
    with pytest.raises(ConfigError, match="leaves 0 for validation"):
        split_validation(data.subset(10), 0.01)


def test_archive_and_folder_in_one_place_prefers_the_folder(tiny_cifar10, tmp_path):
    root, _, _ = tiny_cifar10
    tar_folder(root / "tiny-cifar10", "cifar-10-batches-py", root / "tiny-cifar10" / "cifar-10-python.tar.gz")
    train = load_dataset("tiny-cifar10", data_dir=root)
    assert train.location == str(root / "tiny-cifar10") and len(train) == 20
