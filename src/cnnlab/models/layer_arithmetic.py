"""The arithmetic of sliding windows: how convolutions and poolings change a feature map's size.

For a window of size F, stride S, padding P and dilation D over N pixels, PyTorch computes::

    floor((N + 2P - D(F - 1) - 1) / S) + 1        which is (N + 2P - F)/S + 1 when D = 1

(``ceil`` instead of ``floor`` for pooling with ``ceil_mode``, minus one when that last window
would start in the right padding). :class:`Window` holds one layer's geometry, computes its output
size exactly as PyTorch does, and writes the formula with the numbers in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Functional ops (as a TorchFunctionMode sees them) that slide a window, by family.
_CONV = ("conv1d", "conv2d", "conv3d")
_CONV_TRANSPOSE = ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
_MAX_POOL = ("max_pool1d", "max_pool2d", "max_pool3d", "_max_pool1d", "_max_pool2d", "_max_pool3d")
_MAX_POOL += ("max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices")
_AVG_POOL = ("avg_pool1d", "avg_pool2d", "avg_pool3d")
_ADAPTIVE = ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d")
_ADAPTIVE += ("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")
_ADAPTIVE += tuple(f"_{name}" for name in _ADAPTIVE)

# Positional parameter names of each op family, after the input.
_ARGUMENTS = {
    "conv": ("weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose": ("weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "max_pool": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "adaptive": ("output_size", "return_indices"),
}
DIMENSION_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


@dataclass(frozen=True)
class Window:
    """The geometry of one sliding-window op over ``len(kernel)`` spatial dimensions."""

    kind: str  # "conv", "conv_transpose", "max_pool", "avg_pool" or "adaptive"
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...] | str  # "same" is kept as a word: PyTorch chooses the numbers
    dilation: tuple[int, ...]
    ceil_mode: bool = False
    output_padding: tuple[int, ...] = ()
    adaptive_size: tuple[int | None, ...] = ()
    groups: int = 1  # a convolution's channel groups: each filter sees C_in / groups channels

    def output_sizes(self, sizes: Sequence[int]) -> tuple[int, ...]:
        return tuple(self._output_size(i, n) for i, n in enumerate(sizes))

    def formulas(self, sizes: Sequence[int]) -> tuple[str, ...]:
        return tuple(self._formula(i, n) for i, n in enumerate(sizes))

    def formula(self, sizes: Sequence[int]) -> str:
        """One formula when every dimension has the same one, else ``H: ...; W: ...``."""
        per_dim = self.formulas(sizes)
        if len(set(per_dim)) == 1:
            return per_dim[0]
        names = DIMENSION_NAMES.get(len(sizes), tuple(f"dim{i}" for i in range(len(sizes))))
        return "; ".join(f"{name[0].upper()}: {text}" for name, text in zip(names, per_dim, strict=True))

    def describe(self) -> str:
        """Kernel, stride, padding (and dilation, ceil_mode where they matter) as short text."""
        if self.kind == "adaptive":
            return f"adaptive to {_dims(tuple('-' if s is None else s for s in self.adaptive_size))}"
        parts = [f"k{_dims(self.kernel)}", f"s{_dims(self.stride)}", f"p{_dims(self.padding)}"]
        if any(d != 1 for d in self.dilation):
            parts.append(f"d{_dims(self.dilation)}")
        if self.ceil_mode:
            parts.append("ceil")
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        return " ".join(parts)

    def _output_size(self, i: int, n: int) -> int:
        if self.kind == "adaptive":
            target = self.adaptive_size[i]
            return n if target is None else target
        if self.padding == "same":
            return n
        k, s, p, d = self.kernel[i], self.stride[i], self.padding[i], self.dilation[i]
        if self.kind == "conv_transpose":
            return (n - 1) * s - 2 * p + d * (k - 1) + self.output_padding[i] + 1
        numerator = n + 2 * p - d * (k - 1) - 1
        if not self.ceil_mode:
            return numerator // s + 1
        out = _ceil_div(numerator, s) + 1
        # PyTorch drops a last window that would start in the right padding.
        return out - 1 if (out - 1) * s >= n + p else out

    def _formula(self, i: int, n: int) -> str:
        out = self._output_size(i, n)
        if self.kind == "adaptive":
            return f"adaptive: {n} -> {out}"
        if self.padding == "same":
            return f"'same' padding: {n} -> {out}"
        k, s, p, d = self.kernel[i], self.stride[i], self.padding[i], self.dilation[i]
        if self.kind == "conv_transpose":
            kernel_term = f"{d}*({k} - 1)" if d != 1 else f"({k} - 1)"
            extra = f" + {self.output_padding[i]}" if self.output_padding[i] else ""
            return f"({n} - 1)*{s} - 2*{p} + {kernel_term}{extra} + 1 = {out}"
        kernel_term = f"{k}" if d == 1 else f"{d}*({k} - 1) - 1"
        text = f"({n} + 2*{p} - {kernel_term})/{s} + 1"
        numerator = n + 2 * p - d * (k - 1) - 1
        if numerator % s == 0:
            return f"{text} = {out}"
        rounding = "ceil" if self.ceil_mode else "floor"
        rounded = (_ceil_div(numerator, s) if self.ceil_mode else numerator // s) + 1
        text = f"{text} = {rounding}({numerator / s:.4g}) + 1 = {rounded}"
        if rounded != out:
            text += f" - 1 (the last window would start in the padding) = {out}"
        return text


def window_of_call(name: str, args: Sequence, kwargs: dict, spatial_dims: int) -> Window | None:
    """The :class:`Window` of a functional call (``torch.conv2d``, ``F.max_pool2d``, ...), else None.

    ``args`` and ``kwargs`` are as the op received them, input first.
    """
    kind = _kind_of(name)
    if kind is None:
        return None
    bound = dict(zip(_ARGUMENTS[kind], args[1:], strict=False))  # trailing defaults may be absent
    bound.update(kwargs)
    n = spatial_dims
    if kind == "adaptive":
        return Window(kind, (), (), (0,) * n, (1,) * n, adaptive_size=_adaptive(bound["output_size"], n))
    if kind in ("conv", "conv_transpose"):
        kernel = tuple(bound["weight"].shape[2:])
        padding = bound.get("padding", 0)
        return Window(
            kind,
            kernel=kernel,
            stride=_expand(bound.get("stride", 1), n),
            padding=_conv_padding(padding, n),
            dilation=_expand(bound.get("dilation", 1), n),
            output_padding=_expand(bound.get("output_padding", 0), n),
            groups=int(bound.get("groups", 1)),
        )
    kernel = _expand(bound["kernel_size"], n)
    stride = bound.get("stride")
    return Window(
        kind,
        kernel=kernel,
        stride=kernel if stride is None or stride == [] or stride == () else _expand(stride, n),
        padding=_expand(bound.get("padding", 0), n),
        dilation=_expand(bound.get("dilation", 1), n),
        ceil_mode=bool(bound.get("ceil_mode", False)),
    )


def _kind_of(name: str) -> str | None:
    for kind, names in (
        ("conv", _CONV),
        ("conv_transpose", _CONV_TRANSPOSE),
        ("max_pool", _MAX_POOL),
        ("avg_pool", _AVG_POOL),
        ("adaptive", _ADAPTIVE),
    ):
        if name in names:
            return kind
    return None


def _expand(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    return values * n if len(values) == 1 else values


def _conv_padding(value: int | str | Sequence[int], n: int) -> tuple[int, ...] | str:
    if value == "valid":
        return (0,) * n
    if value == "same":
        return "same"
    return _expand(value, n)


def _adaptive(value: int | None | Sequence[int | None], n: int) -> tuple[int | None, ...]:
    if value is None or isinstance(value, int):
        return (value,) * n
    return tuple(value) * n if len(value) == 1 else tuple(value)


def _dims(values: tuple | str) -> str:
    """``(3, 3)`` -> ``3``; ``(1, 7)`` -> ``1x7``."""
    if isinstance(values, str):
        return values
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
