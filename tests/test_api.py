"""The top-level API (cnnlab.explain, train, evaluate, predict, visualize.*, compare, experiment,
load_dataset, generate): each returns an object that renders as HTML and as text, and bad input
raises cnnlab's one-line errors, not a traceback from torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import cnnlab
from cnnlab.errors import CnnlabError, ConfigError, DataError, ModelError, UnknownNameError, UsageError

TINY = dict(subset=96, test_subset=64, epochs=1, batch_size=32, progress=False)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-runs")


@pytest.fixture(scope="module")
def run(runs_dir: Path):
    """One finished run of the smallest CNN, trained through the API."""
    return cnnlab.train("course-cnn", "mnist", runs_dir=str(runs_dir), **TINY)


@pytest.fixture(scope="module")
def digit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images") / "digit.png"
    pixels = cnnlab.load_dataset("mnist", "test", subset=1).images[0, 0].numpy()
    Image.fromarray(pixels).save(path)
    return path


def test_import_is_cheap_and_lists_the_api():
    code = (
        "import sys, cnnlab; assert 'torch' not in sys.modules, 'torch imported'; "
        "import pydoc; text = pydoc.render_doc(cnnlab); "
        "assert all(n + '(' in text for n in ('explain', 'evaluate', 'predict', 'compare', 'experiment', "
        "'load_dataset', 'train')), text; print(callable(cnnlab.train))"
    )
    src = Path(cnnlab.__file__).parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(src)}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_train_returns_a_run_that_renders(run):
    assert run.status == "finished"
    html = run._repr_html_()
    assert "<table>" in html and "train_loss" in html
    assert "data:image/png;base64," in html  # curves.png inline
    assert run.name in repr(run) and "test_accuracy" in repr(run)


def test_explain_shows_the_formula_column():
    summary = cnnlab.explain("lenet5", input="1x28x28")
    html = summary._repr_html_()
    assert "Size formula" in html and "Parameters:" in html
    assert "lenet5 on 1x28x28" in repr(summary)
    comparison = cnnlab.explain(["lenet5", "course-cnn"], input=(1, 28, 28))
    assert "course-cnn" in comparison._repr_html_() and "params" in repr(comparison)


def test_explain_a_module_of_ones_own():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(10))
    model(torch.zeros(1, 1, 8, 8))
    assert cnnlab.explain(model, input="1x8x8").params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: cnnlab.explain("lenet"), UnknownNameError, "Did you mean 'lenet5'"),
        (lambda: cnnlab.explain("lenet5", input="3x32"), UsageError, "CxHxW"),
        (lambda: cnnlab.explain(nn.Conv2d(1, 1, 3)), UsageError, "input shape"),
        (lambda: cnnlab.explain(nn.Conv2d(1, 1, 5), input="1x3x3"), ModelError, ""),
        (lambda: cnnlab.load_dataset("mnits"), UnknownNameError, "mnist"),
        (lambda: cnnlab.train("lenet", "mnist", **TINY), UnknownNameError, "lenet5"),
        (lambda: cnnlab.train("lenet5", "mnist", seeds=[0, 1], seed=3, **TINY), UsageError, "seeds="),
        (lambda: cnnlab.evaluate("no-such-run"), UsageError, "No run 'no-such-run'"),
        (lambda: cnnlab.compare("no-such-run", "other"), UsageError, "neither a run nor a group"),
        (lambda: cnnlab.experiment("no-such-experiment"), UnknownNameError, "fc-vs-cnn"),
        (lambda: cnnlab.load_dataset("no/such/folder"), DataError, "No folder"),
        (lambda: cnnlab.train("course-cnn", "mnist", freeze="features", **TINY), ConfigError, "--init-from"),
        (lambda: cnnlab.train("course-cnn", "mnist", init_from="no-such-run", **TINY), UsageError, "No run"),
        (lambda: cnnlab.runs.Run.open("no-such-run"), UsageError, "No run 'no-such-run'"),
    ],
)
def test_bad_input_raises_one_line_errors(call, error, words):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_evaluate_renders_confusion_matrix_and_per_class_table(run, tmp_path):
    report = cnnlab.evaluate(run, out=tmp_path / "eval")
    assert 0 <= report.accuracy <= 1
    assert (tmp_path / "eval" / "eval.json").is_file()
    html = report._repr_html_()
    assert "Per class" in html and "macro average" in html and html.count("data:image/png") >= 1
    assert "Confusion matrix" in repr(report)
    assert cnnlab.evaluate(run.dir, save=False).files == {}


def test_evaluate_bad_split(run):
    with pytest.raises(CnnlabError, match="Unknown split"):
        cnnlab.evaluate(run, split="train", save=False)


def test_predict_and_its_errors(run, digit, tmp_path):
    predictions = cnnlab.predict(run, digit, top_k=2)
    assert len(predictions) == 1 and len(predictions[0].classes) == 2
    assert "digit.png" in repr(predictions) and "data:image/png" in predictions._repr_html_()
    with pytest.raises(DataError, match="no such file or folder"):
        cnnlab.predict(run, [digit, tmp_path / "missing.png"])


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    """Four MNIST test images, uint8 (N, C, H, W); the first is the digit.png fixture's."""
    return cnnlab.load_dataset("mnist", "test", subset=4).images


def test_predict_takes_tensors_arrays_and_pil_images_like_files(run, digit, pixels):
    from_file = cnnlab.predict(run, digit)[0]
    batch = cnnlab.predict(run, pixels)
    assert [p.image.path.name for p in batch] == [f"Tensor[{i}]" for i in range(4)]
    gray = pixels[0, 0].numpy()
    same_image = [
        batch[0],
        cnnlab.predict(run, pixels[0])[0],
        cnnlab.predict(run, pixels[0].float() / 255)[0],
        cnnlab.predict(run, gray)[0],
        cnnlab.predict(run, Image.open(digit))[0],
        cnnlab.predict(run, Image.fromarray(gray))[0],
    ]
    for prediction in same_image:
        assert prediction.classes == from_file.classes
        assert prediction.probabilities == pytest.approx(from_file.probabilities, abs=1e-5)
    assert same_image[1].image.description == from_file.image.description == "used as is (28x28 grayscale)"
    assert same_image[2].image.description.startswith("float 0-1 -> 8 bits")
    assert same_image[4].image.path.name == "digit.png"
    # (H, W, C) colour at another size: converted as a colour file of that size would be.
    colour = np.repeat(np.kron(gray, np.ones((2, 2), dtype=np.uint8))[:, :, None], 3, axis=2)
    converted = cnnlab.predict(run, colour)[0].image
    assert converted.description == "RGB -> grayscale, resized 56x56 -> 28x28"
    mixed = cnnlab.predict(run, [digit, pixels[1], gray])
    assert [p.image.path.name for p in mixed] == ["digit.png", "Tensor #1", "ndarray #2"]
    assert "Tensor[3]" in repr(batch) and batch._repr_html_().count("data:image/png") == 4
    dataset = cnnlab.predict(run, cnnlab.load_dataset("mnist", "test", subset=4))
    assert [p.classes for p in dataset] == [p.classes for p in batch]
    assert dataset[0].image.path.name == "mnist[0]"


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (torch.zeros(2, 28, 28, dtype=torch.uint8), "has shape (2, 28, 28), read as (C, H, W): 2 channels"),
        (np.zeros((28, 28, 2), dtype=np.uint8), "neither (C, H, W) nor (H, W, C) with 1 (grayscale), 3"),
        (torch.zeros(28), "has shape (28,): an image is (C, H, W), a batch (N, C, H, W)."),
        (torch.zeros(1, 1, 1, 28, 28), "has shape (1, 1, 1, 28, 28)"),
        (torch.randn(1, 28, 28), "not a normalised tensor"),
        (np.full((28, 28), 300), "integers 0-255"),
        (np.zeros((28, 28), dtype=bool), "bool values"),
        (42, "Cannot read an object of type 'int' as an image"),
    ],
    ids=["2-channel tensor", "2-channel array", "1-d", "5-d", "normalised", "above 255", "bool", "int"],
)
def test_predict_refuses_a_wrong_image_in_one_line(run, image, words):
    with pytest.raises(DataError) as caught:
        cnnlab.predict(run, image)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_transfer_settings_through_the_api(run, runs_dir):
    transfer = dict(init_from=run, freeze="features", new_head=True)
    frozen = cnnlab.train(dataset="mnist", runs_dir=str(runs_dir), **transfer, **TINY)
    trainable = [name for name, p in frozen.model.named_parameters() if p.requires_grad]
    assert frozen.config["model"] == "course-cnn" and trainable and len(trainable) <= 2  # the new head
    assert frozen.config["init_from"] == str(run.dir)
    with pytest.raises(ConfigError, match="matches no parameter") as caught:
        cnnlab.train(dataset="mnist", init_from=run, freeze="nope", runs_dir=str(runs_dir), **TINY)
    assert "\n" not in str(caught.value)


def test_visualize_pictures_and_errors(run, digit, tmp_path):
    filters = cnnlab.visualize.filters(run)
    assert filters._repr_png_().startswith(b"\x89PNG")
    assert filters.save(tmp_path / "f.png").is_file()
    maps = cnnlab.visualize.feature_maps(run, digit)
    assert len(maps) == 2 and "feature maps of" in maps._repr_html_()
    cam = cnnlab.visualize.gradcam(run, digit, class_name="7")
    assert "Grad-CAM for class '7'" in repr(cam) and cam.result.heatmap.shape == (28, 28)
    with pytest.raises(DataError, match="missing.png: no such file"):
        cnnlab.visualize.gradcam(run, tmp_path / "missing.png")
    with pytest.raises(UnknownNameError, match="Unknown class 'eleven'"):
        cnnlab.visualize.gradcam(run, digit, class_name="eleven")
    with pytest.raises(CnnlabError, match="nope"):
        cnnlab.visualize.filters(run, layer="nope")


def test_visualize_takes_an_image_in_memory(run, digit, pixels):
    from_file = cnnlab.visualize.gradcam(run, digit, class_name="7").result
    from_tensor = cnnlab.visualize.gradcam(run, pixels[0], class_name="7").result
    assert torch.allclose(torch.as_tensor(from_tensor.heatmap), torch.as_tensor(from_file.heatmap))
    assert len(cnnlab.visualize.feature_maps(run, pixels[0].numpy())) == 2
    with pytest.raises(DataError, match="Give one image here, not a batch of 4"):
        cnnlab.visualize.gradcam(run, pixels)


def test_seeds_study_and_compare(runs_dir):
    a = cnnlab.train("course-cnn", "mnist", seeds=[0, 1], runs_dir=str(runs_dir), **TINY)
    b = cnnlab.train("course-cnn", "mnist", seeds="2-3", runs_dir=str(runs_dir), **TINY)
    assert "95% CI" in a._repr_html_() and "test_accuracy" in repr(a)
    comparison = cnnlab.compare(a, b, metrics=["test_accuracy"])
    assert list(comparison.metrics) == ["test_accuracy"] and comparison.n_a == 2
    assert "A - B" in comparison._repr_html_() and "test_accuracy:" in repr(comparison)
    by_name = cnnlab.compare(a.runs[0].name, b.group, runs_dir=runs_dir)
    assert by_name.n_a == 1 and by_name.n_b == 2
    with pytest.raises(UsageError, match="No metric nope"):
        cnnlab.compare(a, b, metrics=["nope"])


def test_load_dataset_renders_a_grid_with_class_names():
    dataset = cnnlab.load_dataset("mnist", "test", subset=20)
    html = dataset._repr_html_()
    assert "20 images" in html and "data:image/png" in html


def test_generate_shows_its_figures(runs_dir):
    ae = cnnlab.train("ae", "mnist", runs_dir=str(runs_dir), **TINY)
    figures = cnnlab.generate(ae)
    assert "reconstructions" in figures.files
    assert figures._repr_html_().count("data:image/png") == len(figures.files)
    objective = cnnlab.evaluate(ae, save=False)  # an autoencoder: its objective's terms, not accuracy
    assert "loss" in objective.objective and objective.images == 10_000  # the whole test split
    assert "mean per image" in objective._repr_html_() and "training objective" in repr(objective)
