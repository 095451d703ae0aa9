"""Filters, feature maps, Grad-CAM and the figures, checked in content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnlab.analysis import metrics, visualize
from cnnlab.errors import ModelError, UnknownNameError, UsageError
from cnnlab.runs import TrainedModel


def _trained(model: nn.Module, classes: list[str], input_shape=(1, 8, 8)) -> TrainedModel:
    """A TrainedModel around a hand-built model; "unit" scale keeps pixels / 255 (easy to reason about)."""
    return TrainedModel(
        model=model.eval(),
        model_name="hand-built",
        model_kwargs={},
        dataset=None,
        classes=classes,
        mean=[0.0] * input_shape[0],
        std=[1.0] * input_shape[0],
        input_shape=input_shape,
        scale="unit",
    )


def _identity_cam_model() -> nn.Module:
    """conv 1x1 (weight 1) -> global average -> logits (+mean, -mean): Grad-CAM of class 0 is the image."""
    conv = nn.Conv2d(1, 1, 1, bias=False)
    head = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    return nn.Sequential(conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)


def _png_pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_conv_layers_in_execution_order_and_unknown_layer_lists_them(trained):
    assert visualize.conv_layers_in_order(trained) == ["features.0", "features.3"]
    with pytest.raises(UnknownNameError, match=r"Known layers: features\.0, features\.3"):
        visualize.resolve_layer(trained.model, "conv9")


def test_feature_maps_are_the_conv_outputs_before_the_in_place_relu(trained, mnist_test):
    pixels = mnist_test.images[0]
    maps = visualize.feature_maps(trained, pixels)
    assert {name: tuple(m.shape) for name, m in maps.items()} == {
        "features.0": (6, 24, 24),
        "features.3": (16, 8, 8),
    }
    with torch.inference_mode():
        expected = trained.model.features[0](trained.preprocess(pixels.unsqueeze(0)))[0]
    assert torch.allclose(maps["features.0"], expected, atol=1e-6)
    assert float(maps["features.0"].min()) < 0  # the ReLU(inplace=True) after it did not touch the record
    only = visualize.feature_maps(trained, pixels, ["features.3"])
    assert list(only) == ["features.3"]


def test_grad_cam_has_the_image_size_is_normalised_and_not_constant(trained, mnist_test):
    pixels = mnist_test.images[0]
    result = visualize.grad_cam(trained, pixels)
    assert result.heatmap.shape == (28, 28)
    assert float(result.heatmap.min()) >= 0 and float(result.heatmap.max()) == pytest.approx(1.0)
    assert float(result.heatmap.std()) > 0.05
    assert result.layer == "features.3"
    with torch.inference_mode():
        probabilities = trained.model(trained.preprocess(pixels.unsqueeze(0))).softmax(dim=1)[0]
    assert result.predicted == result.class_index == int(probabilities.argmax())
    assert result.probability == pytest.approx(float(probabilities.max()), abs=1e-5)
    other = visualize.grad_cam(trained, pixels, class_index=3, layer="features.0")
    assert (other.class_index, other.layer) == (3, "features.0")
    assert other.probability == pytest.approx(float(probabilities[3]), abs=1e-5)


def test_grad_cam_localises_the_evidence_on_a_model_whose_answer_is_known():
    pixels = torch.zeros(1, 8, 8, dtype=torch.uint8)
    pixels[0, 1:3, 1:3] = 255  # a bright square top left: the only evidence for class 0
    trained = _trained(_identity_cam_model(), ["bright", "dark"])
    result = visualize.grad_cam(trained, pixels, class_index=0)
    assert torch.allclose(result.heatmap, pixels[0].float() / 255, atol=0.2)
    assert float(result.heatmap[1:3, 1:3].min()) > 0.5
    assert float(result.heatmap[5:, 5:].max()) == 0.0
    assert result.has_evidence
    # Class 1's logit falls with brightness: no positive evidence anywhere.
    against = visualize.grad_cam(trained, pixels, class_index=1)
    assert float(against.heatmap.max()) == 0.0 and not against.has_evidence


def test_grad_cam_works_with_frozen_weights():
    model = _identity_cam_model()
    model.requires_grad_(False)
    pixels = torch.full((1, 8, 8), 100, dtype=torch.uint8)
    result = visualize.grad_cam(_trained(model, ["a", "b"]), pixels, class_index=0)
    assert result.heatmap.shape == (8, 8)
    assert float(result.heatmap.max()) == pytest.approx(1.0)


class _WithAuxHead(nn.Module):
    """A conv that only training would use, like GoogLeNet's auxiliary heads."""

    def __init__(self):
        super().__init__()
        self.body = _identity_cam_model()
        self.aux = nn.Conv2d(1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_a_layer_the_forward_pass_skips_is_left_out_or_refused():
    trained = _trained(_WithAuxHead(), ["a", "b"])
    assert visualize.conv_layers_in_order(trained) == ["body.0"]
    pixels = torch.zeros(1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ModelError, match="aux did not run in the forward pass"):
        visualize.feature_maps(trained, pixels, ["aux"])
    with pytest.raises(ModelError, match="did not run"):
        visualize.grad_cam(trained, pixels, layer="aux")


def test_resolve_class_by_name_or_index():
    classes = ["airplane", "automobile", "bird", "cat"]
    assert visualize.resolve_class(classes, "cat") == 3
    assert visualize.resolve_class(classes, "1") == 1
    assert visualize.resolve_class(["0", "1", "2"], "2") == 2
    with pytest.raises(UsageError, match="out of range"):
        visualize.resolve_class(classes, "7")
    with pytest.raises(UnknownNameError, match="Did you mean 'cat'"):
        visualize.resolve_class(classes, "cta")


def test_rgb_first_layer_filters_are_colour_images_scaled_per_filter(tmp_path: Path):
    conv = nn.Conv2d(3, 12, 5)
    figure = visualize.filters_figure("stem", conv)
    panels = [axes for axes in figure.axes if axes.images]
    assert len(panels) == 12
    shown = panels[0].images[0].get_array()
    assert shown.shape == (5, 5, 3)
    assert float(shown.min()) == pytest.approx(0.0) and float(shown.max()) == pytest.approx(1.0)
    assert "12 RGB filters of 5x5" in figure._suptitle.get_text()
    pixels = _png_pixels(visualize.save_figure(figure, tmp_path / "f.png"))
    assert pixels.shape[1] >= 700 and pixels.std() > 10


def test_deeper_layer_filters_are_a_filter_by_channel_mosaic_on_one_scale():
    conv = nn.Conv2d(32, 20, 3)
    figure = visualize.filters_figure("block2.conv", conv)
    title = figure._suptitle.get_text()
    assert "20 filters x 32 input channels, each 3x3" in title
    assert "first 16 of 20 filters shown" in title and "first 16 of 32 input channels shown" in title
    (image,) = figure.axes[0].images
    mosaic = np.ma.filled(image.get_array(), np.nan)
    assert mosaic.shape == (16 * 4 - 1, 16 * 4 - 1)  # 16 kernels of 3 a side, 1-pixel gaps
    weights = conv.weight.detach()
    assert np.allclose(mosaic[4:7, 8:11], weights[1, 2].numpy())  # filter 1, input channel 2
    assert np.isnan(mosaic[3, :]).all()  # the gap between filter 0 and filter 1
    limit = float(weights[:16, :16].abs().max())
    assert image.get_clim() == pytest.approx((-limit, limit))


def test_feature_maps_figure_shows_input_and_every_channel(trained, mnist_test, tmp_path: Path):
    pixels = mnist_test.images[0]
    maps = visualize.feature_maps(trained, pixels, ["features.0"])["features.0"]
    figure = visualize.feature_maps_figure("features.0", maps, pixels, "digit.png", trained.model.features[0])
    titles = [axes.get_title() for axes in figure.axes if axes.images]
    assert titles == ["input"] + [f"channel {i}" for i in range(6)]
    assert "6 channels of 24x24" in figure._suptitle.get_text()
    _png_pixels(visualize.save_figure(figure, tmp_path / "maps.png"))


def test_confusion_matrix_figure_annotates_every_nonzero_count(tmp_path: Path):
    logits = torch.eye(3)[[0, 0, 1, 2, 2, 2, 1]] * 5
    labels = torch.tensor([0, 1, 1, 2, 2, 2, 2])
    evaluation = metrics.evaluation_from_logits(logits, labels, ["cat", "dog", "bird"])
    figure = visualize.confusion_matrix_figure(evaluation, "toy")
    axes = figure.axes[0]
    annotated = sorted(int(text.get_text()) for text in axes.texts)
    counts = evaluation.confusion.flatten()
    assert annotated == sorted(int(c) for c in counts if c > 0)
    assert [t.get_text() for t in axes.get_xticklabels()] == ["cat", "dog", "bird"]
    assert "accuracy 71.43% (5 of 7)" in axes.get_title()
    visualize.save_figure(figure, tmp_path / "confusion.png")
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]  # no temp file left behind


def test_mistakes_figure_labels_each_image_with_truth_prediction_and_probability(trained, mnist_test):
    split = mnist_test.subset(300)
    evaluation = metrics.evaluate_trained(trained, split, top=6)
    figure = visualize.mistakes_figure(evaluation, split.images, "most confidently wrong")
    titles = [axes.get_title() for axes in figure.axes if axes.images]
    assert len(titles) == len(evaluation.mistakes) == 6
    first = evaluation.mistakes[0]
    assert titles[0] == (
        f"#{first.index}\ntrue {first.true} (p {first.true_probability:.2f})\n"
        f"pred {first.predicted} (p {first.probability:.2f})"
    )
    shown = figure.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(shown), split.images[first.index, 0].numpy())


def test_an_empty_grid_says_none():
    figure = visualize.image_grid_figure(torch.zeros(0, 1, 8, 8, dtype=torch.uint8), [], "nothing wrong")
    assert [t.get_text() for t in figure.texts] == ["nothing wrong", "(none)"]
