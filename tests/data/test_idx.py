import gzip

import numpy as np
import pytest

from cnnlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx_images, read_idx_labels
from cnnlab.errors import DataError

from .conftest import idx_bytes, write_idx_gz


def test_reads_gzipped_and_raw_idx(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    read = read_idx_images(write_idx_gz(tmp_path / "i.gz", images, IMAGES_MAGIC))
    assert read.shape == (2, 1, 3, 4)
    assert np.array_equal(read[:, 0], images)
    raw = tmp_path / "labels-idx1-ubyte"
    raw.write_bytes(idx_bytes(np.array([3, 1, 4], dtype=np.uint8), LABELS_MAGIC))
    labels = read_idx_labels(raw)
    assert labels.dtype == np.int64 and labels.tolist() == [3, 1, 4]


def test_wrong_magic_names_both_numbers(tmp_path):
    labels_file = write_idx_gz(tmp_path / "train-images-idx3-ubyte.gz", np.zeros(5, np.uint8), LABELS_MAGIC)
    with pytest.raises(DataError, match=r"magic number is 0x00000801, expected 0x00000803") as info:
        read_idx_images(labels_file)
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_truncated_gzip_is_reported(tmp_path):
    path = write_idx_gz(tmp_path / "t.gz", np.zeros((10, 28, 28), np.uint8), IMAGES_MAGIC)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="truncated or corrupt.*not a complete gzip file"):
        read_idx_images(path)


def test_length_disagreeing_with_header_is_reported(tmp_path):
    data = idx_bytes(np.zeros((4, 2, 2), np.uint8), IMAGES_MAGIC)[:-3]
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(DataError, match=r"promises 32 bytes of shape \(4, 2, 2\), it has 29"):
        read_idx_images(path)
