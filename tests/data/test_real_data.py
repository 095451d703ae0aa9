"""The real datasets in $CNNLAB_DATA, checked against the numbers in shared/data/README.md."""

import pytest
import torch

from cnnlab.data import BatchLoader, datasets, load_dataset


def check_counts_and_means(data, shape, counts, channel_means_255, tol=0.01):
    assert data.images.shape == shape and data.labels.shape == (shape[0],)
    assert data.class_counts() == counts
    pixels_per_channel = data.images[:, 0].numel()
    means = [data.images[:, c].sum(dtype=torch.int64).item() / pixels_per_channel for c in range(shape[1])]
    assert means == pytest.approx(channel_means_255, abs=tol)


def test_mnist(data_dir):
    train = load_dataset("mnist", data_dir=data_dir)
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    check_counts_and_means(train, (60000, 1, 28, 28), counts, [33.318])
    assert train.mean[0] == pytest.approx(0.1307, abs=1e-4) and train.verification == "official"
    test = load_dataset("mnist", "test", data_dir=data_dir)
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    check_counts_and_means(test, (10000, 1, 28, 28), counts, [33.791])


def test_fashion_mnist(data_dir):
    if not (data_dir / "fashion-mnist").is_dir():
        pytest.skip(f"Fashion-MNIST is not in {data_dir}")
    train = load_dataset("fashion-mnist", data_dir=data_dir)
    check_counts_and_means(train, (60000, 1, 28, 28), [6000] * 10, [72.940])
    assert train.classes[9] == "Ankle boot" and train.verification == "official"
    test = load_dataset("fashion-mnist", "test", data_dir=data_dir)
    check_counts_and_means(test, (10000, 1, 28, 28), [1000] * 10, [73.147])


def test_cifar10_local_manifest_copy(cifar10_dir, monkeypatch):
    train = load_dataset("cifar10", data_dir=cifar10_dir)
    check_counts_and_means(train, (50000, 3, 32, 32), [5000] * 10, [125.27, 122.93, 113.86])
    assert train.verification == "local manifest"  # the JPEG rebuild never matches the official MD5s
    assert [s * 255 for s in train.std] == pytest.approx([62.53, 61.91, 66.46], abs=0.01)
    # The second load reads the decoded cache and does not re-hash the 180 MB of batches.
    monkeypatch.setattr(datasets, "decode", lambda *a: pytest.fail("CIFAR-10 decoded twice"))
    monkeypatch.setattr(datasets.verify, "file_digest", lambda *a: pytest.fail("re-hashed"))
    test = load_dataset("cifar10", "test", data_dir=cifar10_dir)
    check_counts_and_means(test, (10000, 3, 32, 32), [1000] * 10, [125.99, 123.69, 114.85])
    assert test.mean == train.mean


def test_cifar10_standardised_batches_have_zero_mean_unit_std(cifar10_dir):
    train = load_dataset("cifar10", data_dir=cifar10_dir, subset=5000)
    x = torch.cat([x for x, _ in BatchLoader(train, 1000, shuffle=False).epoch(0)])
    assert x.mean(dim=(0, 2, 3)).abs().max() < 0.02
    assert (x.std(dim=(0, 2, 3)) - 1).abs().max() < 0.03
