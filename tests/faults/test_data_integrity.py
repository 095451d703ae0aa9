"""A dataset file reaches a run from the data directory, ``$CNNLAB_DATA`` or the user cache, and
through two caches (decoded arrays, records of verified files). For each, a corruption that keeps
size and modification time is caught, before and after a `cnnlab data verify`: a file that fails
verification is never used, and never recorded as verified."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.data import catalog, load_dataset
from cnnlab.data.cache import decoded_dir
from cnnlab.data.paths import RECORDS_FOLDER
from cnnlab.errors import ChecksumError, DataError

from .conftest import flip_keeping_stamp

IMAGES = "train-images-idx3-ubyte.gz"
ORIGINS = ["--data-dir", "$CNNLAB_DATA", "user cache"]


@pytest.fixture(params=ORIGINS)
def placed(request, tiny_mnist, cache_dir, monkeypatch):
    """The tiny MNIST placed where one origin finds it; returns (data_dir argument, dataset folder)."""
    root, _, _ = tiny_mnist
    if request.param == "--data-dir":
        return root, root / "tiny-mnist"
    if request.param == "$CNNLAB_DATA":
        monkeypatch.setenv("CNNLAB_DATA", str(root))
        return None, root / "tiny-mnist"
    shutil.copytree(root / "tiny-mnist", cache_dir / "tiny-mnist", copy_function=shutil.copy2)
    shutil.rmtree(root / "tiny-mnist")
    return None, cache_dir / "tiny-mnist"


def test_a_corrupt_file_is_refused_before_any_verify(placed):
    data_dir, folder = placed
    assert load_dataset("tiny-mnist", data_dir=data_dir).verification == "official"  # fills both caches
    flip_keeping_stamp(folder / IMAGES)
    with pytest.raises(ChecksumError, match=IMAGES):
        load_dataset("tiny-mnist", data_dir=data_dir)


def test_a_file_that_failed_verify_is_never_used_or_called_verified(placed):
    data_dir, folder = placed
    load_dataset("tiny-mnist", data_dir=data_dir)
    catalog.verify_dataset("tiny-mnist", data_dir)  # records every file as verified
    flip_keeping_stamp(folder / IMAGES)
    report = catalog.verify_dataset("tiny-mnist", data_dir)
    assert not report.ok and [c.relative for c in report.checks if not c.ok] == [IMAGES]
    with pytest.raises(ChecksumError, match=IMAGES):
        load_dataset("tiny-mnist", data_dir=data_dir)
    assert catalog.dataset_status(catalog.get_spec("tiny-mnist"), data_dir).verified != "official"


def test_cli_verify_then_train_refuses_the_corrupt_file(tiny_mnist, capsys):
    root, _, _ = tiny_mnist
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 0
    flip_keeping_stamp(root / "tiny-mnist" / IMAGES)
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 1
    capsys.readouterr()
    code = main(
        [
            "train",
            "--model",
            "fc2layer",
            "--dataset",
            "tiny-mnist",
            "--data-dir",
            str(root),
            "--epochs",
            "1",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "is corrupt or not the expected file" in err and IMAGES in err


def test_a_damaged_decoded_array_is_decoded_again(tiny_mnist):
    root, _, arrays = tiny_mnist
    first = load_dataset("tiny-mnist", data_dir=root)
    entry = next(decoded_dir("tiny-mnist", "x").parent.iterdir())
    flip_keeping_stamp(entry / "train_images.npy", offset=-5)  # a pixel, not the .npy header
    again = load_dataset("tiny-mnist", data_dir=root)
    assert np.array_equal(again.images[:, 0].numpy(), arrays["train_images"])
    assert np.array_equal(again.images.numpy(), first.images.numpy())


def test_a_damaged_verified_files_record_never_passes_a_corrupt_file(tiny_mnist, cache_dir):
    root, _, _ = tiny_mnist
    load_dataset("tiny-mnist", data_dir=root)
    record = next((cache_dir / RECORDS_FOLDER).iterdir())
    text = record.read_text()
    digest_at = text.index('"digest": "') + len('"digest": "')
    flip_keeping_stamp(record, offset=digest_at)  # a record that no longer matches the official sum
    assert load_dataset("tiny-mnist", data_dir=root).verification == "official"  # re-hashed, fine
    flip_keeping_stamp(root / "tiny-mnist" / IMAGES)
    with pytest.raises(ChecksumError):
        load_dataset("tiny-mnist", data_dir=root)


def test_an_explicit_data_dir_missing_one_file_is_an_error_naming_it(tmp_path, cache_dir, no_env_data):
    folder = tmp_path / "data" / "mnist"
    shipped = Path(catalog.paths.SHIPPED_MNIST)
    folder.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shutil.copy2(shipped / name, folder / name)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz") as info:
        load_dataset("mnist", data_dir=tmp_path / "data", download=False)
    assert str(folder) in str(info.value) and "shipped" not in str(info.value).split("Looked")[0]
    assert load_dataset("mnist", "test").location == str(shipped)  # no directory given: shipped copy


def _image_folder(root: Path, counts: dict[str, int]) -> Path:
    from PIL import Image

    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("L", (8, 8), color=i * 40).save(root / name / f"{i}.png")
    return root


def test_an_empty_class_folder_in_train_is_refused_naming_it(tmp_path, capsys):
    folder = _image_folder(tmp_path / "shapes", {"circle": 3, "square": 3, "triangle": 0})
    with pytest.raises(DataError, match=r"Class folder .*triangle has no images"):
        load_dataset(folder)
    assert main(["data", "show", str(folder), "--out", str(tmp_path / "grid.png")]) == 1
    err = capsys.readouterr().err
    assert "triangle has no images" in err and "Traceback" not in err


def test_an_empty_class_folder_in_test_is_one_readable_warning_line(tmp_path, capsys):
    folder = tmp_path / "split-shapes"
    _image_folder(folder / "train", {"circle": 3, "square": 3})
    _image_folder(folder / "test", {"circle": 2, "square": 0})
    assert main(["data", "show", str(folder), "--split", "test", "--out", str(tmp_path / "g.png")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "square" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning: Class folder ") and "square has no images" in warnings[0]
    assert ".py:" not in warnings[0] and "DataWarning" not in warnings[0]


def _listed_state(capsys, root: Path) -> str:
    capsys.readouterr()  # what came before
    assert main(["data", "list", "--data-dir", str(root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    return next(row for row in rows if row["name"] == "tiny-mnist")["verified"]


def test_data_list_says_failed_naming_the_file_after_a_failed_verify_until_one_passes(tiny_mnist, capsys):
    root, _, _ = tiny_mnist
    images = root / "tiny-mnist" / IMAGES
    good = images.read_bytes()
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 0
    assert _listed_state(capsys, root) == "official"
    flip_keeping_stamp(images)
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 1
    assert _listed_state(capsys, root) == f"FAILED ({IMAGES})"
    with pytest.raises(ChecksumError):  # the failure is a record, never a pass
        load_dataset("tiny-mnist", data_dir=root)
    assert _listed_state(capsys, root) == f"FAILED ({IMAGES})"
    images.write_bytes(good)  # restored: still FAILED until a verify passes
    assert _listed_state(capsys, root) == f"FAILED ({IMAGES})"
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 0
    assert _listed_state(capsys, root) == "official"


def test_an_explicit_data_dir_whose_dataset_folder_is_empty_is_an_error_naming_it(
    tmp_path, cache_dir, no_env_data
):
    """Tried as a user: ``--data-dir dd`` with an empty ``dd/mnist`` trained on the shipped copy
    without a word. A directory without the dataset's folder is only searched first."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    with pytest.raises(DataError, match="holds none of the") as info:
        load_dataset("mnist", data_dir=tmp_path / "data", download=False)
    assert str(folder) in str(info.value) and "t10k-labels-idx1-ubyte.gz" in str(info.value)
    folder.rmdir()  # no mnist folder in it: the shipped copy, as documented ("searched before")
    assert load_dataset("mnist", "test", data_dir=tmp_path / "data", download=False).location == str(
        catalog.paths.SHIPPED_MNIST
    )
