"""A user's image files -> the uint8 tensor a trained model expects, with what was done said aloud.

Pillow reads PNG, JPEG, BMP, GIF (first frame), WebP and TIFF, in any mode (1-bit, grayscale,
16-bit, palette, RGB, RGBA, CMYK). Each image is turned into the model's ``(C, H, W)`` in a fixed
order, and every change is recorded as a step a person can read:

1. the first frame of an animation; the rotation an EXIF orientation tag asks for;
2. the colour mode: transparency is flattened onto white (what a viewer shows on a white page),
   colour becomes grayscale by ITU-R 601 luma, grayscale becomes RGB by copying the channel;
3. the size: resized to the model's height and width (bicubic, antialiased when shrinking). The
   aspect ratio is not kept, as in Keras' ``load_img``; the step says when it changed;
4. optionally the values inverted, for dark-on-light drawings given to a light-on-dark model.

Problems a user can cause (a missing, empty or non-image file; a folder with no images) are
collected as :class:`ImageProblem` so that the other images are still used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnlab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

# Names a person knows for Pillow's modes.
MODE_NAMES = {
    "1": "1-bit",
    "L": "grayscale",
    "LA": "grayscale+alpha",
    "La": "grayscale+alpha",
    "P": "palette",
    "PA": "palette+alpha",
    "RGB": "RGB",
    "RGBA": "RGBA",
    "RGBa": "RGBA",
    "CMYK": "CMYK",
    "YCbCr": "YCbCr",
    "LAB": "Lab",
    "HSV": "HSV",
    "I": "32-bit integer grayscale",
    "I;16": "16-bit grayscale",
    "I;16B": "16-bit grayscale",
    "I;16L": "16-bit grayscale",
    "F": "float grayscale",
}
_HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "F")
# Below this train-set mean brightness a dataset counts as light-on-dark (MNIST: 0.13).
_DARK_DATASET_MEAN = 0.35


@dataclass(frozen=True)
class ConvertedImage:
    """One image file as the model sees it."""

    path: Path
    pixels: torch.Tensor  # uint8 (C, H, W), the model's input shape
    original_size: tuple[int, int]  # (width, height) as stored in the file
    original_mode: str  # Pillow's mode, e.g. "RGBA"
    steps: tuple[str, ...]  # what was done, in order

    @property
    def description(self) -> str:
        """E.g. "resized 640x480 -> 32x32 (aspect ratio not kept), RGBA -> RGB (...)"."""
        if self.steps:
            return ", ".join(self.steps)
        channels, height, width = self.pixels.shape
        return f"used as is ({width}x{height} {_channels_name(channels)})"


@dataclass(frozen=True)
class ImageProblem:
    """A path that could not be used, and why."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def find_images(paths: Sequence[str | Path]) -> tuple[list[Path], list[ImageProblem]]:
    """Expand the paths a user gave: files are kept as given, folders give their image files.

    A folder is searched recursively (so ``root/<class>/*.png`` works) for the suffixes in
    :data:`IMAGE_SUFFIXES`, in sorted order; hidden files are skipped. A path that does not exist,
    or a folder with no image files, becomes a problem.
    """
    found: list[Path] = []
    problems: list[ImageProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            images = _images_in_folder(path)
            if images:
                found.extend(images)
            else:
                problems.append(
                    ImageProblem(
                        path, f"folder holds no image files (looked for {', '.join(IMAGE_SUFFIXES)})"
                    )
                )
        elif path.is_file():
            found.append(path)
        else:
            problems.append(ImageProblem(path, "no such file or folder"))
    return found, problems


def read_image(path: str | Path, input_shape: Sequence[int], *, invert: bool = False) -> ConvertedImage:
    """Read one image file and convert it to ``input_shape`` (C, H, W); raise DataError if unusable."""
    path = Path(path)
    return convert_image(_open(path), input_shape, path, invert=invert)


def convert_image(
    image: Image.Image,
    input_shape: Sequence[int],
    path: Path,
    *,
    invert: bool = False,
    steps: Sequence[str] = (),
) -> ConvertedImage:
    """Convert a Pillow image to ``input_shape`` (C, H, W), the steps said aloud; ``path``: its file,
    or a label such as ``tensor[3]`` for an image given in memory."""
    original_size, original_mode = image.size, image.mode
    steps = list(steps)
    image = _first_frame(image, steps)
    image = _apply_exif_orientation(image, steps)
    channels, height, width = (int(n) for n in input_shape)
    image = _convert_mode(image, channels, steps)
    image = _resize(image, (width, height), steps)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    pixels = torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
    if invert:
        pixels = 255 - pixels
        steps.append("inverted (light <-> dark)")
    return ConvertedImage(path, pixels, original_size, original_mode, tuple(steps))


def read_images(
    paths: Sequence[str | Path], input_shape: Sequence[int], *, invert: bool = False
) -> tuple[list[ConvertedImage], list[ImageProblem]]:
    """Expand ``paths`` (see :func:`find_images`) and convert every image; keep going past bad ones."""
    files, problems = find_images(paths)
    converted: list[ConvertedImage] = []
    for path in files:
        try:
            converted.append(read_image(path, input_shape, invert=invert))
        except DataError as exc:
            problems.append(ImageProblem(path, str(exc)))
    return converted, problems


def read_inputs(
    items: Sequence[Any], input_shape: Sequence[int], *, invert: bool = False
) -> tuple[list[ConvertedImage], list[ImageProblem]]:
    """Files and folders (as :func:`read_images`), and images in memory: a torch tensor ``(C, H, W)``
    or a batch ``(N, C, H, W)``, a numpy array (the same, or ``(H, W, C)`` as Pillow and matplotlib
    give it, or ``(H, W)``), a Pillow image, an :class:`~cnnlab.data.ImageDataset`. Pixels are uint8
    0-255 or floats 0-1. Each is converted like a file, in the given order. A path that cannot be
    used is a problem (the others are still used); an image in memory of the wrong shape, channel
    count or value range raises DataError."""
    converted: list[ConvertedImage] = []
    problems: list[ImageProblem] = []
    for position, item in enumerate(items):
        if isinstance(item, str | os.PathLike):
            found, missing = read_images([item], input_shape, invert=invert)
            converted.extend(found)
            problems.extend(missing)
            continue
        label = _kind(item) if len(items) == 1 else f"{_kind(item)} #{position}"
        for name, image, steps in _pillow_images(item, label):
            converted.append(convert_image(image, input_shape, Path(name), invert=invert, steps=steps))
    return converted, problems


def _kind(item: Any) -> str:
    return "PIL image" if isinstance(item, Image.Image) else type(item).__name__


def _pillow_images(item: Any, label: str) -> list[tuple[str, Image.Image, list[str]]]:
    """An image in memory as (label, Pillow image, steps already done), one a batch element."""
    if isinstance(item, Image.Image):
        name = Path(getattr(item, "filename", "") or label).name
        return [(name, item, [])]
    if isinstance(getattr(item, "images", None), torch.Tensor):  # an ImageDataset: its uint8 images
        return _pillow_images(item.images, getattr(item, "name", label))
    array, torch_layout = _as_array(item, label), isinstance(item, torch.Tensor)
    if array.ndim == 4:
        return [_array_image(element, f"{label}[{i}]", torch_layout) for i, element in enumerate(array)]
    return [_array_image(array, label, torch_layout)]


def _array_image(array: np.ndarray, label: str, torch_layout: bool) -> tuple[str, Image.Image, list[str]]:
    steps: list[str] = []
    pixels = _to_uint8(_channels_last(array, label, torch_layout=torch_layout), label, steps)
    # uint8 (H, W) -> L, (H, W, 3) -> RGB, (H, W, 4) -> RGBA
    return label, Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels), steps


def _as_array(item: Any, label: str) -> np.ndarray:
    if isinstance(item, torch.Tensor):
        array = item.detach().cpu().numpy()
    elif isinstance(item, np.ndarray):
        array = item
    else:
        raise DataError(
            f"Cannot read an object of type {type(item).__name__!r} as an image: give a file or folder "
            "path, a Pillow image, a torch tensor (C, H, W) or (N, C, H, W), or a numpy array."
        )
    if array.ndim not in (2, 3, 4) or 0 in array.shape:
        raise DataError(
            f"{label} has shape {tuple(array.shape)}: an image is (C, H, W), a batch (N, C, H, W)"
            + (", a numpy array may also be (H, W, C) or (H, W)." if isinstance(item, np.ndarray) else ".")
        )
    return array


def _channels_last(array: np.ndarray, label: str, *, torch_layout: bool) -> np.ndarray:
    """(H, W), (C, H, W) or (numpy only) (H, W, C) -> (H, W, C) with C in 1, 3, 4."""
    if array.ndim == 2:
        return array[:, :, None]
    image_channels = (1, 3, 4)
    if array.shape[0] in image_channels:
        return np.moveaxis(array, 0, -1)
    if not torch_layout and array.shape[-1] in image_channels:
        return array
    kinds = "1 (grayscale), 3 (RGB) or 4 (RGBA)"
    if torch_layout:
        raise DataError(
            f"{label} has shape {tuple(array.shape)}, read as (C, H, W): {array.shape[0]} channels; an "
            f"image has {kinds}."
        )
    raise DataError(
        f"{label} has shape {tuple(array.shape)}: neither (C, H, W) nor (H, W, C) with {kinds} channels."
    )


def _to_uint8(array: np.ndarray, label: str, steps: list[str]) -> np.ndarray:
    """uint8 as is; other integers in 0-255; floats in 0-1 scaled to 0-255 (said as a step)."""
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "uif":
        raise DataError(f"{label} holds {array.dtype} values; pixels are uint8 0-255 or floats 0-1.")
    low, high = (float(array.min()), float(array.max())) if np.isfinite(array).all() else (np.nan, np.nan)
    if array.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        steps.append("float 0-1 -> 8 bits")
        return np.rint(array * 255.0).astype(np.uint8)
    if array.dtype.kind in "ui" and low >= 0 and high <= 255:
        return array.astype(np.uint8)
    wanted = "floats 0-1" if array.dtype.kind == "f" else "integers 0-255"
    raise DataError(
        f"{label} holds {array.dtype} values from {low:.4g} to {high:.4g}; pixels are {wanted} (or uint8): "
        "give the raw image, not a normalised tensor (cnnlab normalises it with the run's statistics)."
    )


def stack_pixels(images: Sequence[ConvertedImage]) -> torch.Tensor:
    """The uint8 batch (N, C, H, W) of converted images."""
    return torch.stack([image.pixels for image in images])


def brightness_hint(image: ConvertedImage, train_mean: Sequence[float]) -> str | None:
    """A hint when a light image meets a model trained on dark images (e.g. a pen digit vs MNIST).

    MNIST-style models see light strokes on black; a digit drawn dark on white paper looks to them
    like an almost white image, and the prediction is meaningless. Returns None when nothing is odd.
    """
    dataset_mean = float(np.mean(train_mean))
    image_mean = image.pixels.float().mean().item() / 255.0
    if dataset_mean < _DARK_DATASET_MEAN and image_mean > 0.5 and "inverted" not in image.description:
        return (
            f"the image is mostly light (mean {image_mean:.2f}) but the model was trained on dark "
            f"images (mean {dataset_mean:.2f}); if it is dark on light, try --invert"
        )
    return None


def _images_in_folder(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _open(path: Path) -> Image.Image:
    try:
        if path.stat().st_size == 0:
            raise DataError("the file is empty (0 bytes)")
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError as exc:
        raise DataError(
            "not an image file that can be read (PNG, JPEG, BMP, GIF, WebP and TIFF are supported)"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise DataError(f"the image is too large to read safely ({exc})") from exc
    except FileNotFoundError as exc:
        raise DataError("no such file") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        # Truncated or corrupt image data: Pillow raises OSError ("image file is truncated") etc.
        raise DataError(f"the image data is damaged and cannot be decoded ({exc})") from exc
    return image


def _first_frame(image: Image.Image, steps: list[str]) -> Image.Image:
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        steps.append(f"first of {frames} frames")
        return image.copy()
    return image


def _apply_exif_orientation(image: Image.Image, steps: list[str]) -> Image.Image:
    # Phones store photos sideways and say so in EXIF; viewers rotate them, so must we.
    orientation = image.getexif().get(0x0112, 1)
    if orientation in (None, 1):
        return image
    steps.append(f"rotated as its EXIF orientation ({orientation}) says")
    return ImageOps.exif_transpose(image)


def _convert_mode(image: Image.Image, channels: int, steps: list[str]) -> Image.Image:
    """Flatten transparency onto white, reduce depth to 8 bits, then match the channel count."""
    source = image.mode
    notes: list[str] = []
    if source in _HIGH_DEPTH_MODES:
        image = _to_8bit(image)
        notes.append("scaled to 8 bits")
    if source == "P":
        # A palette image may mark one colour transparent; RGBA keeps that information.
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode in ("LA", "RGBA"):
        image = _flatten_alpha(image)
        notes.append("transparent areas on white")
    target = {1: "L", 3: "RGB"}.get(channels)
    if target is None:
        raise DataError(
            f"the model expects {channels}-channel images; only 1 (grayscale) or 3 (RGB) can be made"
        )
    if image.mode != target:
        image = image.convert(target)
    if source != target:
        detail = f" ({', '.join(notes)})" if notes else ""
        steps.append(f"{MODE_NAMES.get(source, source)} -> {_channels_name(channels)}{detail}")
    return image


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grayscale -> 8 bits by scaling the type's range (Pillow clips)."""
    values = np.asarray(image)
    if values.dtype.kind == "f":
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    else:
        # Pillow's "I" mode also holds 16-bit PNGs; treat values above 65535 as full 32-bit range.
        maximum = 65535.0 if values.max(initial=0) <= 65535 else float(np.iinfo(np.int32).max)
        scaled = values.astype(np.float64) / maximum * 255.0
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    flat_mode = "L" if image.mode == "LA" else "RGB"
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert(flat_mode)


def _resize(image: Image.Image, size: tuple[int, int], steps: list[str]) -> Image.Image:
    if image.size == size:
        return image
    (old_w, old_h), (new_w, new_h) = image.size, size
    step = f"resized {old_w}x{old_h} -> {new_w}x{new_h}"
    if abs(old_w / old_h - new_w / new_h) > 0.01 * (new_w / new_h):
        step += " (aspect ratio not kept)"
    steps.append(step)
    # Pillow's bicubic widens its kernel when shrinking, so a large photo is antialiased.
    return image.resize(size, Image.Resampling.BICUBIC)


def _channels_name(channels: int) -> str:
    return {1: "grayscale", 3: "RGB"}.get(channels, f"{channels}-channel")
