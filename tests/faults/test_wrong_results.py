"""Wrong results that look right: an ONNX export that computes something else, a Grad-CAM map that
is uniform by construction, a layer the visualiser silently skips, an `eval` that fails on a run
`train` told the user to evaluate."""

from __future__ import annotations

import pytest
import torch

from cnnlab.analysis import visualize
from cnnlab.models import create
from cnnlab.runs import TrainedModel


def _trained(name: str, shape: tuple[int, int, int], seed: int = 0) -> TrainedModel:
    """A freshly initialised registry model, wrapped as a run's model would be (10 classes)."""
    torch.manual_seed(seed)
    model = create(name, num_classes=10, in_channels=shape[0], input_size=shape[1:]).eval()
    channels = shape[0]
    return TrainedModel(
        model, name, {}, None, [str(i) for i in range(10)], [0.5] * channels, [0.25] * channels, shape
    )


def _digit(shape: tuple[int, int, int]) -> torch.Tensor:
    """A uint8 image with structure (a bright square off centre), so maps have somewhere to look."""
    pixels = torch.zeros(shape, dtype=torch.uint8)
    pixels[:, 4:14, 6:16] = 255
    return pixels


def test_lenet5_subsampling_is_the_papers_sum_bit_for_bit():
    from cnnlab.models.lenet import Subsampling

    torch.manual_seed(0)
    layer = Subsampling(6)
    with torch.no_grad():
        layer.weight.uniform_(-1, 1)
        layer.bias.uniform_(-1, 1)
    x = torch.randn(8, 6, 28, 28, requires_grad=True)
    expected = torch.nn.functional.avg_pool2d(x, 2, divisor_override=1) * layer.weight.view(1, -1, 1, 1)
    expected = expected + layer.bias.view(1, -1, 1, 1)
    out = layer(x)
    assert torch.equal(out, expected)
    grad = torch.randn_like(out)
    inputs = (x, layer.weight, layer.bias)  # the same gradients too, so training keeps its bits
    for a, b in zip(
        torch.autograd.grad(out, inputs, grad, retain_graph=True),
        torch.autograd.grad(expected, inputs, grad),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_grad_cam_defaults_to_the_last_layer_with_spatial_extent():
    trained = _trained("lenet5", (1, 28, 28))
    assert visualize.conv_layers_in_order(trained) == ["features.c1", "features.c3", "features.c5"]
    assert visualize.default_cam_layer(trained) == "features.c3"  # C5's output is 1x1
    pixels = _digit((1, 28, 28))
    cam = visualize.grad_cam(trained, pixels, class_index=0)
    assert cam.layer == "features.c3" and float(cam.heatmap.std()) > 0.01
    at_c5 = visualize.grad_cam(trained, pixels, class_index=0, layer="features.c5")
    assert float(at_c5.heatmap.std()) == pytest.approx(0.0, abs=1e-6)  # why C5 is not the default


def test_lenet5_c3_table_conv_is_visualisable(tmp_path):
    trained = _trained("lenet5", (1, 28, 28))
    maps = visualize.feature_maps(trained, _digit((1, 28, 28)))
    assert {name: tuple(m.shape) for name, m in maps.items()} == {
        "features.c1": (6, 28, 28),
        "features.c3": (16, 10, 10),
        "features.c5": (120, 1, 1),
    }
    c3 = visualize.resolve_layer(trained.model, "features.c3")
    kernel = visualize.kernel_of(c3)
    assert tuple(kernel.shape) == (16, 6, 5, 5)
    assert int((kernel.abs().sum(dim=(2, 3)) > 0).sum()) == 60  # Table I: 60 of 96 maps connected
    path = visualize.save_figure(visualize.filters_figure("features.c3", c3), tmp_path / "c3.png")
    assert path.stat().st_size > 1000


# --- ONNX: every classifier of the zoo, checked against PyTorch ---------------------------------


def _smallest_square(name: str, channels: int, low: int) -> int:
    """The smallest square side >= ``low`` that ``name`` accepts (bisection on the meta device)."""
    from cnnlab.errors import ModelError
    from cnnlab.models.registry import _LARGEST_PROBE, _smallest_fitting

    def fits(side: int) -> bool:
        try:
            with torch.device("meta"):
                create(name, num_classes=10, in_channels=channels, input_size=side)
        except ModelError:
            return False
        return True

    side = _smallest_fitting(fits, low, _LARGEST_PROBE)
    assert side is not None, f"{name} accepts no square input from {low} px"
    return side


def _export_cases() -> list[tuple[str, tuple[int, int, int]]]:
    """Every classifier at the smallest input of its usual form (AlexNet and ZFNet, ImageNet-sized
    only, at their smallest valid input), and ResNet's ImageNet form (7x7 stem and max-pool)."""
    from cnnlab.models.registry import SMALL_INPUT_LIMIT, list_models

    cases = []
    for info in list_models(task="classify"):
        channels, height, _ = info.default_input
        low = 1 if height < SMALL_INPUT_LIMIT else SMALL_INPUT_LIMIT
        side = height if height < SMALL_INPUT_LIMIT else _smallest_square(info.name, channels, low)
        cases.append((info.name, (channels, side, side)))
    cases.append(("resnet18", (3, SMALL_INPUT_LIMIT, SMALL_INPUT_LIMIT)))
    return cases


# float32 rounding, not a wrong graph: at random initialisation the deepest nets' logits differ by
# 1e-4 to 9e-4 between PyTorch and onnxruntime (different convolution algorithms, summed over 100+
# layers); a wrong export differs by whole units (LeNet-5's sums exported as means: 12.5).
_DEEP = {"resnet101": 2e-3, "resnet152": 2e-3, "inception-v3": 2e-3}


def _calibrated(trained: TrainedModel, shape: tuple[int, int, int]) -> TrainedModel:
    """Batch-norm statistics measured on 32 random images, as training would leave them measured:
    with the initial ones (mean 0, variance 1) deep residual nets' logits grow to ~1e6, where an
    absolute tolerance says nothing about the export."""
    model = trained.model
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = 1.0  # the statistics of the calibration batch, exactly
    images = torch.randint(
        0, 256, (32, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    model.train()
    with torch.no_grad():
        model(trained.preprocess(images))
    model.eval()
    return trained


@pytest.mark.parametrize(
    ("name", "shape"), _export_cases(), ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v
)
def test_every_zoo_classifier_exports_to_onnx_that_agrees_with_pytorch(name, shape, tmp_path, monkeypatch):
    """The TorchScript-based exporter: the same checks as torch.export's at a fraction of its time
    (2-5 s against 10-40 s a model on 2 cores); a model it cannot capture (adaptive pooling to a
    size that does not divide the input: AlexNet, ZFNet, VGG's ImageNet form) goes the way
    `cnnlab export` goes, torch.export first."""
    pytest.importorskip("onnxruntime")
    from torch.onnx.errors import OnnxExporterError

    from cnnlab.analysis import export

    images = torch.randint(0, 256, (3, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    trained = _calibrated(_trained(name, shape), shape)
    monkeypatch.setattr(export, "TOLERANCE", _DEEP.get(name, export.TOLERANCE))
    try:
        report = export.export_model(trained, tmp_path / "m.onnx", "onnx", images=images, exporter="legacy")
    except OnnxExporterError:
        report = export.export_model(trained, tmp_path / "m.onnx", "onnx", images=images, exporter="auto")
    assert report.max_abs_difference < _DEEP.get(name, 1e-4)


def test_lenet5_exports_right_with_the_default_exporter(tmp_path):
    """The case that failed (largest difference 12.5): the subsampling layers' sums."""
    pytest.importorskip("onnxruntime")
    from cnnlab.analysis.export import export_model

    images = torch.randint(
        0, 256, (4, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    report = export_model(_trained("lenet5", (1, 28, 28)), tmp_path / "m.onnx", "onnx", images=images)
    assert report.exporter == "torch.onnx (torch.export)" and report.max_abs_difference < 1e-5


# --- eval of autoencoder runs, and a run's name wherever `runs show` takes one ----------------


@pytest.fixture(scope="module")
def runs_by_name(tmp_path_factory) -> dict[str, object]:
    """A VAE run and a classifier run, a few steps each, in a runs folder of their own."""
    import cnnlab

    runs = tmp_path_factory.mktemp("named-runs")
    common = {"dataset": "mnist", "subset": 128, "test_subset": 64, "epochs": 1, "threads": 1}
    settings = {**common, "runs_dir": str(runs), "progress": False, "curves": False}
    vae = cnnlab.train(model="vae", name="my-vae", batch_size=64, **settings)
    net = cnnlab.train(model="course-cnn", name="my-cnn", batch_size=32, **settings)
    return {"runs": runs, "vae": vae, "cnn": net}


def test_eval_of_a_vae_run_reports_its_objective_terms_on_the_test_set(runs_by_name, monkeypatch, capsys):
    import json

    from cnnlab.cli import main

    monkeypatch.setenv("CNNLAB_RUNS", str(runs_by_name["runs"]))
    assert main(["eval", "my-vae", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    terms = report["objective"]
    assert set(terms) >= {"loss", "recon", "kl"} and report["images"] == 10000
    assert terms["loss"] == pytest.approx(terms["recon"] + terms["kl"], rel=1e-4)
    assert main(["eval", "my-vae"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "kl" in out and "cnnlab generate" in out


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "my-cnn"],
        ["visualize", "my-cnn", "--filters"],
        ["export", "my-cnn", "--format", "torchscript"],
        ["runs", "show", "my-cnn"],
        ["generate", "my-vae", "--count", "2"],
    ],
    ids=lambda c: c[0] if c[0] != "runs" else "runs show",
)
def test_every_command_that_takes_a_run_takes_its_name(runs_by_name, command, capsys):
    from cnnlab.cli import main

    runs = ["--runs-dir", str(runs_by_name["runs"])]
    assert main([*command, *runs]) == 0, capsys.readouterr().err
    capsys.readouterr()
    wrong = (
        ["runs", "show", "no-such-run"] if command[0] == "runs" else [command[0], "no-such-run", *command[2:]]
    )
    assert main([*wrong, *runs]) != 0
    assert command[0] == "runs" or "No run 'no-such-run'" in " ".join(capsys.readouterr().err.split())
