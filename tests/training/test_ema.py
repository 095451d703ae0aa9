"""The weight average (EMA) and the lookahead: their arithmetic, their schedules, swapping the
average in, and their checkpoint state."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.training.ema import Lookahead, WeightAverage


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))


def _shift_weights(model: nn.Module, amount: float) -> None:
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(amount)


def test_first_updates_follow_the_warm_up_decay():
    model = _net()
    start = model[3].weight.detach().clone()
    average = WeightAverage(model, decay=0.99)
    _shift_weights(model, 1.0)
    average.update(step=0)  # decay min(0.99, 1/10) = 0.1: the average moves 90% of the way
    torch.testing.assert_close(average.average[average.names.index("3.weight")], start + 0.9)
    assert average.updates == 1 and average.current_decay(1) == pytest.approx(2 / 11)


def test_decay_is_capped_late_in_a_run():
    average = WeightAverage(_net(), decay=0.9)
    average.updates = 1000
    assert average.current_decay(1000) == 0.9


def test_updates_only_every_nth_step():
    average = WeightAverage(_net(), decay=0.5, every=3)
    for step in range(7):
        average.update(step)
    assert average.updates == 2  # after steps 2 and 5


def test_batch_norm_statistics_are_averaged_but_not_counters():
    average = WeightAverage(_net(), decay=0.5)
    assert "1.running_mean" in average.names and "1.running_var" in average.names
    assert "1.num_batches_tracked" not in average.names


def test_applied_swaps_the_average_in_and_restores_the_live_weights():
    model = _net()
    average = WeightAverage(model, decay=0.5)
    _shift_weights(model, 2.0)
    live = {k: v.clone() for k, v in model.state_dict().items()}
    with average.applied():
        torch.testing.assert_close(model[3].weight, live["3.weight"] - 2.0)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in live.items())
    average.copy_to_model()
    torch.testing.assert_close(model[3].bias, live["3.bias"] - 2.0)


def test_state_round_trip_continues_identically():
    model = _net()
    first = WeightAverage(model, decay=0.8, every=2)
    for step in range(5):
        _shift_weights(model, 0.1)
        first.update(step)
    second = WeightAverage(_net(), decay=0.5)
    second.load_state_dict(first.state_dict())
    second.live = first.live  # same model from here on
    for step in range(5, 9):
        _shift_weights(model, 0.1)
        first.update(step)
        second.update(step)
    assert second.updates == first.updates == 4
    assert all(torch.equal(a, b) for a, b in zip(first.average, second.average, strict=True))


def test_a_foreign_state_is_refused():
    state = WeightAverage(_net(), decay=0.5).state_dict()
    with pytest.raises(ConfigError, match="does not match"):
        WeightAverage(nn.Linear(2, 2), decay=0.5).load_state_dict(state)


@pytest.mark.parametrize(("decay", "every"), [(0.0, 1), (1.0, 1), (0.9, 0)])
def test_bad_settings_are_config_errors(decay, every):
    with pytest.raises(ConfigError):
        WeightAverage(_net(), decay=decay, every=every)


def test_lookahead_decay_rises_as_the_cube_of_progress():
    lookahead = Lookahead(_net(), decay=0.95, total_steps=100)
    assert lookahead.current_decay(99) == pytest.approx(0.95**5)
    assert lookahead.current_decay(49) == pytest.approx(0.95**5 / 8)
    assert lookahead.current_decay(0) == pytest.approx(0.95**5 * 1e-6)
    with pytest.raises(ConfigError, match="at least one step"):
        Lookahead(_net(), decay=0.95, total_steps=0)


def test_lookahead_pulls_the_live_weights_back_to_the_average_every_fifth_step():
    model = _net()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    lookahead = Lookahead(model, decay=0.9, total_steps=10)
    for step in range(4):
        _shift_weights(model, 1.0)
        assert not lookahead.update(step)
    _shift_weights(model, 1.0)  # live = start + 5
    assert lookahead.update(4)
    decay = 0.9**5 * 0.5**3
    expected = start["3.weight"] + (1 - decay) * 5.0
    torch.testing.assert_close(lookahead.average[lookahead.names.index("3.weight")], expected)
    torch.testing.assert_close(model[3].weight, expected)  # the live weights jumped back
    torch.testing.assert_close(model[1].running_mean, start["1.running_mean"] + (1 - decay) * 5.0)
