"""LeNet-5. LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to document
recognition", Proceedings of the IEEE, 1998 (Section II.B, Fig. 2, Table I).

As in the paper: C1 6@5x5; S2 trainable subsampling (the 2x2 sum times a coefficient plus a bias,
per map); C3 16@5x5 wired by Table I (each map sees 3, 4 or all 6 S2 maps); S4; C5 120@5x5; F6 84;
every layer followed by the squashing function 1.7159 tanh(2a/3); weights and biases uniform in
+-2.4 / fan-in. Trainable parameters C1..F6: 156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000,
the paper's "60,000 trainable free parameters".

Changed: the output layer of Euclidean RBF units with hand-set +-1 codes becomes a linear layer
(84*10 + 10 = 850 parameters) trained with cross-entropy, as modern reimplementations do; the
total on the paper's 1x32x32 input is 60,850. For MNIST's 28x28 images C1 pads by 2: the paper
put the 28x28 digits into 32x32 images so that strokes reach the centre of C5's receptive fields.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlab.models.registry import register
from cnnlab.models.tracing import output_shape

# Table I: the S2 maps that feed each of C3's 16 maps.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip
PAPER_SIZE = 32  # the paper's input: 32x32


SQUASH_A, SQUASH_S = 1.7159, 2.0 / 3.0  # the paper's amplitude A and slope S


class Squash(nn.Module):
    """The paper's sigmoid: f(a) = A tanh(S a), A = 1.7159, S = 2/3 (so that f(1) = 1).

    Computed as 2A sigmoid(2S a) - A, the same function (tanh(z) = 2 sigmoid(2z) - 1): torch's CPU
    tanh is many times slower than its sigmoid, and the squashing runs on every unit of every layer
    (a third of a training step with tanh). Forward and backward, this form takes 0.58x the CPU time
    in float32 and 0.62x in bfloat16 (benchmarks/README.md). The two forms differ by float rounding
    only, a few units in the last place of A (tests/models/test_lenet.py).
    """

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x * (2.0 * SQUASH_S)) * (2.0 * SQUASH_A) - SQUASH_A


class Subsampling(nn.Module):
    """S2/S4: each unit adds its 2x2 inputs, multiplies by its map's coefficient, adds a bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        # The 2x2 sum times the coefficient, written as the mean times 4 x coefficient: the same
        # bits as avg_pool2d(divisor_override=1) times it, as scaling by 4 is exact in binary
        # floating point, one pass over C1's maps fewer, and it exports faithfully to ONNX, whose
        # AveragePool has no divisor override.
        coefficient = self.weight.view(1, -1, 1, 1) * 4.0
        return F.avg_pool2d(x, 2) * coefficient + self.bias.view(1, -1, 1, 1)


class TableConv(nn.Module):
    """C3: each output map convolves only the input maps its row of ``table`` lists.

    The connected kernels (the paper's 1,500 weights + 16 biases) live in one compact parameter.
    Each forward scatters them into a dense (16, 6, 5, 5) kernel whose unconnected entries stay
    zero: one dense convolution runs about 10x faster on a CPU than grouped ones, and gradients
    still reach only the connected weights. (So ``explain`` counts the dense kernel's MACs.)
    """

    def __init__(self, table: tuple[tuple[int, ...], ...], in_maps: int, kernel_size: int):
        super().__init__()
        self.out_maps, self.in_maps = len(table), in_maps
        # Index of each connected (output map, input map) pair in the flattened dense kernel; built
        # in Python so that the module also builds on the meta device.
        pairs = [out_map * in_maps + in_map for out_map, inputs in enumerate(table) for in_map in inputs]
        self.register_buffer("connections", torch.tensor(pairs), persistent=False)
        self.maps_seen = [len(inputs) for inputs in table]
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(len(table)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's init, uniform in +-2.4 / F, with F the fan-in of each output map."""
        area = self.weight[0].numel()
        bias_bounds = [2.4 / (seen * area) for seen in self.maps_seen]
        weight_bounds = [
            bound for bound, seen in zip(bias_bounds, self.maps_seen, strict=True) for _ in range(seen)
        ]
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(self.weight.new_tensor(weight_bounds).view(-1, 1, 1))
            self.bias.uniform_(-1, 1).mul_(self.bias.new_tensor(bias_bounds))

    def dense_weight(self) -> Tensor:
        kernel = self.weight.new_zeros(self.out_maps * self.in_maps, *self.weight.shape[1:])
        kernel = kernel.index_copy(0, self.connections, self.weight)
        return kernel.view(self.out_maps, self.in_maps, *self.weight.shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)


class C5Convolution(nn.Conv2d):
    """C5: a convolution, which on the paper's 5x5 input maps is a full connection.

    The paper calls C5 a convolutional layer "because if LeNet-5 input were made bigger with
    everything else kept constant, the feature map dimension would be larger than 1x1". Where its
    output is 1x1 (the paper's 32x32 input, MNIST's padded 28x28), the convolution is one matrix
    product of the flattened maps with the flattened kernels, and is computed so: oneDNN's
    convolution kernels take 2.9x the CPU time of that product for this shape (forward and
    backward, batch 256, 1 thread, AMD EPYC AVX2), a tenth of LeNet-5's training step. The
    parameters, the result (up to float rounding) and what ``explain`` shows are the convolution's.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != self.kernel_size or self.padding != (0, 0) or _ops_are_watched():
            return super().forward(x)
        # flatten(1) reads (channel, row, column), the order of the kernel's own flattening.
        return F.linear(x.flatten(1), self.weight.flatten(1), self.bias)[:, :, None, None]


def _ops_are_watched() -> bool:
    """True while a TorchFunctionMode sees every op (``explain``'s layer tracer, an exporter): C5
    then runs as the convolution it is, so that they report its window, size formula and
    receptive field as a convolution's."""
    stack_depth = getattr(torch._C, "_len_torch_function_stack", None)
    return stack_depth is not None and stack_depth() > 0


class LeNet5(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, input_size: tuple[int, int]):
        super().__init__()
        pad = max(0, (PAPER_SIZE - min(input_size) + 1) // 2)  # 28x28 -> 32x32, as in the paper
        self.features = nn.Sequential(
            OrderedDict(
                c1=nn.Conv2d(in_channels, 6, 5, padding=pad), f1=Squash(),
                s2=Subsampling(6), f2=Squash(),
                c3=TableConv(C3_TABLE, 6, 5), f3=Squash(),
                s4=Subsampling(16), f4=Squash(),
                c5=C5Convolution(16, 120, 5), f5=Squash(),
            )
        )  # fmt: skip
        flat = math.prod(output_shape(self.features, (in_channels, *input_size), "features"))
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(), f6=nn.Linear(flat, 84), f7=Squash(), output=nn.Linear(84, num_classes)
            )
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # Paper, Appendix A: uniform in [-2.4/F, 2.4/F], F the fan-in of the unit (C3: TableConv's own).
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                fan_in = module.weight[0].numel()
            elif isinstance(module, Subsampling):
                fan_in = 4
            else:
                continue
            bound = 2.4 / fan_in
            nn.init.uniform_(module.weight, -bound, bound)
            nn.init.uniform_(module.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@register(
    "lenet5",
    family="lenet",
    paper="LeCun et al., Gradient-based learning applied to document recognition",
    year=1998,
    default_input=(1, 28, 28),
    paper_input=(1, 32, 32),
)
def lenet5(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> LeNet5:
    """LeNet-5 as in the paper (C3 connection table, trainable subsampling), linear output layer."""
    return LeNet5(num_classes, in_channels, input_size)
