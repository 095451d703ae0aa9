"""Reading a user's image files: every mode and size ends as the model's (C, H, W), and says how."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.analysis import images
from cnnlab.errors import DataError

GRAY_28 = (1, 28, 28)
RGB_32 = (3, 32, 32)


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def test_an_image_of_the_right_size_and_mode_is_used_as_is(tmp_path: Path):
    values = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    converted = images.read_image(_save(Image.fromarray(values), tmp_path / "digit.png"), GRAY_28)
    assert converted.pixels.shape == GRAY_28 and converted.pixels.dtype == torch.uint8
    assert torch.equal(converted.pixels[0], torch.from_numpy(values))
    assert converted.steps == ()
    assert converted.description == "used as is (28x28 grayscale)"


def test_rgba_is_flattened_on_white_and_resized_and_both_are_described(tmp_path: Path):
    rgba = np.zeros((480, 640, 4), dtype=np.uint8)
    rgba[:, 320:] = (200, 0, 0, 255)  # right half opaque red, left half fully transparent
    converted = images.read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "photo.png"), RGB_32)
    assert converted.description == (
        "RGBA -> RGB (transparent areas on white), resized 640x480 -> 32x32 (aspect ratio not kept)"
    )
    assert converted.original_size == (640, 480) and converted.original_mode == "RGBA"
    assert converted.pixels[:, 16, 2].tolist() == [255, 255, 255]  # transparent -> white
    assert converted.pixels[:, 16, 29].tolist() == [200, 0, 0]


def test_rgb_to_grayscale_uses_luma(tmp_path: Path):
    red = Image.new("RGB", (28, 28), (255, 0, 0))
    converted = images.read_image(_save(red, tmp_path / "red.bmp"), GRAY_28)
    assert converted.description == "RGB -> grayscale"
    assert int(converted.pixels[0, 0, 0]) == 76  # ITU-R 601: 0.299 * 255


def test_grayscale_to_rgb_copies_the_channel(tmp_path: Path):
    gray = Image.fromarray(np.full((32, 32), 90, dtype=np.uint8))
    converted = images.read_image(_save(gray, tmp_path / "gray.jpg", quality=95), RGB_32)
    assert converted.description == "grayscale -> RGB"
    assert torch.equal(converted.pixels[0], converted.pixels[1])
    assert torch.equal(converted.pixels[1], converted.pixels[2])


def test_palette_gif_uses_the_first_frame(tmp_path: Path):
    frames = [Image.new("P", (28, 28), colour) for colour in (10, 200, 120)]
    for frame in frames:
        frame.putpalette([v for i in range(256) for v in (i, i, i)])
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    converted = images.read_image(path, GRAY_28)
    assert converted.description == "first of 3 frames, palette -> grayscale"
    assert int(converted.pixels[0, 5, 5]) == 10


def test_palette_with_transparency_is_flattened_on_white(tmp_path: Path):
    image = Image.new("P", (28, 28), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (14, 0, 28, 28))
    path = _save(image, tmp_path / "p.png", transparency=0)
    converted = images.read_image(path, RGB_32)
    assert converted.description.startswith("palette -> RGB (transparent areas on white)")
    assert converted.pixels[:, 16, 1].tolist() == [255, 255, 255]


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path: Path):
    values = np.zeros((28, 28), dtype=np.uint16)
    values[:, 14:] = 65535
    values[:, :14] = 32768
    path = _save(Image.fromarray(values), tmp_path / "deep.png")
    converted = images.read_image(path, GRAY_28)
    assert converted.description == "16-bit grayscale -> grayscale (scaled to 8 bits)"
    assert int(converted.pixels[0, 0, 20]) == 255
    assert int(converted.pixels[0, 0, 0]) == 128


def test_odd_sizes_say_when_the_aspect_ratio_changes(tmp_path: Path):
    odd = images.read_image(_save(Image.new("L", (31, 17)), tmp_path / "odd.png"), GRAY_28)
    assert odd.description == "resized 31x17 -> 28x28 (aspect ratio not kept)"
    square = images.read_image(_save(Image.new("L", (56, 56)), tmp_path / "square.png"), GRAY_28)
    assert square.description == "resized 56x56 -> 28x28"
    assert square.pixels.shape == GRAY_28


def test_exif_orientation_is_applied_before_resizing(tmp_path: Path):
    wide = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = _save(wide, tmp_path / "phone.jpg", exif=exif)
    converted = images.read_image(path, RGB_32)
    assert converted.steps == (
        "rotated as its EXIF orientation (6) says",
        "resized 20x40 -> 32x32 (aspect ratio not kept)",
    )


def test_cmyk_and_grayscale_alpha_modes(tmp_path: Path):
    cmyk = images.read_image(_save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), tmp_path / "c.jpg"), RGB_32)
    assert cmyk.description == "CMYK -> RGB"
    assert int(cmyk.pixels[0, 0, 0]) > 200 and int(cmyk.pixels[1, 0, 0]) < 60  # red
    la = images.read_image(_save(Image.new("LA", (28, 28), (0, 0)), tmp_path / "la.png"), GRAY_28)
    assert la.description == "grayscale+alpha -> grayscale (transparent areas on white)"
    assert int(la.pixels.min()) == 255


def test_invert_flips_the_pixels_and_says_so(tmp_path: Path):
    converted = images.read_image(
        _save(Image.new("L", (28, 28), 250), tmp_path / "w.png"), GRAY_28, invert=True
    )
    assert int(converted.pixels.max()) == 5
    assert converted.description == "inverted (light <-> dark)"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"not an image at all\n", "not an image file"),
        ("empty.png", b"", r"empty \(0 bytes\)"),
        ("broken.png", None, "damaged"),
    ],
)
def test_unreadable_files_raise_a_clear_data_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
):
    path = tmp_path / name
    if content is None:  # a PNG cut short in the middle of its pixel data
        _save(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)), path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        images.read_image(path, GRAY_28)


def test_read_images_keeps_going_past_bad_files_and_expands_folders(tmp_path: Path):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    _save(Image.new("L", (28, 28), 1), folder / "a.png")
    _save(Image.new("RGB", (50, 50)), folder / "sub" / "b.jpg")
    (folder / "README.txt").write_text("skipped: not an image suffix")
    (folder / ".hidden.png").write_bytes(b"")
    text_as_image = tmp_path / "fake.png"
    text_as_image.write_text("hello")
    empty_folder = tmp_path / "empty"
    empty_folder.mkdir()

    converted, problems = images.read_images(
        [folder, text_as_image, empty_folder, tmp_path / "missing.png"], GRAY_28
    )
    assert [c.path.name for c in converted] == ["a.png", "b.jpg"]
    assert all(c.pixels.shape == GRAY_28 for c in converted)
    by_name = {p.path.name: p.message for p in problems}
    assert set(by_name) == {"fake.png", "empty", "missing.png"}
    assert "not an image file" in by_name["fake.png"]
    assert "holds no image files" in by_name["empty"]
    assert "no such file" in by_name["missing.png"]


def test_stack_pixels_makes_a_batch(tmp_path: Path):
    paths = [_save(Image.new("L", (28, 28), v), tmp_path / f"{v}.png") for v in (3, 7)]
    converted, _ = images.read_images(paths, GRAY_28)
    batch = images.stack_pixels(converted)
    assert batch.shape == (2, *GRAY_28)
    assert batch[:, 0, 0, 0].tolist() == [3, 7]


def test_brightness_hint_for_light_images_on_a_dark_trained_model(tmp_path: Path):
    light = images.read_image(_save(Image.new("L", (28, 28), 240), tmp_path / "l.png"), GRAY_28)
    dark = images.read_image(_save(Image.new("L", (28, 28), 10), tmp_path / "d.png"), GRAY_28)
    assert "--invert" in images.brightness_hint(light, [0.13])
    assert images.brightness_hint(dark, [0.13]) is None
    assert images.brightness_hint(light, [0.47]) is None  # a dataset of ordinary photos
