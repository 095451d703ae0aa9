import pytest
import torch
import torch.nn.functional as F

from cnnlab.data import Augment, random_crop, random_flip
from cnnlab.data.augment import alternating_flips, crop_and_flip
from cnnlab.errors import ConfigError


def batch(n=16, c=3, h=8, w=10, seed=0):
    return torch.randint(
        0, 256, (n, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def windows(image, padding, mode="constant"):
    """Every crop of ``image`` (C, H, W) after padding (zeros, or as ``mode``): {(dy, dx): window}."""
    c, h, w = image.shape
    padded = F.pad(image, (padding,) * 4, mode=mode)
    return {
        (dy, dx): padded[:, dy : dy + h, dx : dx + w]
        for dy in range(2 * padding + 1)
        for dx in range(2 * padding + 1)
    }


def test_random_crop_picks_a_padded_window_per_image_with_varied_offsets():
    images = batch()
    out = random_crop(images, 2, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    offsets = []
    for image, cropped in zip(images, out, strict=True):
        matches = [o for o, window in windows(image, 2).items() if torch.equal(window, cropped)]
        assert matches, "output is not a window of the padded image"
        offsets.append(matches[0])
    assert len(set(offsets)) > 4  # per-image offsets, not one for the whole batch


def test_a_reflect_padded_crop_is_a_window_of_the_mirrored_border_never_black():
    images = batch(n=32).clamp_(min=1)  # no black pixel of their own
    out = random_crop(images, 2, torch.Generator().manual_seed(1), pad_mode="reflect")
    for image, cropped in zip(images, out, strict=True):
        assert any(torch.equal(window, cropped) for window in windows(image, 2, "reflect").values())
    assert out.min() >= 1  # zero padding would have brought in black borders
    # The same offsets as a zero-padded crop: only the border's pixels differ.
    zeros = random_crop(images, 2, torch.Generator().manual_seed(1))
    assert torch.equal(out[zeros > 0], zeros[zeros > 0])


def test_random_flip_mirrors_about_half_of_the_images():
    images = batch(n=200)
    out = random_flip(images, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, images, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 70 < sum(flipped) < 130


def test_fused_crop_and_flip_equals_crop_then_flip():
    images = batch(n=64)
    fused = crop_and_flip(images, 4, 0.5, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    assert torch.equal(fused, random_flip(random_crop(images, 4, generator), generator))


def test_augment_is_deterministic_in_its_generator_and_leaves_global_rng_alone():
    images = batch(n=32)
    augment = Augment(crop_padding=3, flip=True)
    state = torch.get_rng_state()
    a = augment(images, torch.Generator().manual_seed(7))
    b = augment(images, torch.Generator().manual_seed(7))
    c = augment(images, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(Augment()(images, torch.Generator()), images)


def test_augment_parse_and_validation():
    assert Augment.parse("crop4,flip") == Augment(crop_padding=4, flip=True)
    assert Augment.parse("none") == Augment() and Augment.parse("flip").flip
    assert str(Augment(4, True)) == "crop4,flip" and str(Augment()) == "none"
    with pytest.raises(ConfigError, match="Unknown augmentation 'rotate'"):
        Augment.parse("crop4,rotate")
    assert Augment.parse("crop2,altflip") == Augment(crop_padding=2, flip=True, alternate_flips=True)
    assert str(Augment(2, True, True)) == "crop2,altflip"
    with pytest.raises(ConfigError):
        Augment(crop_padding=-1)
    with pytest.raises(ConfigError, match="Alternating flips need flips"):
        Augment(alternate_flips=True)
    assert Augment.parse("crop2,reflect,altflip") == Augment(2, True, True, "reflect")
    assert str(Augment(2, True, True, "reflect")) == "crop2,reflect,altflip"
    with pytest.raises(ConfigError, match="crop_pad_mode must be one of zeros, reflect"):
        Augment(crop_padding=2, crop_pad_mode="wrap")


def test_given_flips_mirror_exactly_those_images_with_or_without_a_crop():
    images = batch(n=6)
    flips = torch.tensor([True, False, False, True, True, False])
    mirrored = Augment(flip=True, alternate_flips=True)(images, torch.Generator(), flips)
    assert all(torch.equal(m, i.flip(2) if f else i) for m, i, f in zip(mirrored, images, flips, strict=True))
    cropped = crop_and_flip(images, 2, 0.5, torch.Generator().manual_seed(3), flips)
    unflipped = random_crop(images, 2, torch.Generator().manual_seed(3))
    pairs = zip(cropped, unflipped, flips, strict=True)
    assert all(torch.equal(c, u.flip(2) if f else u) for c, u, f in pairs)
    with pytest.raises(ValueError, match="exactly when flips alternate"):
        Augment(flip=True)(images, torch.Generator(), flips)
    assert torch.equal(alternating_flips(flips, 3), ~flips)
    assert torch.equal(alternating_flips(flips, 4), flips)
