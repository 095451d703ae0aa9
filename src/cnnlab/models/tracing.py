"""Trace a model's forward pass on the meta device: shapes without memory or compute.

:class:`ShapeTracer` runs any ``nn.Module`` on ``meta`` tensors (its parameters swapped for meta
copies, so a 138M-parameter VGG costs nothing), knows at every op which module is running, and
checks every convolution and pooling *before* PyTorch runs it: when a feature map would shrink
below one pixel it raises :class:`InputTooSmallError` naming the layer and showing the formula,
instead of letting a PyTorch shape traceback reach the user. ``cnnlab.analysis.summary`` builds on
it to record every layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode

from cnnlab.errors import ModelError
from cnnlab.formatting import format_shape
from cnnlab.models.layer_arithmetic import DIMENSION_NAMES, Window, window_of_call


class InputTooSmallError(ModelError):
    """A feature map would shrink below one pixel at ``layer``."""

    def __init__(self, layer: str, layer_type: str, window: Window, sizes: Sequence[int]):
        self.layer, self.layer_type, self.window = layer, layer_type, window
        outputs = window.output_sizes(sizes)
        dim = next(i for i, size in enumerate(outputs) if size < 1)
        names = DIMENSION_NAMES.get(len(sizes), ("size",) * len(sizes))
        self.formula = window.formulas(sizes)[dim]
        super().__init__(
            f"at layer '{layer}' ({layer_type}, {window.describe()}) the {names[dim]} drops below 1: "
            f"{self.formula}"
        )


class ShapeTracer(TorchFunctionMode):
    """Run ``model`` once and watch every op; subclasses override the ``enter_module``,
    ``exit_module`` and ``after_op`` callbacks to record what they need.

    ``stack`` holds ``(path, module)`` for the modules running now, innermost last; after a failure
    it still points at the failing layer.
    """

    def __init__(self, model: nn.Module, prefix: str = ""):
        super().__init__()
        self.model, self.prefix = model, prefix
        self.stack: list[tuple[str, nn.Module]] = []

    def run(
        self, input_shape: Sequence[int], on_meta: bool = True, training: bool = False, batch: int = 1
    ) -> object:
        """Forward ``batch`` zero images of ``input_shape`` (C, H, W); return the output.

        ``on_meta`` swaps the parameters and buffers for meta tensors (no memory, no compute);
        otherwise the model runs for real on the device of its parameters, without gradients.
        ``training`` runs the training-only parts too (auxiliary heads); it needs ``batch`` >= 2,
        since batch norm refuses to normalise a single value.
        """
        model = self.model
        device = "meta" if on_meta else _device_of(model)
        x = torch.zeros((batch, *input_shape), device=device)
        modes = {module: module.training for module in model.modules()}
        handles = self._hook_all_modules()
        model.train(training)
        try:
            with torch.no_grad():
                if not on_meta:
                    with self:
                        return model(x)
                state = {name: torch.empty_like(t, device="meta") for name, t in _named_tensors(model)}
                with self:
                    return functional_call(model, state, (x,))
        finally:
            for handle in handles:
                handle.remove()
            for module, training in modes.items():
                module.training = training

    def layer_name(self) -> str:
        """The path of the module running now (``features.3``), or the model's class name at the top."""
        return (self.stack[-1][0] if self.stack else "") or type(self.model).__name__

    def layer_type(self) -> str:
        return type(self.stack[-1][1]).__name__ if self.stack else type(self.model).__name__

    # Callbacks for subclasses.
    def reset(self) -> None:
        """Forget a failed run before trying again (on real tensors)."""
        self.stack.clear()

    def enter_module(self, path: str, module: nn.Module, inputs: tuple) -> None:
        """Called before ``module`` runs."""

    def exit_module(self, path: str, module: nn.Module, output: object) -> None:
        """Called after ``module`` ran."""

    def after_op(self, name: str, args: tuple, kwargs: dict, output: object, window: Window | None) -> None:
        """Called after every torch op; ``window`` is set for convolutions and poolings."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        window = None
        x = args[0] if args else kwargs.get("input")
        if isinstance(x, Tensor) and x.dim() >= 3:
            window = window_of_call(name, args, kwargs, x.dim() - 2)
            if window is not None:
                self._refuse_too_small(window, tuple(x.shape[2:]), name)
        # A batch norm keeps the shape; PyTorch's meta kernel for it is a slow Python decomposition.
        output = torch.empty_like(x) if _is_meta_norm(name, x, args) else func(*args, **kwargs)
        self.after_op(name, args, kwargs, output, window)
        return output

    def _refuse_too_small(self, window: Window, sizes: tuple[int, ...], op_name: str) -> None:
        if min(window.output_sizes(sizes)) >= 1:
            return
        layer_type = self.layer_type()
        if self.stack and next(self.stack[-1][1].children(), None) is not None:
            layer_type += f", functional {op_name}"  # an op written in a container's forward
        raise InputTooSmallError(self.layer_name(), layer_type, window, sizes)

    def _hook_all_modules(self) -> list:
        handles = []
        for path, module in self.model.named_modules():
            full_path = ".".join(p for p in (self.prefix, path) if p)
            handles.append(module.register_forward_pre_hook(partial(self._on_enter, full_path)))
            handles.append(module.register_forward_hook(partial(self._on_exit, full_path)))
        return handles

    def _on_enter(self, path: str, module: nn.Module, inputs: tuple) -> None:
        self.stack.append((path, module))
        self.enter_module(path, module, inputs)

    def _on_exit(self, path: str, module: nn.Module, inputs: tuple, output: object) -> None:
        self.exit_module(path, module, output)
        self.stack.pop()


def check_input_fits(model: nn.Module, input_shape: Sequence[int]) -> None:
    """Raise :class:`ModelError` (``InputTooSmallError`` for sizes below 1) when ``model`` cannot
    take ``input_shape`` (C, H, W) images; cheap: it runs on the meta device, in training mode so
    that training-only parts (auxiliary heads) are checked too."""
    trace(model, input_shape, training=True)


def output_shape(module: nn.Module, input_shape: Sequence[int], prefix: str = "") -> tuple[int, ...]:
    """The output shape (without the batch) of ``module`` for one ``input_shape`` image.

    Builders use it to size a classifier's first linear layer; ``prefix`` is the module's path in
    the model, so that errors name the layer as the user sees it.
    """
    output = trace(module, input_shape, prefix)
    return tuple(output.shape[1:])


def trace(
    model: nn.Module,
    input_shape: Sequence[int],
    prefix: str = "",
    tracer: ShapeTracer | None = None,
    training: bool = False,
):
    """Run ``tracer`` (a plain :class:`ShapeTracer` by default) on the meta device, on one image in
    eval mode or on two in training mode; fall back to a real forward for models that cannot run
    on meta tensors. Other failures become ``ModelError``."""
    tracer = tracer or ShapeTracer(model, prefix)
    batch = 2 if training else 1
    try:
        return tracer.run(input_shape, training=training, batch=batch)
    except ModelError:
        raise
    except Exception as exc:
        if not _meta_unsupported(exc) or _device_of(model).type == "meta":
            raise _layer_failure(tracer, input_shape, exc) from exc
    tracer.reset()
    try:
        return tracer.run(input_shape, on_meta=False, training=training, batch=batch)
    except ModelError:
        raise
    except Exception as exc:
        raise _layer_failure(tracer, input_shape, exc) from exc


def _layer_failure(tracer: ShapeTracer, input_shape: Sequence[int], exc: Exception) -> ModelError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    shape = format_shape(input_shape)
    return ModelError(
        f"layer '{tracer.layer_name()}' ({tracer.layer_type()}) fails on a {shape} input: {reason}"
    )


def _is_meta_norm(name: str, x: object, args: tuple) -> bool:
    """A batch norm on meta tensors whose statistics match the input's channels."""
    if name != "batch_norm" or not isinstance(x, Tensor) or not x.is_meta or x.dim() < 2:
        return False
    statistics = [t for t in args[1:5] if isinstance(t, Tensor)]
    return all(t.numel() == x.shape[1] for t in statistics)


def _meta_unsupported(exc: Exception) -> bool:
    """True for errors that mean "this op cannot run on meta tensors", not "the shapes are wrong"."""
    return isinstance(exc, NotImplementedError) or "meta" in str(exc).lower()


def _named_tensors(model: nn.Module):
    yield from model.named_parameters()
    yield from model.named_buffers()


def _device_of(model: nn.Module) -> torch.device:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")
