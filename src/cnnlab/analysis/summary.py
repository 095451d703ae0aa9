"""A layer-by-layer account of any ``nn.Module``: the machinery behind ``cnnlab explain``.

:func:`summarize_model` runs the model once on the meta device (no memory, no compute, so VGG-16 at
224x224 takes a fraction of a second) and records, for every module call in order: its output
shape, the size formula of its convolution or pooling with the numbers in it, its parameters, its
multiply-accumulates (MACs) and the receptive field and jump of its output. Residual additions and
Inception concatenations get rows of their own; a module called twice counts its parameters once.

The result, :class:`ModelSummary`, is data: render it with ``to_table`` (rich), ``to_markdown``
or ``to_dict`` (JSON), folded to any ``depth``. :func:`explain` does the same for a registry
model by name, and :class:`Comparison` puts the totals of several side by side.

MACs count the multiply-accumulates of convolutions, linear layers and matrix products (the
usual convention; FLOPs are 2 x MACs); batch norm, activations and pooling are not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
from rich.table import Table
from torch import Tensor, nn

from cnnlab import models
from cnnlab.analysis.receptive_field import Field, merge
from cnnlab.errors import ConfigError, UsageError
from cnnlab.formatting import (
    fit_columns,
    format_bytes,
    format_shape,
    format_short_count,
    hidden_columns_note,
    markdown_table,
    table_width,
)
from cnnlab.models.layer_arithmetic import Window
from cnnlab.models.tracing import ShapeTracer, trace

_CONVOLUTIONS = frozenset({"conv1d", "conv2d", "conv3d"})
_TRANSPOSED = frozenset({"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})
_MATMULS = frozenset({"matmul", "__matmul__", "mm", "bmm"})
_ADDMMS = frozenset({"addmm", "baddbmm"})
_ADDS = frozenset({"add", "__add__", "__radd__", "__iadd__", "add_"})
_CATS = frozenset({"cat", "concat", "concatenate"})
COLUMNS = ("Layer", "Type", "Window", "Output", "Size formula", "Params", "MACs", "RF", "Jump")
# On a narrow terminal, left out in this order until the table fits: the jump (the receptive
# field's step), the window (its numbers are in the size formula), then the layer's type.
NARROW_DROP_ORDER = (("Jump",), ("Window",), ("Type",))
SHORT_NAMES_NOTE = (
    "Each layer is named below its parent by the last part of its name (full names: --format markdown)."
)
NARROW_WRAPPED = {"Size formula": 16}  # may wrap: "(28 + 2*2 - 5)/1" on one line, "+ 1 = 28" below


@dataclass
class LayerRow:
    """One module call, or one op written in a container's ``forward`` (an addition, a concat)."""

    name: str  # the module's path ("features.3"); op rows add the op ("layer1.0.add")
    type: str
    depth: int  # 1 for the model's children, 2 for theirs, ...
    is_leaf: bool  # nothing below it: a module without children, or an op row
    window: str = ""  # kernel, stride, padding (dilation, ceil mode): "k3 s1 p1"
    output_shape: tuple[int, ...] | None = None  # without the batch dimension
    formula: str = ""
    params: int = 0  # leaf: its parameters not counted before; container: all below it
    macs: int = 0  # everything run inside it, for one image
    receptive_field: str = ""  # in input pixels; "all" once the spatial dimensions are gone
    jump: str = ""
    groups: int = 1  # a convolution's channel groups; as many as input channels: depthwise
    depthwise: bool = False  # one filter per input channel (groups = C_in): MobileNet's cheap 3x3s


@dataclass
class ModelSummary:
    """Rows and totals for one model on one input; render with ``to_table``/``to_markdown``/``to_dict``."""

    name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    rows: list[LayerRow]
    params: int
    trainable_params: int
    macs: int
    activation_bytes: int  # every distinct non-view tensor of the forward pass, one image
    shown_depth: int | None = None  # how deep a notebook's display (and repr) unfolds the rows

    @property
    def frozen_params(self) -> int:
        return self.params - self.trainable_params

    def rows_at(self, depth: int | None = None) -> list[LayerRow]:
        """The rows down to ``depth`` (all when None); deeper rows are folded into their parent."""
        return [row for row in self.rows if depth is None or row.depth <= depth]

    def totals(self) -> dict:
        return {
            "model": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "frozen_params": self.frozen_params,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            "weight_layers": sum(1 for row in self.rows if row.is_leaf and row.macs > 0),
        }

    def to_dict(self, depth: int | None = None) -> dict:
        layers = []
        for row in self.rows_at(depth):
            entry = asdict(row)
            entry["output_shape"] = list(row.output_shape) if row.output_shape else None
            entry["folded"] = _folded(row, depth)
            layers.append(entry)
        return {**self.totals(), "layers": layers}

    def total_lines(self) -> list[str]:
        return [
            f"Input {format_shape(self.input_shape)} -> output {format_shape(self.output_shape)}",
            f"Parameters: {self.params:,} ({format_short_count(self.params)}): trainable "
            f"{self.trainable_params:,}, frozen {self.frozen_params:,}",
            f"MACs for one image: {self.macs:,} ({format_short_count(self.macs)}; FLOPs = 2 x MACs)",
            f"Activation memory, one image in training: {format_bytes(self.activation_bytes)} "
            "(every layer output kept for the backward pass, float32)",
            *self._grouped_lines(),
        ]

    def _grouped_lines(self) -> list[str]:
        """For a model with depthwise convolutions: their share, and what ordinary ones would cost.

        A conv of ``groups`` groups holds 1/groups of the weights (and MACs) of the ordinary conv
        of the same shape, since each filter sees C_in / groups channels, not all C_in."""
        depthwise = [row for row in self.rows if row.depthwise]
        if not depthwise:
            return []
        params, macs = sum(row.params for row in depthwise), sum(row.macs for row in depthwise)
        dense_params = sum(row.params * row.groups for row in depthwise)
        dense_macs = sum(row.macs * row.groups for row in depthwise)
        pointwise = [row for row in self.rows if row.window.startswith("k1 ") and row.type.startswith("Conv")]
        mixing = sum(row.params for row in pointwise), sum(row.macs for row in pointwise)
        return [
            f"Depthwise convolutions ({len(depthwise)}, one filter per channel): {params:,} parameters "
            f"({params / max(self.params, 1):.1%}) and {format_short_count(macs)} MACs "
            f"({macs / max(self.macs, 1):.1%}); as ordinary convolutions of the same shape (every filter "
            f"over every channel) they would need {format_short_count(dense_params)} parameters and "
            f"{format_short_count(dense_macs)} MACs. The channels are mixed by the "
            f"{len(pointwise)} 1x1 convolutions instead ({format_short_count(mixing[0])} parameters, "
            f"{format_short_count(mixing[1])} MACs).",
        ]

    def to_table(self, depth: int | None = None, width: int | None = None) -> Table:
        """The layers as a rich table. For a terminal ``width`` characters wide, columns are left out
        in the order of :data:`NARROW_DROP_ORDER` until it fits, and before the layer's type goes,
        each layer is named below its parent by the last part of its name (the caption says so)."""
        rows, columns, short = self._named_cells(depth, short=False), list(COLUMNS), False
        if width is not None:
            columns = fit_columns(rows, COLUMNS, NARROW_DROP_ORDER[:2], width, NARROW_WRAPPED)
            if table_width(rows, columns, NARROW_WRAPPED) > width:
                rows, short = self._named_cells(depth, short=True), True
                columns = fit_columns(rows, COLUMNS, NARROW_DROP_ORDER, width, NARROW_WRAPPED)
        hidden = [column for column in COLUMNS if column not in columns]
        notes = list(self.total_lines())
        if hidden:
            notes.append(hidden_columns_note(hidden))
        if short:
            notes.append(SHORT_NAMES_NOTE)
        table = Table(title=f"{self.name} on {format_shape(self.input_shape)}", caption="\n".join(notes))
        for column in columns:
            numeric = column in ("Params", "MACs", "RF", "Jump")
            table.add_column(
                column,
                justify="right" if numeric else "left",
                no_wrap=column not in NARROW_WRAPPED and column != "Layer",
                overflow="fold" if column == "Layer" else "ellipsis",  # a name too long wraps, never cut
                min_width=NARROW_WRAPPED.get(column),
            )
        for row in rows:
            table.add_row(*(row[column] for column in columns))
        return table

    def _named_cells(self, depth: int | None, short: bool) -> list[dict[str, str]]:
        """The table's cells by column, each name indented by its depth: the full name, or
        (``short``) only its last part, below its parent's row."""
        return [
            dict(zip(COLUMNS, _cells(row, depth, indent=True, short=short), strict=True))
            for row in self.rows_at(depth)
        ]

    def to_markdown(self, depth: int | None = None) -> str:
        table = markdown_table(
            COLUMNS, [_cells(row, depth, indent=False) for row in self.rows_at(depth)], compact=True
        )
        totals = "\n".join(f"- {line}" for line in self.total_lines())
        return f"### {self.name} on {format_shape(self.input_shape)}\n\n{table}\n{totals}\n"

    def _repr_html_(self) -> str:
        """In a notebook: the table of ``cnnlab explain``, size formulas included, and the totals."""
        from cnnlab.display import html_table

        rows = [_cells(row, self.shown_depth, indent=True) for row in self.rows_at(self.shown_depth)]
        title = f"{self.name} on {format_shape(self.input_shape)}"
        right = ("Params", "MACs", "RF", "Jump")
        return html_table(COLUMNS, rows, title=title, notes=self.total_lines(), right=right)

    def __repr__(self) -> str:
        from cnnlab.display import rich_text

        return rich_text(self.to_table(self.shown_depth))


@dataclass
class Comparison:
    """The totals of several summaries side by side (one column a model)."""

    summaries: list[ModelSummary]

    def rows(self) -> list[dict[str, str]]:
        metrics = {
            "input": lambda s: format_shape(s.input_shape),
            "output": lambda s: format_shape(s.output_shape),
            "params": lambda s: f"{s.params:,}",
            "trainable": lambda s: f"{s.trainable_params:,}",
            "MACs": lambda s: f"{s.macs:,}",
            "MACs (short)": lambda s: format_short_count(s.macs),
            "activations": lambda s: format_bytes(s.activation_bytes),
            "conv/linear layers": lambda s: str(s.totals()["weight_layers"]),
        }
        return [
            {"metric": metric, **{s.name: value(s) for s in self.summaries}}
            for metric, value in metrics.items()
        ]

    def columns(self) -> list[str]:
        return ["metric", *(s.name for s in self.summaries)]

    def to_dict(self) -> list[dict]:
        return [s.totals() for s in self.summaries]

    def to_table(self) -> Table:
        table = Table(title="Comparison")
        for column in self.columns():
            table.add_column(column, justify="left" if column == "metric" else "right")
        for row in self.rows():
            table.add_row(*(row[column] for column in self.columns()))
        return table

    def to_markdown(self) -> str:
        rows = [[row[c] for c in self.columns()] for row in self.rows()]
        return markdown_table(self.columns(), rows, compact=True)

    def _repr_html_(self) -> str:
        from cnnlab.display import html_table

        columns = self.columns()
        rows = [[row[c] for c in columns] for row in self.rows()]
        return html_table(columns, rows, title="Comparison", right=columns[1:])

    def __repr__(self) -> str:
        from cnnlab.display import rich_text

        return rich_text(self.to_table())


def summarize_model(model: nn.Module, input_shape: Sequence[int], name: str | None = None) -> ModelSummary:
    """Summarise ``model`` on one image of ``input_shape`` (C, H, W): works for any ``nn.Module``.

    The model runs on the meta device in eval mode (training-only parts such as auxiliary heads
    do not run, but their parameters are in the totals). Raises ``ModelError`` naming the layer
    when the input is too small.
    """
    tracer = _SummaryTracer(model)
    output = trace(model, tuple(input_shape), tracer=tracer)
    tracer.finish()
    parameters = list(model.parameters())  # shared parameters appear once
    out = _first_tensor(output)
    return ModelSummary(
        name=name or type(model).__name__,
        input_shape=tuple(input_shape),
        output_shape=tuple(out.shape[1:]) if out is not None else None,
        rows=tracer.rows,
        params=sum(p.numel() for p in parameters),
        trainable_params=sum(p.numel() for p in parameters if p.requires_grad),
        macs=tracer.macs,
        activation_bytes=tracer.activation_bytes,
    )


def explain(
    name: str, input_shape: Sequence[int] | None = None, num_classes: int | None = None, **kwargs
) -> ModelSummary:
    """Summarise registry model ``name`` (built on the meta device, so any size is cheap).

    ``input_shape`` defaults to the model's ``default_input``; ``num_classes`` to the paper's class
    count when the input is the paper's (1000 for ImageNet models at 224x224x3), else 10.
    """
    info = models.get_info(name)
    shape = tuple(input_shape or info.default_input)
    if len(shape) != 3:
        raise ConfigError(f"An input shape is C x H x W, e.g. 3x32x32, not {format_shape(shape)}.")
    classes = num_classes or (info.paper_classes if shape == info.paper_input else 10)
    with torch.device("meta"):
        model = models.create(name, classes, shape[0], shape[1:], **kwargs)
    return summarize_model(model, shape, name=name)


class _SummaryTracer(ShapeTracer):
    """Records a :class:`LayerRow` per module call and per notable op, with fields and MACs."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.rows: list[LayerRow] = []
        self.open_rows: list[LayerRow | None] = []  # parallel to self.stack; None for the model itself
        self.fields: dict[int, Field | None] = {}  # id(tensor) -> its field (None: the whole input)
        self.alive: list[Tensor] = []  # keeps traced tensors alive, so that their ids stay unique
        self.counted: set[int] = set()  # ids of parameters already shown in a leaf row
        self.counted_outputs: set[int] = set()  # ids of tensors already in activation_bytes
        self.calls: Counter[int] = Counter()  # calls per module id
        self.op_names: Counter[str] = Counter()
        self.paths_with_rows: set[str] = set()
        self.headers: list[LayerRow] = []  # rows of containers that are never called (ModuleList)
        self.macs = 0
        self.activation_bytes = 0

    def enter_module(self, path: str, module: nn.Module, inputs: tuple) -> None:
        is_root = module is self.model
        is_leaf = next(module.children(), None) is None
        if is_root:
            x = _first_tensor(inputs)
            if x is not None and x.dim() >= 3:
                self._remember(x, Field.of_input(x.dim() - 2))
            if not is_leaf:
                self.open_rows.append(None)
                return
        self._add_missing_ancestors(path)
        self.paths_with_rows.add(path)
        self.calls[id(module)] += 1
        first_call = self.calls[id(module)] == 1
        row = LayerRow(
            name=(path or type(module).__name__)
            + ("" if first_call else f" (call {self.calls[id(module)]})"),
            type=type(module).__name__ + ("" if first_call else " (shared)"),
            depth=path.count(".") + 1 if path else 1,
            is_leaf=is_leaf,
            params=self._new_params(module, is_leaf, first_call),
        )
        self.rows.append(row)
        self.open_rows.append(row)

    def _add_missing_ancestors(self, path: str) -> None:
        """Header rows for containers that hold modules but are never called themselves
        (``nn.ModuleList``, ``nn.ModuleDict``), so the tree has no gaps."""
        parts = path.split(".")
        for end in range(1, len(parts)):
            ancestor = ".".join(parts[:end])
            if ancestor in self.paths_with_rows:
                continue
            self.paths_with_rows.add(ancestor)
            module = self.model.get_submodule(ancestor)
            params = sum(p.numel() for p in module.parameters())
            row = LayerRow(name=ancestor, type=type(module).__name__, depth=end, is_leaf=False, params=params)
            self.rows.append(row)
            self.headers.append(row)

    def finish(self) -> None:
        """Give header rows the MACs of their children (deepest headers first). They keep no output
        shape: a container that is never called has no output of its own."""
        for header in sorted(self.headers, key=lambda row: -row.depth):
            prefix = header.name + "."
            header.macs = sum(
                row.macs for row in self.rows if row.depth == header.depth + 1 and row.name.startswith(prefix)
            )

    def exit_module(self, path: str, module: nn.Module, output: object) -> None:
        row = self.open_rows.pop()
        out = _first_tensor(output)
        if row is None or out is None:
            return
        row.output_shape = tuple(out.shape[1:])
        self._describe_field(row, out)

    def after_op(self, name: str, args: tuple, kwargs: dict, output: object, window: Window | None) -> None:
        out = _first_tensor(output)
        macs = _op_macs(name, args, kwargs, out)
        self.macs += macs
        for row in self.open_rows:
            if row is not None:
                row.macs += macs
        tracked = [t for t in _tensors(args, kwargs) if id(t) in self.fields]
        if out is None or not tracked:  # shape queries, ops on parameters
            return
        self._remember(out, self._field_after(window, tracked, out))
        self._count_activation(out)
        parent = self.open_rows[-1] if self.open_rows else None
        x = tracked[0]
        if parent is not None and parent.is_leaf:
            if window is not None and not parent.window:
                parent.window, parent.formula = window.describe(), window.formula(tuple(x.shape[2:]))
                parent.groups = window.groups
                parent.depthwise = window.kind == "conv" and window.groups > 1 and window.groups == x.shape[1]
                if parent.depthwise:
                    parent.type += " (depthwise)"
            return
        self._maybe_op_row(name, args, kwargs, tracked, out, window, macs)

    def _maybe_op_row(
        self,
        name: str,
        args: tuple,
        kwargs: dict,
        tracked: list[Tensor],
        out: Tensor,
        window: Window | None,
        macs: int,
    ) -> None:
        """A row for an op written in a container's forward: a window op, a product, an add or a concat."""
        spatial = [t for t in tracked if t.dim() >= 3]
        if window is not None:
            kind, text = f"{name} (functional)", window.formula(tuple(tracked[0].shape[2:]))
        elif macs:
            kind, text = f"{name} (functional)", ""
        elif name in _ADDS and len(spatial) == 2 and spatial[0].shape == spatial[1].shape:
            kind, text = "Add", " + ".join(format_shape(t.shape[1:]) for t in spatial) + " (paths merged)"
        elif name in _CATS and len(spatial) >= 2 and _cat_dim(args, kwargs) == 1:
            widths = [t.shape[1] for t in spatial]
            kind, text = "Concat", f"channels {' + '.join(map(str, widths))} = {sum(widths)}"
        else:
            return
        path = self.stack[-1][0] if self.stack else ""
        base = f"{path}.{name}" if path else name
        self.op_names[base] += 1
        count = self.op_names[base]
        row = LayerRow(
            name=base if count == 1 else f"{base}#{count}",
            type=kind,
            depth=(path.count(".") + 2) if path else 1,
            is_leaf=True,
            window=window.describe() if window else "",
            output_shape=tuple(out.shape[1:]),
            formula=text,
            macs=macs,
        )
        self._describe_field(row, out)
        self.rows.append(row)

    def _new_params(self, module: nn.Module, is_leaf: bool, first_call: bool) -> int:
        if not is_leaf:
            return sum(p.numel() for p in module.parameters()) if first_call else 0
        fresh = [p for p in module.parameters() if id(p) not in self.counted]
        self.counted.update(id(p) for p in fresh)
        return sum(p.numel() for p in fresh)

    def _field_after(self, window: Window | None, tracked: list[Tensor], out: Tensor) -> Field | None:
        if out.dim() < 3:
            return None  # flattened: every unit sees the whole input
        x = tracked[0]
        if window is not None:
            field_in = self.fields[id(x)]
            return None if field_in is None else field_in.through(window, x.shape[2:], out.shape[2:])
        spatial = [self.fields[id(t)] for t in tracked if self.fields[id(t)] is not None]
        if not spatial:
            return None
        merged = merge(spatial)
        if x.dim() == out.dim() and x.shape[2:] != out.shape[2:]:
            return merged.resampled(x.shape[2:], out.shape[2:])
        return merged

    def _remember(self, tensor: Tensor, field_: Field | None) -> None:
        self.fields[id(tensor)] = field_
        self.alive.append(tensor)

    def _count_activation(self, out: Tensor) -> None:
        # In-place ops return their input (already counted); views share their base's memory.
        if id(out) in self.counted_outputs or out._is_view():
            return
        self.counted_outputs.add(id(out))
        self.activation_bytes += out.numel() * out.element_size()

    def _describe_field(self, row: LayerRow, out: Tensor) -> None:
        if id(out) not in self.fields:
            return
        field_ = self.fields[id(out)]
        row.receptive_field = "all" if field_ is None else field_.size_text()
        row.jump = "" if field_ is None else field_.jump_text()


def _op_macs(name: str, args: tuple, kwargs: dict, out: Tensor | None) -> int:
    """Multiply-accumulates of one op on a batch of one; 0 for ops that are not products."""
    if out is None:
        return 0
    if name in _CONVOLUTIONS:  # weight (C_out, C_in / groups, *kernel)
        return out.numel() * _argument(args, kwargs, 1, "weight")[0].numel()
    if name in _TRANSPOSED:  # weight (C_in, C_out / groups, *kernel), applied at every input position
        return _argument(args, kwargs, 0, "input").numel() * _argument(args, kwargs, 1, "weight")[0].numel()
    if name == "linear":
        return out.numel() * _argument(args, kwargs, 1, "weight").shape[-1]
    if name in _MATMULS:
        return out.numel() * args[0].shape[-1]
    if name in _ADDMMS:
        return out.numel() * args[1].shape[-1]
    return 0


def _argument(args: tuple, kwargs: dict, index: int, keyword: str):
    return args[index] if len(args) > index else kwargs[keyword]


def _cat_dim(args: tuple, kwargs: dict) -> int:
    return args[1] if len(args) > 1 else kwargs.get("dim", 0)


def _tensors(args: tuple, kwargs: dict) -> Iterator[Tensor]:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            yield value
        elif isinstance(value, list | tuple):
            yield from (v for v in value if isinstance(v, Tensor))


def _first_tensor(value: object) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, list | tuple):
        return next((v for v in value if isinstance(v, Tensor)), None)
    if isinstance(value, dict):
        return next((v for v in value.values() if isinstance(v, Tensor)), None)
    return None


def _folded(row: LayerRow, depth: int | None) -> bool:
    return not row.is_leaf and depth is not None and row.depth == depth


def _cells(row: LayerRow, depth: int | None, indent: bool, short: bool = False) -> list[str]:
    show_numbers = row.is_leaf or _folded(row, depth)
    name = row.name.rsplit(".", 1)[-1] if short else row.name
    name = ("  " * (row.depth - 1) + name) if indent else name
    return [
        name + (" (folded)" if _folded(row, depth) else ""),
        row.type,
        row.window,
        format_shape(row.output_shape),
        row.formula,
        f"{row.params:,}" if show_numbers else "",
        f"{row.macs:,}" if show_numbers else "",
        row.receptive_field,
        row.jump,
    ]


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``"3x32x32"`` -> ``(3, 32, 32)``; anything else is a usage error."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 3 or not all(part.strip().isdigit() and int(part) > 0 for part in parts):
        raise UsageError(
            f"--input must be CxHxW with positive integers, e.g. 3x32x32 or 1x28x28, not '{text}'."
        )
    return tuple(int(part) for part in parts)
