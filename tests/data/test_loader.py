import pytest
import torch

from cnnlab.data import Augment, BatchLoader, ImageDataset
from cnnlab.errors import ConfigError


def numbered_dataset(n=50, c=3, size=6):
    """Image i is filled with i and has label i, so a batch shows which images it holds."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, c, size, size).contiguous()
    return ImageDataset(
        name="numbered",
        split="train",
        images=images,
        labels=torch.arange(n),
        classes=[str(i) for i in range(n)],
        mean=[0.1] * c,
        std=[0.2] * c,
    )


def collect(loader, epoch, start=0):
    return [(x.clone(), y.clone()) for x, y in loader.epoch(epoch, start_batch=start)]


def test_len_and_batch_sizes():
    data = numbered_dataset(50)
    assert len(BatchLoader(data, 16)) == 4
    assert len(BatchLoader(data, 16, drop_last=True)) == 3
    sizes = [len(y) for _, y in BatchLoader(data, 16).epoch(0)]
    assert sizes == [16, 16, 16, 2]
    with pytest.raises(ConfigError):
        BatchLoader(data, 0)
    with pytest.raises(ConfigError):
        BatchLoader(data, 4, scale="zero-one")


def test_an_epoch_visits_every_image_once_in_a_seeded_order():
    data = numbered_dataset(50)
    loader = BatchLoader(data, 16, seed=3)
    order = torch.cat([y for _, y in loader.epoch(0)])
    assert sorted(order.tolist()) == list(range(50)) and order.tolist() != list(range(50))
    assert torch.equal(order, torch.cat([y for _, y in BatchLoader(data, 16, seed=3).epoch(0)]))
    assert not torch.equal(order, torch.cat([y for _, y in loader.epoch(1)]))
    assert not torch.equal(order, torch.cat([y for _, y in BatchLoader(data, 16, seed=4).epoch(0)]))
    unshuffled = torch.cat([y for _, y in BatchLoader(data, 16, shuffle=False).epoch(5)])
    assert unshuffled.tolist() == list(range(50))


def test_inputs_are_standardised_with_the_dataset_stats_and_match_labels():
    data = numbered_dataset(20)
    x, y = next(iter(BatchLoader(data, 8, seed=0)))
    assert x.dtype == torch.float32 and x.shape == (8, 3, 6, 6)
    expected = (y.float() / 255 - 0.1) / 0.2
    assert torch.allclose(x[:, 0, 0, 0], expected)
    x_unit, y_unit = next(iter(BatchLoader(data, 8, seed=0, scale="unit")))
    assert torch.allclose(x_unit[:, 1, 2, 3], y_unit.float() / 255)


def test_resume_mid_epoch_sees_exactly_the_same_augmented_batches():
    data = numbered_dataset(50, size=8)
    data.images = torch.randint(0, 256, data.images.shape, dtype=torch.uint8)
    augment = Augment(crop_padding=2, flip=True)
    full = collect(BatchLoader(data, 8, seed=11, augment=augment), epoch=2)
    torch.manual_seed(1234)  # the global RNG must not matter
    resumed = collect(BatchLoader(data, 8, seed=11, augment=augment), epoch=2, start=3)
    assert len(resumed) == len(full) - 3
    for (x_full, y_full), (x_res, y_res) in zip(full[3:], resumed, strict=True):
        assert torch.equal(y_full, y_res) and torch.equal(x_full, x_res)
    plain = collect(BatchLoader(data, 8, seed=11), epoch=2)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(full, plain, strict=True))


def test_loading_leaves_the_global_rng_untouched():
    data = numbered_dataset(30)
    state = torch.get_rng_state()
    for _ in BatchLoader(data, 7, seed=1, augment=Augment(2, True)).epoch(0):
        pass
    assert torch.equal(torch.get_rng_state(), state)


def mirrored_in_epoch(loader, epoch):
    """{image index: whether the loader mirrored it} for one epoch of a column-ramp dataset."""
    seen = {}
    for x, y in loader.epoch(epoch):
        for image, label in zip(x, y, strict=True):
            seen[int(label)] = bool(image[0, 0, 0] > image[0, 0, -1])
    return seen


def test_alternating_flips_mirror_a_random_half_first_then_each_image_every_other_epoch():
    data = numbered_dataset(200, size=6)
    data.images = torch.arange(6, dtype=torch.uint8).expand(200, 3, 6, 6).contiguous()  # a left-right ramp
    loader = BatchLoader(data, 32, seed=5, augment=Augment(flip=True, alternate_flips=True))
    epochs = [mirrored_in_epoch(loader, e) for e in range(3)]
    assert 70 < sum(epochs[0].values()) < 130
    assert all(epochs[1][i] != epochs[0][i] for i in range(200))  # each image the other way round
    assert epochs[2] == epochs[0]
    again = BatchLoader(data, 32, seed=5, augment=Augment(flip=True, alternate_flips=True))
    assert mirrored_in_epoch(again, 1) == epochs[1]
    other_seed = BatchLoader(data, 32, seed=6, augment=Augment(flip=True, alternate_flips=True))
    assert mirrored_in_epoch(other_seed, 0) != epochs[0]
    # With a crop, the flips are the same and the crop offsets still vary.
    cropped = BatchLoader(data, 32, seed=5, augment=Augment(crop_padding=1, flip=True, alternate_flips=True))
    ramps = [image[0, 2] for x, _ in cropped.epoch(0) for image in x]
    assert len({tuple(ramp.tolist()) for ramp in ramps}) > 2
