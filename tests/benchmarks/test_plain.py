"""The plain reference loop: it must feed the same numbers as cnnlab and train for real."""

from __future__ import annotations

import torch

from benchmarks import plain
from cnnlab.data import to_model_input
from cnnlab.models import create


def test_per_sample_transform_matches_cnnlab_batches(digits):
    loader = plain.plain_loader(digits, 32, shuffle=False)
    x, y = next(iter(loader))
    expected = to_model_input(digits.images[:32], digits.mean, digits.std)
    assert x.shape == (32, 1, 28, 28)
    torch.testing.assert_close(x, expected)
    assert torch.equal(y, digits.labels[:32])


def test_shuffled_loader_visits_every_image_once_per_epoch(digits):
    loader = plain.plain_loader(digits, 100, shuffle=True)
    labels = torch.cat([y for _, y in loader])
    assert [len(y) for _, y in loader] == [100, 100, 56]
    assert torch.equal(labels.sort().values, digits.labels.sort().values)


def test_training_steps_lower_the_loss_on_a_fixed_batch(digits):
    torch.manual_seed(0)
    model = create("fc2layer", in_channels=1, input_size=28)
    optimizer = plain.plain_optimizer(model, lr=1e-2)
    x, y = next(iter(plain.plain_loader(digits, 64, shuffle=False)))
    losses = [plain.train_step(model, optimizer, x, y) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]


class _AlwaysClass(torch.nn.Module):
    def __init__(self, label: int):
        super().__init__()
        self.label = label

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 10)
        logits[:, self.label] = 1.0
        return logits


def test_evaluate_counts_correct_predictions(digits):
    loader = plain.plain_loader(digits, 50, shuffle=False)
    expected = float((digits.labels == 3).float().mean())
    assert plain.evaluate(_AlwaysClass(3), loader) == expected


def test_time_steps_times_each_requested_step(digits):
    timing = plain.time_steps(create("fc2layer", in_channels=1, input_size=28), digits, 32, warmup=1, steps=4)
    assert len(timing.seconds) == 4 and timing.batch_size == 32
    assert timing.images_per_s == 32 / min(timing.seconds)
