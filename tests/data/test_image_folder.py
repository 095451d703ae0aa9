import numpy as np
import pytest
from PIL import Image

from cnnlab.data import load_dataset
from cnnlab.data.image_folder import DataWarning
from cnnlab.errors import DataError, UnknownNameError


def write_png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def make_folder(root, per_class=3, size=(12, 10), mode="RGB"):
    """root/<class>/<i>.png; pixel value encodes class and index, so the order can be checked."""
    for label, name in enumerate(["zebra", "apple"]):
        for i in range(per_class):
            value = 10 * (label + 1) + i
            shape = size if mode == "L" else (*size, 3)
            write_png(root / name / f"{i}.png", np.full(shape, value, np.uint8))
    return root


def test_image_folder_loads_classes_sorted_with_labels_from_folders(tmp_path, cache_dir):
    root = make_folder(tmp_path / "pets")
    data = load_dataset(root)
    assert data.classes == ["apple", "zebra"] and data.name == "pets"
    assert data.images.shape == (6, 3, 12, 10) and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.images[:, 0, 0, 0].tolist() == [20, 21, 22, 10, 11, 12]
    assert data.mean[0] == pytest.approx(np.mean([20, 21, 22, 10, 11, 12]) / 255)
    assert data.verification == "unverified" and data.location == str(root)
    assert len(load_dataset(str(root), subset=2)) == 2  # a str path works too


def test_grayscale_folder_has_one_channel(tmp_path, cache_dir):
    data = load_dataset(make_folder(tmp_path / "g", mode="L"))
    assert data.in_channels == 1


def test_train_and_test_subfolders_are_splits(tmp_path, cache_dir):
    make_folder(tmp_path / "ds" / "train", per_class=3)
    make_folder(tmp_path / "ds" / "test", per_class=1)
    train, test = load_dataset(tmp_path / "ds"), load_dataset(tmp_path / "ds", "test")
    assert (len(train), len(test)) == (6, 2) and test.mean == train.mean
    with pytest.raises(UnknownNameError, match="Unknown split 'val'"):
        load_dataset(tmp_path / "ds", "val")


def test_other_sizes_are_resized_with_a_warning(tmp_path, cache_dir):
    root = make_folder(tmp_path / "mixed")
    write_png(root / "apple" / "big.png", np.zeros((30, 40, 3), np.uint8))
    with pytest.warns(DataWarning, match="1 of 7 images are not 10x12"):
        data = load_dataset(root)
    assert data.images.shape == (7, 3, 12, 10)
    with pytest.warns(DataWarning, match="resized"):  # repeated when the cache is used
        load_dataset(root)
    assert load_dataset(root, image_size=8).image_size == (8, 8)


def test_folder_without_images_is_an_error(tmp_path, cache_dir):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    (tmp_path / "empty" / "cats" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"has class folders \['cats'\] but no images"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "flat").mkdir()
    write_png(tmp_path / "flat" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="no class folders and no images"):
        load_dataset(tmp_path / "flat")
    with pytest.raises(DataError, match="No folder"):
        load_dataset(tmp_path / "missing" / "folder")


def test_unreadable_image_fails_or_is_skipped_by_flag(tmp_path, cache_dir):
    root = make_folder(tmp_path / "broken")
    bad = root / "zebra" / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DataError, match=f"1 image\\(s\\) cannot be read: {bad}") as info:
        load_dataset(root)
    assert "skip_bad_images=True" in str(info.value)
    with pytest.warns(DataWarning, match=f"Skipped 1 unreadable image\\(s\\): {bad}"):
        data = load_dataset(root, skip_bad_images=True)
    assert len(data) == 6
