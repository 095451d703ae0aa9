"""Shape tracing on the meta device: the windows it sees, and the errors it gives instead of
PyTorch tracebacks when an input cannot fit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ModelError
from cnnlab.models.tracing import InputTooSmallError, ShapeTracer, check_input_fits, output_shape


class WindowRecorder(ShapeTracer):
    def __init__(self, model):
        super().__init__(model)
        self.seen = []

    def after_op(self, name, args, kwargs, output, window):
        if window is not None:
            self.seen.append((self.layer_name(), window.describe(), tuple(output.shape[2:])))


class FunctionalPooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return F.avg_pool2d(F.max_pool2d(self.conv(x), 2), kernel_size=3, stride=None, ceil_mode=True)


def test_tracer_sees_module_and_functional_windows_with_their_paths():
    model = nn.Sequential(
        nn.Conv2d(3, 3, 3, stride=2, padding=1),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        FunctionalPooling(),
        nn.AdaptiveAvgPool2d((None, 2)),
    )
    recorder = WindowRecorder(model)
    out = recorder.run((3, 33, 33))
    assert recorder.seen == [
        ("0", "k3 s2 p1", (17, 17)),
        ("1", "k3 s2 p0 ceil", (8, 8)),
        ("2.conv", "k3 s1 p0", (6, 6)),
        ("2", "k2 s2 p0", (3, 3)),
        ("2", "k3 s3 p0 ceil", (1, 1)),
        ("3", "adaptive to -x2", (1, 2)),
    ]
    assert out.device.type == "meta" and out.shape == (1, 4, 1, 2)


def test_tracer_restores_training_mode_and_leaves_parameters_alone():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model.train()
    before = model[0].weight.clone()
    ShapeTracer(model).run((1, 8, 8))
    assert model.training and model[1].training
    assert model[0].weight.device.type == "cpu" and torch.equal(model[0].weight, before)
    assert model[1].num_batches_tracked.item() == 0


def test_too_small_names_the_layer_and_shows_the_formula():
    model = nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.Conv2d(4, 4, 5))
    with pytest.raises(InputTooSmallError) as caught:
        check_input_fits(model, (1, 12, 12))
    error = caught.value
    assert error.layer == "2" and error.layer_type == "Conv2d"
    assert error.formula == "(4 + 2*0 - 5)/1 + 1 = 0"
    assert str(error) == "at layer '2' (Conv2d, k5 s1 p0) the height drops below 1: (4 + 2*0 - 5)/1 + 1 = 0"


def test_too_small_in_one_dimension_names_that_dimension():
    with pytest.raises(InputTooSmallError, match="the width drops below 1"):
        check_input_fits(nn.Conv2d(1, 1, (1, 5)), (1, 32, 3))


def test_functional_op_in_a_container_is_named_as_such():
    with pytest.raises(InputTooSmallError) as caught:
        check_input_fits(FunctionalPooling(), (3, 3, 3))
    assert str(caught.value) == (
        "at layer 'FunctionalPooling' (FunctionalPooling, functional max_pool2d, k2 s2 p0) the height drops "
        "below 1: (1 + 2*0 - 2)/2 + 1 = floor(-0.5) + 1 = 0"
    )


def test_other_shape_faults_become_model_errors_naming_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ModelError) as caught:
        check_input_fits(model, (1, 8, 8))
    message = str(caught.value)
    assert message.startswith("layer '2' (Linear) fails on a 1x8x8 input:")
    assert "\n" not in message


class NeedsValues(nn.Module):
    """Data-dependent control flow cannot run on meta tensors; the tracer falls back to real ones."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)

    def forward(self, x):
        y = self.conv(x)
        return y if y.abs().sum().item() >= 0 else -y


def test_models_that_need_values_are_traced_for_real():
    assert output_shape(NeedsValues(), (1, 10, 10)) == (3, 8, 8)


def test_training_only_branches_are_checked():
    class AuxHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Conv2d(1, 1, 1)
            self.aux = nn.Conv2d(1, 1, 9)

        def forward(self, x):
            x = self.body(x)
            if self.training:
                self.aux_out = self.aux(x)
            return x

    with pytest.raises(InputTooSmallError, match="'aux'"):
        check_input_fits(AuxHead(), (1, 8, 8))


def test_output_shape_prefixes_paths_for_errors():
    features = nn.Sequential(nn.Conv2d(1, 6, 5), nn.MaxPool2d(2))
    assert output_shape(features, (1, 28, 28), "features") == (6, 12, 12)
    with pytest.raises(InputTooSmallError, match="at layer 'features.0'"):
        output_shape(features, (1, 4, 4), "features")
