"""The size formula against PyTorch's own rounding, and the formula text with its numbers."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from cnnlab.models.layer_arithmetic import Window


def conv(kernel, stride=1, padding=0, dilation=1) -> Window:
    return Window("conv", (kernel,), (stride,), (padding,), (dilation,))


def pool(kind, kernel, stride, padding=0, dilation=1, ceil_mode=False) -> Window:
    return Window(kind, (kernel,), (stride,), (padding,), (dilation,), ceil_mode=ceil_mode)


def pytorch_size(op, n: int) -> int:
    """The output length PyTorch computes, 0 when it refuses (output below 1)."""
    try:
        return op(torch.zeros(1, 1, n)).shape[-1]
    except RuntimeError:
        return 0


SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 28, 31)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [c for c in itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2))],
)
def test_convolution_sizes_match_pytorch(kernel, stride, padding, dilation):
    weight = torch.zeros(1, 1, kernel)
    window = conv(kernel, stride, padding, dilation)
    for n in SIZES:
        expected = pytorch_size(lambda x: F.conv1d(x, weight, None, stride, padding, dilation), n)
        assert max(window.output_sizes((n,))[0], 0) == expected, (n, window)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "ceil_mode"),
    [
        c
        for c in itertools.product((1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (1, 2), (False, True))
        if c[2] <= c[0] // 2
    ],
)
def test_max_pool_sizes_match_pytorch_floor_and_ceil(kernel, stride, padding, dilation, ceil_mode):
    window = pool("max_pool", kernel, stride, padding, dilation, ceil_mode)
    for n in SIZES:
        expected = pytorch_size(lambda x: F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode), n)
        assert max(window.output_sizes((n,))[0], 0) == expected, (n, window)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode"),
    [c for c in itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (False, True)) if c[2] <= c[0] // 2],
)
def test_avg_pool_sizes_match_pytorch(kernel, stride, padding, ceil_mode):
    window = pool("avg_pool", kernel, stride, padding, ceil_mode=ceil_mode)
    for n in SIZES:
        expected = pytorch_size(lambda x: F.avg_pool1d(x, kernel, stride, padding, ceil_mode), n)
        assert max(window.output_sizes((n,))[0], 0) == expected, (n, window)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "output_padding"), [(3, 2, 1, 1), (4, 2, 1, 0), (5, 3, 2, 2)]
)
def test_transposed_convolution_sizes_match_pytorch(kernel, stride, padding, output_padding):
    weight = torch.zeros(1, 1, kernel)
    window = Window(
        "conv_transpose", (kernel,), (stride,), (padding,), (1,), output_padding=(output_padding,)
    )
    for n in (1, 4, 7, 16):
        out = F.conv_transpose1d(torch.zeros(1, 1, n), weight, None, stride, padding, output_padding)
        assert window.output_sizes((n,)) == (out.shape[-1],)


@pytest.mark.parametrize(
    ("window", "n", "text"),
    [
        (conv(3, 1, 1), 32, "(32 + 2*1 - 3)/1 + 1 = 32"),
        (conv(11, 4, 2), 224, "(224 + 2*2 - 11)/4 + 1 = floor(54.25) + 1 = 55"),
        (pool("max_pool", 3, 2), 6, "(6 + 2*0 - 3)/2 + 1 = floor(1.5) + 1 = 2"),
        (pool("max_pool", 3, 2), 2, "(2 + 2*0 - 3)/2 + 1 = floor(-0.5) + 1 = 0"),
        (conv(3, 1, 2, dilation=2), 32, "(32 + 2*2 - 2*(3 - 1) - 1)/1 + 1 = 32"),
        (pool("max_pool", 3, 2, ceil_mode=True), 112, "(112 + 2*0 - 3)/2 + 1 = ceil(54.5) + 1 = 56"),
        (
            pool("max_pool", 2, 2, 1, ceil_mode=True),
            5,
            "(5 + 2*1 - 2)/2 + 1 = ceil(2.5) + 1 = 4 - 1 (the last window would start in the padding) = 3",
        ),
    ],
)
def test_formula_shows_the_numbers_and_the_rounding_where_it_bites(window, n, text):
    assert window.formula((n,)) == text


def test_the_last_window_rule_is_what_pytorch_does():
    assert F.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3


def test_transposed_and_adaptive_formulas():
    transposed = Window("conv_transpose", (3,), (2,), (1,), (1,), output_padding=(1,))
    assert transposed.formula((16,)) == "(16 - 1)*2 - 2*1 + (3 - 1) + 1 + 1 = 32"
    adaptive = Window("adaptive", (), (), (0, 0), (1, 1), adaptive_size=(6, 6))
    assert adaptive.formula((13, 13)) == "adaptive: 13 -> 6"
    assert adaptive.describe() == "adaptive to 6"


def test_rectangular_windows_give_one_formula_per_dimension():
    window = Window("conv", (1, 7), (1, 1), (0, 3), (1, 1))
    assert window.describe() == "k1x7 s1 p0x3"
    assert window.formula((17, 17)) == "H: (17 + 2*0 - 1)/1 + 1 = 17; W: (17 + 2*3 - 7)/1 + 1 = 17"


def test_describe_shows_dilation_and_ceil_mode_only_when_set():
    assert conv(3, 1, 1).describe() == "k3 s1 p1"
    assert conv(3, 1, 2, dilation=2).describe() == "k3 s1 p2 d2"
    assert pool("max_pool", 3, 2, ceil_mode=True).describe() == "k3 s2 p0 ceil"
