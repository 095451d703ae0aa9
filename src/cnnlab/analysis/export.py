"""Exporting a trained model to ONNX or TorchScript, checked against PyTorch before it is kept.

The exported file says how to use it: the class names and the input normalisation travel in its
metadata (ONNX ``metadata_props``; TorchScript ``_extra_files["cnnlab.json"]``, a JSON object of
the same keys), so a program outside cnnlab can turn pixels into the right input and logits into
class names. :func:`read_export_metadata` reads either back.

The export is written to a temporary file, run on a batch of real test images (ONNX through
onnxruntime, TorchScript through ``torch.jit.load``) and compared with the PyTorch model; only if
the largest absolute difference of the logits is below :data:`TOLERANCE` is it renamed into place.

ONNX uses PyTorch's ``torch.export``-based exporter (the default since PyTorch 2.9; it needs
``onnxscript``). A model it cannot capture falls back to the older TorchScript-based exporter, and
the report says which one wrote the file. TorchScript itself is deprecated by PyTorch; it is
offered for C++ (libtorch) users, and ONNX is the format to prefer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from cnnlab import __version__
from cnnlab.atomic import atomic_path
from cnnlab.errors import CnnlabError, ConfigError

if TYPE_CHECKING:
    from cnnlab.runs import TrainedModel

FORMATS = ("onnx", "torchscript")
FILE_NAMES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
TOLERANCE = 1e-4
CHECK_IMAGES = 64
TORCHSCRIPT_METADATA_FILE = "cnnlab.json"
ONNX_OPSET = 18
_EXPORTERS = ("auto", "dynamo", "legacy")
_ONNX_INSTALL_HINT = "Install them with: pip install 'cnnlab[onnx]'"


class ExportError(CnnlabError):
    """An export failed, or does not compute what the PyTorch model computes."""


@dataclass(frozen=True)
class ExportReport:
    """What was exported, how, and how closely it agrees with PyTorch."""

    path: Path
    format: str
    exporter: str
    max_abs_difference: float
    images_checked: int
    check_data: str  # where the check images came from
    metadata: dict[str, str]

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "format": self.format,
            "exporter": self.exporter,
            "bytes": self.path.stat().st_size,
            "max_abs_difference": self.max_abs_difference,
            "tolerance": TOLERANCE,
            "images_checked": self.images_checked,
            "check_data": self.check_data,
            "metadata": self.metadata,
        }


def export_metadata(trained: TrainedModel) -> dict[str, str]:
    """The metadata an exported file carries: flat string keys and values (lists as JSON)."""
    return {
        "model": trained.model_name or type(trained.model).__name__,
        "dataset": trained.dataset or "",
        "classes": json.dumps(trained.classes),
        "input_shape": json.dumps(list(trained.input_shape)),
        "input_scale": trained.scale,
        "mean": json.dumps(list(trained.mean)),
        "std": json.dumps(list(trained.std)),
        "preprocessing": _preprocessing_text(trained),
        "output": f"logits (N, {len(trained.classes)}); softmax over dim 1 gives class probabilities",
        "exported_by": f"cnnlab {__version__}",
    }


def check_images(
    trained: TrainedModel, count: int = CHECK_IMAGES, data_dir: str | Path | None = None
) -> tuple[torch.Tensor, str]:
    """uint8 images to check an export on, and where they came from: the first ``count`` test
    images of the model's dataset, or random pixels (said so) when that dataset cannot be loaded."""
    from cnnlab.data import load_dataset

    if trained.dataset:
        try:
            dataset = load_dataset(trained.dataset, "test", data_dir=data_dir, subset=count, progress=False)
        except CnnlabError as exc:
            reason = f"random images, as the {trained.dataset} test split could not be loaded: {exc}"
        else:
            if tuple(dataset.input_shape) == tuple(trained.input_shape):
                return dataset.images[:count], f"{len(dataset.images[:count])} {trained.dataset} test images"
            reason = f"random images, as the {trained.dataset} test images are not {trained.input_shape}"
    else:
        reason = "random images, as the checkpoint names no dataset"
    generator = torch.Generator().manual_seed(0)
    return torch.randint(
        0, 256, (count, *trained.input_shape), dtype=torch.uint8, generator=generator
    ), reason


def export_model(
    trained: TrainedModel,
    path: str | Path,
    format: str,
    *,
    images: torch.Tensor,
    check_data: str = "given images",
    exporter: str = "auto",
) -> ExportReport:
    """Export ``trained`` to ``path`` and check it on ``images`` (uint8, N >= 2); see the module doc.

    ``exporter`` (ONNX only): "auto" (torch.export, falling back to the TorchScript-based one),
    "dynamo" or "legacy".
    """
    if format not in FORMATS:
        raise ConfigError(f"Unknown export format '{format}'. Choose one of: {', '.join(FORMATS)}.")
    if exporter not in _EXPORTERS:
        raise ConfigError(f"Unknown exporter '{exporter}'. Choose one of: {', '.join(_EXPORTERS)}.")
    if len(images) < 2:
        raise ConfigError("Checking an export needs at least 2 images (the batch size must stay free).")
    model = trained.model.cpu().eval()
    inputs = trained.preprocess(images.cpu())
    with torch.inference_mode():
        expected = model(inputs).float()
    metadata = export_metadata(trained)
    path = Path(path)
    with atomic_path(path) as tmp:
        if format == "onnx":
            used = _write_onnx(model, inputs[:2], tmp, metadata, exporter)
            actual = _run_onnx(tmp, inputs)
        else:
            used = "torch.jit.trace"
            _write_torchscript(model, inputs[:2], tmp, metadata)
            actual = _run_torchscript(tmp, inputs)
        difference = _max_abs_difference(expected, actual)
        if not difference < TOLERANCE:
            raise ExportError(
                f"The {format} export does not match the PyTorch model: the largest difference of the "
                f"logits on {len(images)} {check_data} is {difference:.3g} (must be < {TOLERANCE:g}). "
                f"Nothing was written to {path}."
            )
    return ExportReport(path, format, used, difference, len(images), check_data, metadata)


def read_export_metadata(path: str | Path) -> dict[str, str]:
    """The cnnlab metadata of an exported ONNX or TorchScript file."""
    path = Path(path)
    if path.suffix == ".onnx":
        onnx = _import_onnx_packages()[0]
        model = onnx.load(str(path), load_external_data=False)
        return {prop.key: prop.value for prop in model.metadata_props}
    extra = {TORCHSCRIPT_METADATA_FILE: ""}
    with _quiet():
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return json.loads(extra[TORCHSCRIPT_METADATA_FILE])


def _write_onnx(
    model: torch.nn.Module, example: torch.Tensor, target: Path, metadata: dict[str, str], exporter: str
) -> str:
    """Export to ``target`` with the exporter asked for, add the metadata; return the exporter used."""
    onnx = _import_onnx_packages()[0]
    used = None
    if exporter in ("auto", "dynamo"):
        try:
            _export_onnx(model, example, target, dynamo=True)
            used = "torch.onnx (torch.export)"
        except Exception as exc:  # any capture failure: "auto" tries the exporter that traces
            if exporter == "dynamo":
                raise ExportError(f"torch.onnx (torch.export) could not export the model: {exc}") from exc
    if used is None:
        _export_onnx(model, example, target, dynamo=False)
        used = "torch.onnx (TorchScript-based)"
    proto = onnx.load(str(target))
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = f"{metadata['model']} trained on {metadata['dataset']}; {metadata['preprocessing']}"
    onnx.save(proto, str(target))
    return used


def _export_onnx(model: torch.nn.Module, example: torch.Tensor, target: Path, *, dynamo: bool) -> None:
    # The batch dimension stays free; everything else is fixed by the example.
    batch_free = (
        {"dynamic_shapes": ({0: torch.export.Dim("batch")},), "external_data": False}
        if dynamo
        else {"dynamic_axes": {"input": {0: "batch"}, "logits": {0: "batch"}}}
    )
    with _quiet():
        torch.onnx.export(
            model,
            (example,),
            str(target),
            input_names=["input"],
            output_names=["logits"],
            opset_version=ONNX_OPSET,
            dynamo=dynamo,
            verbose=False,
            **batch_free,
        )


def _run_onnx(path: Path, inputs: torch.Tensor) -> torch.Tensor:
    onnxruntime = _import_onnx_packages()[1]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    (logits, *_) = session.run(None, {input_name: inputs.numpy()})
    return torch.from_numpy(logits)


def _write_torchscript(
    model: torch.nn.Module, example: torch.Tensor, target: Path, metadata: dict[str, str]
) -> None:
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, str(target), _extra_files={TORCHSCRIPT_METADATA_FILE: json.dumps(metadata)})


def _run_torchscript(path: Path, inputs: torch.Tensor) -> torch.Tensor:
    with _quiet():
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        return loaded(inputs).float()


def _max_abs_difference(expected: torch.Tensor, actual: torch.Tensor) -> float:
    if expected.shape != actual.shape:
        raise ExportError(
            f"The export returns outputs of shape {tuple(actual.shape)}, the PyTorch model "
            f"{tuple(expected.shape)}; the model's forward may depend on the batch size."
        )
    return float((expected - actual).abs().max())


def _import_onnx_packages():
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ExportError(
            f"ONNX export needs the packages onnx and onnxruntime ({exc}). {_ONNX_INSTALL_HINT}"
        ) from exc
    return onnx, onnxruntime


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' deprecation warnings and progress logging for the span of a call."""
    loggers = [
        logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")
    ]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _preprocessing_text(trained: TrainedModel) -> str:
    channels, height, width = trained.input_shape
    layout = f"float32 input of shape (N, {channels}, {height}, {width}), channels in RGB order"
    if channels == 1:
        layout = f"float32 input of shape (N, 1, {height}, {width}), grayscale"
    formula = {
        "standardized": "x = (pixel / 255 - mean[c]) / std[c] per channel c",
        "unit": "x = pixel / 255",
        "symmetric": "x = pixel / 255 * 2 - 1",
    }.get(trained.scale, f"input scale {trained.scale}")
    return f"{layout}; {formula}"
