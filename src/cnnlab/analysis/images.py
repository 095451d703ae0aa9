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

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
    image = _open(path)
    original_size, original_mode = image.size, image.mode
    steps: list[str] = []
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
