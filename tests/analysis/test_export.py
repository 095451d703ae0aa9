"""ONNX and TorchScript exports: metadata, agreement with PyTorch, and refusal when they disagree."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnlab.analysis import export
from cnnlab.errors import ConfigError


@pytest.fixture(scope="module")
def check_batch(trained):
    images, source = export.check_images(trained, count=16)
    return images, source


def _assert_metadata_describes(metadata: dict[str, str], trained) -> None:
    assert json.loads(metadata["classes"]) == trained.classes
    assert json.loads(metadata["mean"]) == pytest.approx(trained.mean)
    assert json.loads(metadata["std"]) == pytest.approx(trained.std)
    assert json.loads(metadata["input_shape"]) == [1, 28, 28]
    assert metadata["input_scale"] == "standardized"
    assert "(pixel / 255 - mean[c]) / std[c]" in metadata["preprocessing"]


def test_check_images_are_real_test_images(trained, mnist_test, check_batch):
    images, source = check_batch
    assert source == "16 mnist test images"
    assert torch.equal(images, mnist_test.images[:16])


def test_check_images_fall_back_to_random_pixels_and_say_so(trained):
    images, source = export.check_images(replace(trained, dataset=None), count=4)
    assert images.shape == (4, 1, 28, 28) and images.dtype == torch.uint8
    assert source.startswith("random images")


def test_onnx_round_trip_agrees_with_pytorch_and_carries_metadata(
    trained, mnist_test, check_batch, tmp_path: Path
):
    import onnxruntime

    images, source = check_batch
    report = export.export_model(trained, tmp_path / "model.onnx", "onnx", images=images, check_data=source)
    assert report.max_abs_difference < export.TOLERANCE
    assert report.images_checked == 16
    assert report.exporter == "torch.onnx (torch.export)"
    _assert_metadata_describes(export.read_export_metadata(report.path), trained)
    # Independently of the report: a batch size the export never saw, through onnxruntime.
    fresh = mnist_test.images[100:105]
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": trained.preprocess(fresh).numpy()})
    with torch.inference_mode():
        expected = trained.model(trained.preprocess(fresh))
    assert logits.shape == (5, 10)
    assert float((torch.from_numpy(logits) - expected).abs().max()) < 1e-4


def test_onnx_legacy_exporter_also_agrees(trained, check_batch, tmp_path: Path):
    images, source = check_batch
    report = export.export_model(
        trained, tmp_path / "legacy.onnx", "onnx", images=images, check_data=source, exporter="legacy"
    )
    assert report.exporter == "torch.onnx (TorchScript-based)"
    assert report.max_abs_difference < export.TOLERANCE
    assert json.loads(export.read_export_metadata(report.path)["classes"]) == trained.classes


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_round_trip_agrees_and_carries_metadata(trained, mnist_test, check_batch, tmp_path: Path):
    images, source = check_batch
    report = export.export_model(
        trained, tmp_path / "model.pt", "torchscript", images=images, check_data=source
    )
    assert report.max_abs_difference < export.TOLERANCE
    extra = {export.TORCHSCRIPT_METADATA_FILE: ""}
    loaded = torch.jit.load(str(report.path), _extra_files=extra)
    _assert_metadata_describes(json.loads(extra[export.TORCHSCRIPT_METADATA_FILE]), trained)
    fresh = trained.preprocess(mnist_test.images[200:203])
    with torch.inference_mode():
        assert torch.allclose(loaded(fresh), trained.model(fresh), atol=1e-5)


class _Noisy(nn.Module):
    """A model whose output changes from call to call: no export of it can match PyTorch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] + torch.rand(x.shape[0], 10)


def test_an_export_that_disagrees_is_refused_and_not_written(trained, check_batch, tmp_path: Path):
    images, _ = check_batch
    target = tmp_path / "noisy.pt"
    with pytest.raises(export.ExportError, match=r"does not match the PyTorch model.*must be < 0\.0001"):
        export.export_model(replace(trained, model=_Noisy()), target, "torchscript", images=images)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_packages_give_the_install_command(trained, check_batch, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(export.ExportError, match=r"pip install 'cnnlab\[onnx\]'"):
        export.export_model(trained, tmp_path / "m.onnx", "onnx", images=check_batch[0])
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_is_a_usage_error(trained, check_batch, tmp_path: Path):
    with pytest.raises(ConfigError, match="Choose one of: onnx, torchscript"):
        export.export_model(trained, tmp_path / "m.tflite", "tflite", images=check_batch[0])
