"""A folder of the user's own images as a dataset: ``root/<class>/*.png|jpg``.

The class names are the sub-folder names, sorted. A folder may instead hold splits,
``root/train/<class>/...`` and ``root/test/<class>/...`` (and ``val``); the mean and std are always
those of the train split (or of the whole folder when it has no splits).

All images get the same size and channel count: grayscale when every image is grayscale, else
RGB; images of another size than the most common one are resized to it (bilinear), with a
warning. Unreadable images are an error naming them, or, with ``skip_bad_images``, skipped with a
warning. A class folder without images is refused in the train split (the model could never
learn that class) and noted with a warning in a val or test split. Decoded arrays are cached like
the named datasets', keyed by the files' names and stamps (size, mtime, ctime, inode), so a changed
folder is decoded again.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from cnnlab.data import cache, verify
from cnnlab.data.image_dataset import dataset_from_decoded, decoded_with_stats
from cnnlab.errors import DataError, UnknownNameError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SPLIT_FOLDERS = ("train", "val", "test")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


class DataWarning(UserWarning):
    """Something in the data was skipped or changed; the load went on."""


def load_image_folder(root: Path, split: str = "train", *, skip_bad_images: bool = False, image_size=None):
    """Load one split of an image folder as an :class:`~cnnlab.data.image_dataset.ImageDataset`."""
    root = root.expanduser()
    if not root.is_dir():
        raise DataError(f"No folder {root}. An image folder is laid out as <folder>/<class>/*.png|jpg.")
    split_roots = find_splits(root)
    if split not in split_roots:
        raise UnknownNameError("split", split, split_roots)
    files = {s: scan(folder) for s, folder in split_roots.items()}
    notes = _empty_class_notes(files, split_roots)
    classes = files["train"][0]
    for s, (split_classes, _) in files.items():
        if split_classes != classes:
            raise DataError(
                f"{split_roots[s]} has classes {split_classes}, but the train split has {classes}."
            )
    all_files = [path for _, pairs in files.values() for path, _ in pairs]
    verification = _verify_with_manifest(root, all_files)
    key = cache.fingerprint(
        [
            f"{root.resolve()}",
            f"size={image_size}",
            f"skip={skip_bad_images}",
            *(_stamp(path) for path in all_files),
        ]
    )
    name = root.resolve().name
    decoded = cache.load_decoded(f"folder-{name}", key, splits=[split])
    if decoded is None:
        arrays, decoded_notes = read_splits(files, skip_bad_images, image_size)
        decoded = decoded_with_stats(name, arrays, classes, verification)
        decoded.meta["notes"] = notes + decoded_notes
        cache.save_decoded(f"folder-{name}", key, decoded)
    # Repeated on every load, not only the one that decoded, so a cached load does not hide them.
    for note in decoded.meta.get("notes", []):
        warnings.warn(note, DataWarning, stacklevel=3)
    return dataset_from_decoded(decoded, split, location=str(root))


def find_splits(root: Path) -> dict[str, Path]:
    """{split: folder}: the train/val/test sub-folders if there is a train one, else the root as train."""
    present = {s: root / s for s in SPLIT_FOLDERS if (root / s).is_dir()}
    return present if "train" in present else {"train": root}


def scan(folder: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Classes (sorted sub-folder names) and (image path, class index) pairs, in a fixed order."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    pairs = [
        (path, index)
        for index, name in enumerate(classes)
        for path in sorted((folder / name).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
    if not classes or not pairs:
        found = f"class folders {classes} but no" if classes else "no class folders and no"
        raise DataError(
            f"{folder} has {found} images. An image folder holds one sub-folder per class with "
            f"images in it: {folder}/<class>/*.png|jpg (or {folder}/train/<class>/...)."
        )
    return classes, pairs


def _empty_class_notes(files, split_roots: dict[str, Path]) -> list[str]:
    """A class folder without images in the train split is refused: it would be a class the model
    must output and can never learn. In a val or test split it is only noted (nothing of that
    class is measured there)."""
    notes = []
    for split, (classes, pairs) in files.items():
        present = {index for _, index in pairs}
        empty = [split_roots[split] / name for index, name in enumerate(classes) if index not in present]
        if empty and split == "train":
            raise DataError(
                f"Class folder {_first([str(p) for p in empty])} has no images (.png, .jpg, .jpeg): "
                "the model would have to output a class it can never see. Add images to it or "
                "remove it."
            )
        notes += [
            f"Class folder {path} has no images: the {split} split measures none of it." for path in empty
        ]
    return notes


def read_splits(
    files, skip_bad_images: bool, image_size
) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """Decode every split to uint8 arrays of one common size and channel count; also return
    notes (warnings) about skipped or resized images."""
    decoded = {s: _read_images(pairs) for s, (_, pairs) in files.items()}
    bad = [entry for _, _, split_bad in decoded.values() for entry in split_bad]
    notes = []
    if bad and not skip_bad_images:
        raise DataError(
            f"{len(bad)} image(s) cannot be read: {_first(bad)}. Fix or delete them, or skip them with "
            "skip_bad_images=True (`--skip-bad-images` on the command line)."
        )
    if bad:
        notes.append(f"Skipped {len(bad)} unreadable image(s): {_first(bad)}.")
    every_image = [image for images, _, _ in decoded.values() for image in images]
    if not every_image:
        raise DataError("None of the images could be read (every one was skipped).")
    size, note = _target_size(every_image, image_size)
    notes += [note] if note else []
    rgb = any(image.mode not in _GRAY_MODES for image in every_image)
    arrays = {
        s: {"images": _stack(images, size, rgb), "labels": np.asarray(labels, dtype=np.int64)}
        for s, (images, labels, _) in decoded.items()
    }
    return arrays, notes


def _read_images(pairs: list[tuple[Path, int]]):
    """(images, labels, descriptions of the files that could not be read)."""
    from PIL import Image, UnidentifiedImageError

    images, labels, bad = [], [], []
    for path, label in pairs:
        try:
            with Image.open(path) as image:
                image.load()
                images.append(image.copy())
            labels.append(label)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            bad.append(f"{path} ({type(exc).__name__})")
    return images, labels, bad


def _target_size(images, image_size) -> tuple[tuple[int, int], str | None]:
    """(width, height) for PIL: ``image_size`` (int or (H, W)) if given, else the most common size;
    and a note when images of another size get resized to the most common one."""
    if image_size is not None:
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        return (int(w), int(h)), None
    size, count = Counter(image.size for image in images).most_common(1)[0]
    if count == len(images):
        return size, None
    return size, (
        f"{len(images) - count} of {len(images)} images are not {size[0]}x{size[1]} (width x height), "
        "the most common size, and were resized to it; pass image_size to choose the size."
    )


def _stack(images, size: tuple[int, int], rgb: bool) -> np.ndarray:
    from PIL import Image

    channels = 3 if rgb else 1
    out = np.empty((len(images), channels, size[1], size[0]), dtype=np.uint8)
    for i, image in enumerate(images):
        image = image.convert("RGB" if rgb else "L")
        if image.size != size:
            image = image.resize(size, Image.BILINEAR)
        pixels = np.asarray(image)
        out[i] = pixels.transpose(2, 0, 1) if rgb else pixels[None]
    return out


def _verify_with_manifest(root: Path, files: list[Path]) -> str:
    """Check every image against ``root/SHA256SUMS`` when there is one; "unverified" otherwise."""
    if not (root / verify.MANIFEST_NAME).is_file():
        return verify.UNVERIFIED
    relative = {path.relative_to(root).as_posix(): None for path in files}
    listed = verify.read_manifest(root / verify.MANIFEST_NAME)
    unlisted = [name for name in relative if name not in listed]
    if unlisted:
        raise DataError(
            f"{root / verify.MANIFEST_NAME} does not list {len(unlisted)} image(s): {_first(unlisted)}. "
            "Add them (sha256sum <files> >> SHA256SUMS) or remove the manifest."
        )
    checks = verify.check_files(root, relative)
    verify.require_ok(checks, f"Restore the image or update {root / verify.MANIFEST_NAME}.")
    return verify.LOCAL_MANIFEST


def _stamp(path: Path) -> str:
    # Size, mtime, ctime and inode: an image rewritten with its mtime put back is decoded again.
    return f"{path}:{sorted(cache.file_stamp(path).items())}"


def _first(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
