import os
import pickle
import tarfile

import numpy as np
import pytest

from cnnlab.data.cifar import read_cifar, unpickle
from cnnlab.data.registry import CIFAR10, CIFAR10_FOLDER
from cnnlab.errors import DataError

from .conftest import CIFAR10_META, add_tar_member, cifar_batch_bytes, tar_folder, write_tiny_cifar10


def test_folder_and_archive_decode_to_the_same_arrays(tmp_path):
    arrays = write_tiny_cifar10(tmp_path / "c")
    archive = tar_folder(tmp_path / "c", CIFAR10_FOLDER, tmp_path / "a" / "cifar-10-python.tar.gz")
    meta = CIFAR10.files[0].name
    classes, from_folder = read_cifar(tmp_path / "c", None, meta, CIFAR10.split_files)
    _, from_archive = read_cifar(archive.parent, archive.name, meta, CIFAR10.split_files)
    assert classes == list(CIFAR10.classes)
    images, labels = from_folder["train"]
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8
    assert np.array_equal(images, arrays["train_images"])
    assert labels.tolist() == arrays["train_labels"].tolist()
    for split in ("train", "test"):
        assert all(np.array_equal(a, b) for a, b in zip(from_folder[split], from_archive[split], strict=True))


def test_archive_is_never_extracted_and_traversal_or_links_are_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_tar_member(tar, "../escaped", b"x")
        add_tar_member(tar, f"{CIFAR10_FOLDER}/batches.meta", CIFAR10_META)
        link = tarfile.TarInfo(f"{CIFAR10_FOLDER}/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(DataError, match="data_batch_1 is not a regular file"):
        read_cifar(tmp_path, archive.name, CIFAR10.files[0].name, CIFAR10.split_files)
    assert not (tmp_path.parent / "escaped").exists()
    assert sorted(os.listdir(tmp_path)) == ["evil.tar.gz"]


def test_archive_without_the_official_members_is_reported(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_tar_member(tar, "something/else", b"x")
    with pytest.raises(DataError, match="has no member cifar-10-batches-py/batches.meta"):
        read_cifar(tmp_path, archive.name, CIFAR10.files[0].name, CIFAR10.split_files)


def test_pickle_that_would_run_code_is_refused():
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    with pytest.raises(DataError, match="refused to load"):
        unpickle(pickle.dumps({b"data": Exploit()}, protocol=2), "evil_batch")


def test_truncated_batch_and_wrong_shape_are_reported(tmp_path):
    good = cifar_batch_bytes(np.zeros((2, 3, 32, 32), np.uint8), np.array([0, 1]))
    with pytest.raises(DataError, match="not a readable CIFAR batch"):
        unpickle(good[: len(good) // 2], "half_batch")
    folder = tmp_path / "c"
    write_tiny_cifar10(folder)
    bad = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (folder / CIFAR10_FOLDER / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match=r"shape \(2, 100\) uint8, expected \(N, 3072\)"):
        read_cifar(folder, None, CIFAR10.files[0].name, CIFAR10.split_files)
