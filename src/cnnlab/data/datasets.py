"""Loading datasets by name or folder: :func:`load_dataset`, :func:`split_validation`.

The dataset type itself, :class:`~cnnlab.data.image_dataset.ImageDataset`, and the builders that
turn decoded arrays into one live in :mod:`cnnlab.data.image_dataset`, below this module and
:mod:`cnnlab.data.image_folder`, so that neither imports the other to build a dataset.

A load finds the files (see :mod:`cnnlab.data.paths`), downloads them if allowed and needed,
verifies them (:mod:`cnnlab.data.verify`), and decodes them once into ``.npy`` arrays in the user
cache (:mod:`cnnlab.data.cache`); later loads read those arrays back in a fraction of a second.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch

from cnnlab.data import cache, paths, verify
from cnnlab.data.image_dataset import ImageDataset, dataset_from_decoded, decoded_with_stats
from cnnlab.data.registry import DATASETS, SPLITS, DatasetSpec, get_spec
from cnnlab.errors import ConfigError, DataError, UnknownNameError


def load_dataset(
    name_or_path: str | os.PathLike[str],
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    subset: int | None = None,
    progress: bool = True,
    skip_bad_images: bool = False,
    image_size: int | tuple[int, int] | None = None,
) -> ImageDataset:
    """Load a split of a named dataset (``mnist``, ``fashion-mnist``, ``cifar10``, ``cifar100``) or
    of an image folder (``root/<class>/*.png|jpg``, optionally ``root/train/<class>/...``).

    Files are looked for in ``data_dir``, ``$CNNLAB_DATA`` and the user cache (MNIST also in the copy
    shipped with cnnlab), and downloaded when missing unless ``download=False`` or
    ``CNNLAB_OFFLINE=1``. ``subset`` keeps the first N images. ``skip_bad_images`` and
    ``image_size`` apply to image folders only (see :mod:`cnnlab.data.image_folder`).
    """
    if is_folder_path(name_or_path):
        from cnnlab.data.image_folder import load_image_folder

        dataset = load_image_folder(
            Path(name_or_path), split, skip_bad_images=skip_bad_images, image_size=image_size
        )
    else:
        spec = get_spec_or_folder_hint(str(name_or_path))
        if split not in SPLITS:
            raise UnknownNameError("split", split, SPLITS)
        dataset = _load_named(spec, split, data_dir, download, progress)
    return dataset.subset(subset) if subset is not None else dataset


def get_spec_or_folder_hint(name: str) -> DatasetSpec:
    """The spec of a named dataset; the error for an unknown name also mentions image folders."""
    try:
        return get_spec(name)
    except UnknownNameError as exc:
        exc.args = (f"{exc.args[0]} Or give the path of an image folder: <folder>/<class>/*.png|jpg.",)
        raise exc from None


def is_folder_path(name_or_path: str | os.PathLike[str]) -> bool:
    """A path (not a dataset name): it names an existing folder, or it has a path separator."""
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or os.sep in text or (os.altsep and os.altsep in text):
        return True
    return text.lower() not in DATASETS and Path(text).is_dir()


def _load_named(spec: DatasetSpec, split: str, data_dir, download: bool, progress: bool) -> ImageDataset:
    location = locate(spec, data_dir, download=download, progress=progress)
    checks = verify.check_files(location.folder, official_checksums(spec, location))
    verify.require_ok(checks, _mismatch_hint(spec, location))
    key = verify.fingerprint_of(checks)
    decoded = cache.load_decoded(spec.name, key, splits=[split])
    if decoded is None:
        decoded = decode(spec, location, verify.verification_label({c.expected.source for c in checks}))
        cache.save_decoded(spec.name, key, decoded)
    return dataset_from_decoded(decoded, split, location=str(location.folder))


def locate(
    spec: DatasetSpec, data_dir=None, *, download: bool = True, progress: bool = True
) -> paths.Location:
    """The folder holding the dataset's files; downloads them when allowed and missing."""
    found = paths.find_dataset(spec, data_dir)
    if data_dir is not None:
        _require_complete_explicit_folder(spec, found, paths.download_root(data_dir) / spec.name)
    if found.location is not None:
        return found.location
    if not download or paths.offline():
        raise DataError(missing_files_message(spec, found, data_dir))
    from cnnlab.data.download import download_dataset

    return download_dataset(spec, paths.download_root(data_dir) / spec.name, progress=progress)


def _require_complete_explicit_folder(spec: DatasetSpec, found: paths.SearchResult, folder: Path) -> None:
    """A data directory the user named that holds part of a dataset is an error, never a reason to
    fall back to another copy (``$CNNLAB_DATA``, the user cache, the shipped MNIST) unnoticed."""
    missing = found.incomplete.get(folder)
    if missing:
        first = (
            f"{folder} (--data-dir) is incomplete: it lacks {', '.join(missing)}; with a data "
            "directory given, cnnlab uses no other copy."
        )
        raise DataError(f"{first} {_where_to_put(spec, folder)}")
    elsewhere = found.location
    if folder.is_dir() and elsewhere is not None and elsewhere.folder != folder:
        # The dataset's folder is there but empty: using the copy found elsewhere would train on
        # data the user did not name (a directory without the dataset's folder is only searched first).
        raise DataError(
            f"{folder} (--data-dir) holds none of the {spec.title} files; with a data directory "
            f"given, cnnlab uses no other copy (one is in {elsewhere.folder}). Put the official files "
            f"into {folder}/ ({', '.join(f.name for f in spec.files)}), or remove the empty folder "
            "to use the other copy."
        )


def official_checksums(spec: DatasetSpec, location: paths.Location) -> dict[str, str | None]:
    """{file relative to the dataset folder: official MD5} for the files the location is read from."""
    if location.archive:
        return {location.archive: spec.archive.md5}
    return {name: spec.file(name).md5 for name in location.files}


def missing_files_message(spec: DatasetSpec, found: paths.SearchResult, data_dir=None) -> str:
    """Where cnnlab looked, what is missing, where to put which files, and how to download them."""
    why = "CNNLAB_OFFLINE=1 is set" if paths.offline() else "downloading is off"
    looked = "; ".join(f"{folder} ({origin})" for folder, origin in found.looked_in)
    lines = [f"{spec.title} ({spec.name}) is not on this machine, and {why}. Looked in: {looked}."]
    lines += [
        f"{folder} is incomplete: it lacks {', '.join(missing)}."
        for folder, missing in found.incomplete.items()
    ]
    lines.append(_where_to_put(spec, paths.download_root(data_dir) / spec.name))
    return " ".join(lines)


def _where_to_put(spec: DatasetSpec, where: Path) -> str:
    names = ", ".join(f.name for f in spec.files)
    put = f"Put the official files into {where}/ with these names: {names}"
    if spec.archive:
        put += f" (or just the archive {spec.archive.name}, from {spec.mirrors[0]}{spec.archive.name})"
    return put + f"; or run `cnnlab data download {spec.name}` with network access."


def _mismatch_hint(spec: DatasetSpec, location: paths.Location) -> str:
    return (
        f"Delete {location.folder} and run `cnnlab data download {spec.name}` (or copy the official "
        f"files there again). If this is a deliberately modified copy, list its SHA-256 sums in "
        f"{location.folder / verify.MANIFEST_NAME} (sha256sum format) to verify it as a local copy."
    )


def decode(spec: DatasetSpec, location: paths.Location, verification: str) -> cache.Decoded:
    """Read the source files of every split into uint8 arrays; compute train mean and std."""
    if spec.reader == "idx":
        from cnnlab.data.idx import read_idx_images, read_idx_labels

        classes = list(spec.classes)
        arrays = {
            split: {
                "images": read_idx_images(location.folder / images),
                "labels": read_idx_labels(location.folder / labels),
            }
            for split, (images, labels) in spec.split_files.items()
        }
    else:
        from cnnlab.data.cifar import read_cifar

        classes, splits = read_cifar(location.folder, location.archive, spec.files[0].name, spec.split_files)
        arrays = {split: {"images": im, "labels": lb} for split, (im, lb) in splits.items()}
    return decoded_with_stats(spec.name, arrays, classes, verification)


def split_validation(
    dataset: ImageDataset, fraction: float, seed: int = 0, *, stratify: bool = True
) -> tuple[ImageDataset, ImageDataset]:
    """Split off a random ``fraction`` of ``dataset`` as a validation set: ``(train, val)``.

    The split is a pure function of ``(len(dataset), labels, fraction, seed)``. With ``stratify``
    each class contributes the same fraction, so a small validation set still has every class.
    Both parts keep the original order of their images and the mean and std of the full train split.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"The validation fraction must be between 0 and 1 (exclusive), got {fraction}.")
    generator = torch.Generator().manual_seed(seed)
    groups = [torch.nonzero(dataset.labels == c).flatten() for c in range(dataset.num_classes)]
    if not stratify:
        groups = [torch.arange(len(dataset))]
    val_parts = []
    for members in groups:
        take = round(fraction * len(members))
        val_parts.append(members[torch.randperm(len(members), generator=generator)[:take]])
    val_index = torch.cat(val_parts).sort().values
    if len(val_index) == 0 or len(val_index) == len(dataset):
        raise ConfigError(
            f"A validation fraction of {fraction} of {len(dataset)} images leaves "
            f"{len(val_index)} for validation and {len(dataset) - len(val_index)} for training; "
            "both need at least one image. Choose another fraction or a larger subset."
        )
    keep = torch.ones(len(dataset), dtype=torch.bool)
    keep[val_index] = False
    train_index = torch.nonzero(keep).flatten()
    return _take(dataset, train_index, dataset.split), _take(dataset, val_index, "val")


def _take(dataset: ImageDataset, index: torch.Tensor, split: str) -> ImageDataset:
    return replace(dataset, split=split, images=dataset.images[index], labels=dataset.labels[index])
