"""The layer-by-layer summary: MACs against torch.utils.flop_counter, shapes against a real
forward pass, receptive fields against known values, and the bookkeeping of branches, shared
modules, folding and frozen parameters."""

from __future__ import annotations

import json
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.analysis.summary import Comparison, explain, summarize_model
from cnnlab.errors import ModelError
from cnnlab.models import create, get_info, list_models


def flops(model: nn.Module, shape) -> int:
    """FLOPs of one image as torch.utils.flop_counter counts them (2 per multiply-accumulate)."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *shape, device=next(model.parameters()).device))
    return counter.get_total_flops()


def meta_model(name: str, shape, classes: int = 10) -> nn.Module:
    with torch.device("meta"):
        return create(name, classes, shape[0], shape[1:])


def dataset_or_paper_shape(name: str):
    return get_info(name).paper_input if name in ("alexnet", "zfnet") else (3, 32, 32)


CASES = [(info.name, dataset_or_paper_shape(info.name), 10) for info in list_models(task="classify")]
CASES += [
    (name, get_info(name).paper_input, 1000) for name in ("googlenet", "inception-v3", "resnet50", "vgg16")
]
CASES += [("lenet5", (1, 28, 28), 10), ("course-cnn", (1, 28, 28), 10)]


@pytest.mark.parametrize(("name", "shape", "classes"), CASES, ids=lambda v: str(v))
def test_macs_match_the_flop_counter(name, shape, classes):
    model = meta_model(name, shape, classes)
    assert 2 * summarize_model(model, shape).macs == flops(model, shape)


class Zoo(nn.Module):
    """Odd corners: a functional convolution, grouped and transposed convolutions, a matrix product."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 3, 3, 3))
        self.grouped = nn.Conv2d(6, 12, 3, groups=3, padding=2, dilation=2)
        self.up = nn.ConvTranspose2d(12, 4, 3, stride=2, padding=1, output_padding=1)
        self.mix = nn.Parameter(torch.randn(4, 4))
        self.head = nn.Linear(4 * 14 * 14, 5)

    def forward(self, x):
        x = F.conv2d(x, self.weight, stride=2)  # 3x15x15 -> 6x7x7
        x = self.up(self.grouped(x))  # -> 12x7x7 -> 4x14x14
        x = torch.matmul(x.permute(0, 2, 3, 1), self.mix).permute(0, 3, 1, 2)
        return self.head(x.flatten(1))


def test_macs_of_odd_corners_match_the_flop_counter():
    summary = summarize_model(Zoo(), (3, 15, 15))
    assert 2 * summary.macs == flops(Zoo(), (3, 15, 15))
    rows = {row.name: row for row in summary.rows}
    assert rows["conv2d"].type == "conv2d (functional)"
    assert rows["conv2d"].formula == "(15 + 2*0 - 3)/2 + 1 = 7"
    assert rows["conv2d"].macs == 6 * 7 * 7 * 27
    assert rows["grouped"].formula == "(7 + 2*2 - 2*(3 - 1) - 1)/1 + 1 = 7"
    assert rows["grouped"].macs == 12 * 7 * 7 * 2 * 9  # each output sees 6/3 = 2 input maps
    assert rows["up"].formula == "(7 - 1)*2 - 2*1 + (3 - 1) + 1 + 1 = 14"
    assert rows["matmul"].macs == 14 * 14 * 4 * 4


def real_output_shapes(model: nn.Module, shape) -> dict[str, tuple[int, ...]]:
    """Each module's output shape (first call) in a real forward pass of one image."""
    shapes, handles = {}, []

    def record(path, module, inputs, output):
        shapes.setdefault(path, tuple(output.shape[1:]))

    for path, module in model.named_modules():
        if path:
            handles.append(module.register_forward_hook(partial(record, path)))
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, *shape))
    for handle in handles:
        handle.remove()
    return shapes


@pytest.mark.parametrize(
    ("name", "shape"), [("lenet5", (1, 28, 28)), ("resnet18", (1, 28, 28)), ("googlenet", (3, 32, 32))]
)
def test_row_shapes_match_a_real_forward(name, shape):
    model = create(name, 10, shape[0], shape[1:])
    real = real_output_shapes(model, shape)
    rows = {row.name: row.output_shape for row in summarize_model(model, shape).rows if row.name in real}
    assert len(rows) == len(real)
    assert rows == real


def test_residual_additions_and_concatenations_have_rows():
    resnet = explain("resnet18", (3, 32, 32))
    adds = [row for row in resnet.rows if row.type == "Add"]
    assert [row.name for row in adds][:3] == ["layer1.0.add", "layer1.1.add", "layer2.0.add"]
    assert len(adds) == 8
    assert adds[2].formula == "128x16x16 + 128x16x16 (paths merged)"
    googlenet = explain("googlenet", (3, 32, 32))
    concats = {row.name: row for row in googlenet.rows if row.type == "Concat"}
    assert len(concats) == 9
    assert concats["inception.3a.cat"].formula == "channels 64 + 128 + 32 + 32 = 256"
    assert concats["inception.3a.cat"].output_shape == (256, 32, 32)


def test_receptive_fields_match_known_values():
    alexnet = {row.name: row for row in explain("alexnet", (3, 224, 224)).rows}
    assert (alexnet["features.12"].receptive_field, alexnet["features.12"].jump) == ("195", "32")
    vgg = {row.name: row for row in explain("vgg16", (3, 224, 224)).rows}
    assert vgg["features.28"].receptive_field == "196"  # conv5_3
    assert (vgg["features.30"].receptive_field, vgg["features.30"].jump) == ("212", "32")  # pool5
    assert vgg["classifier.0"].receptive_field == "all"


def test_receptive_field_through_dilation_and_a_residual_merge():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.dilated = nn.Conv2d(1, 1, 3, padding=2, dilation=2)
            self.wide = nn.Conv2d(1, 1, 7, padding=3)

        def forward(self, x):
            return self.dilated(x) + self.wide(x)

    rows = {row.name: row for row in summarize_model(Block(), (1, 16, 16)).rows}
    assert rows["dilated"].receptive_field == "5"
    assert rows["add"].receptive_field == "7"  # the larger of the two merged paths


class SharedConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = self.conv(self.conv(self.stem(x)))  # the same conv twice
        return self.head(x.mean((2, 3)))


def test_a_module_used_twice_counts_its_parameters_once():
    summary = summarize_model(SharedConv(), (1, 8, 8))
    assert summary.params == 40 + 148 + 10
    names = [row.name for row in summary.rows]
    assert names == ["stem", "conv", "conv (call 2)", "head"]
    second = summary.rows[2]
    assert (second.type, second.params, second.macs) == ("Conv2d (shared)", 0, 4 * 64 * 36)
    assert sum(row.params for row in summary.rows) == summary.params
    assert summary.macs == 4 * 64 * 9 + 2 * 4 * 64 * 36 + 8


@pytest.mark.parametrize(
    ("name", "shape"), [("resnet50", (3, 32, 32)), ("inception-v3", (3, 32, 32)), ("lenet5", (1, 28, 28))]
)
def test_folding_to_any_depth_keeps_the_totals(name, shape):
    summary = explain(name, shape)
    deepest = max(row.depth for row in summary.rows)
    for depth in [*range(1, deepest + 1), None]:
        shown = [row for row in summary.rows_at(depth) if row.is_leaf or row.depth == depth]
        assert sum(row.params for row in shown) == summary.params, depth
        assert sum(row.macs for row in shown) == summary.macs, depth
    assert all(row.depth == 1 for row in summary.rows_at(1))


def test_frozen_parameters_are_counted_apart():
    model = create("resnet18", 10, 3, 32)
    for parameter in model.stem.parameters():
        parameter.requires_grad_(False)
    summary = summarize_model(model, (3, 32, 32))
    assert summary.frozen_params == 3 * 64 * 9 + 2 * 64
    assert summary.trainable_params + summary.frozen_params == summary.params == 11_173_962


def test_activation_memory_counts_each_distinct_output_once():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(32, 3)
    )
    # conv output 2x4x4 = 32 floats; the in-place ReLU and the flatten view add none; linear 3 floats
    assert summarize_model(model, (1, 4, 4)).activation_bytes == (32 + 3) * 4


def test_a_single_layer_is_a_model_too():
    summary = summarize_model(nn.Conv2d(3, 8, 3), (3, 10, 10))
    [row] = summary.rows
    assert (row.name, row.window, row.formula) == ("Conv2d", "k3 s1 p0", "(10 + 2*0 - 3)/1 + 1 = 8")
    assert (row.params, row.macs, row.receptive_field) == (224, 8 * 8 * 8 * 27, "3")


def test_too_small_inputs_raise_model_errors_naming_the_layer():
    with pytest.raises(ModelError, match=r"at layer '1' \(MaxPool2d, k2 s2 p0\)"):
        summarize_model(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2)), (1, 3, 3))


def test_explain_defaults_to_the_papers_classes_at_the_papers_input():
    assert explain("vgg16").input_shape == (3, 32, 32)
    paper = explain("vgg16", (3, 224, 224))
    assert (paper.output_shape, paper.params) == ((1000,), 138_357_544)
    assert explain("vgg16", (3, 224, 224), num_classes=5).output_shape == (5,)
    assert explain("lenet5").input_shape == (1, 28, 28)


def test_renderings_agree_with_the_rows():
    summary = explain("resnet18", (3, 32, 32))
    as_dict = json.loads(json.dumps(summary.to_dict(depth=2)))
    assert as_dict["params"] == 11_173_962 and as_dict["macs"] == summary.macs
    assert len(as_dict["layers"]) == len(summary.rows_at(2))
    assert as_dict["layers"][1] == {**as_dict["layers"][1], "name": "stem.0", "folded": True, "params": 1_856}
    markdown = summary.to_markdown(depth=1).splitlines()
    assert markdown[0] == "### resnet18 on 3x32x32"
    assert markdown[2].startswith("| Layer | Type | Window | Output | Size formula |")
    assert len([line for line in markdown if line.startswith("| ")]) == 1 + len(summary.rows_at(1))
    assert "- Parameters: 11,173,962 (11.2 M): trainable 11,173,962, frozen 0" in markdown
    assert summary.to_table(depth=1).row_count == len(summary.rows_at(1))


def test_comparison_puts_totals_side_by_side():
    comparison = Comparison([explain(name, (3, 224, 224)) for name in ("vgg16", "resnet18", "googlenet")])
    rows = {row["metric"]: row for row in comparison.rows()}
    assert rows["params"] == {
        "metric": "params",
        "vgg16": "138,357,544",
        "resnet18": "11,689,512",
        "googlenet": "6,624,904",
    }
    assert rows["conv/linear layers"]["vgg16"] == "16"
    assert [entry["model"] for entry in comparison.to_dict()] == ["vgg16", "resnet18", "googlenet"]
    assert comparison.to_markdown().splitlines()[0] == "| metric | vgg16 | resnet18 | googlenet |"


def test_depthwise_convolutions_show_their_groups_and_what_they_save():
    from cnnlab.formatting import format_short_count

    summary = explain("mobilenet-v2", (3, 224, 224))
    depthwise = [row for row in summary.rows if row.depthwise]
    assert len(depthwise) == 17 and all(row.type == "Conv2d (depthwise)" for row in depthwise)
    first = next(row for row in depthwise if row.name == "features.2.block.1.0")
    assert (first.window, first.groups, first.params) == ("k3 s2 p1 g96", 96, 9 * 96)
    assert first.macs == 9 * 96 * 56 * 56  # one 3x3 filter per channel at each of 56x56 outputs
    model = meta_model("mobilenet-v2", (3, 224, 224), 1000)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    dense = sum(9 * c.in_channels * c.out_channels for c in convs)  # the same layers with groups=1
    (line,) = [line for line in summary.total_lines() if line.startswith("Depthwise")]
    assert f"would need {format_short_count(dense)} parameters" in line
    assert f"{sum(row.params for row in depthwise):,} parameters" in line
    assert "g3" in summarize_model(nn.Conv2d(6, 12, 3, groups=3), (6, 8, 8)).rows[0].window
    assert not any(line.startswith("Depthwise") for line in explain("resnet18").total_lines())
