"""--init-from, --freeze and --new-head: start a run from another run's or a file's weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

import cnnlab
from cnnlab.data import load_dataset
from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.models import create
from cnnlab.models.torchvision_weights import torchvision_state_dict
from cnnlab.runs.checkpoint import load_checkpoint
from cnnlab.runs.run import Run
from cnnlab.training import resume
from cnnlab.training.config import TrainConfig
from cnnlab.training.transfer import freeze, head_layers


def two_digit_folder(root: Path, per_class: int = 24, size: int = 28, mode: str = "L") -> Path:
    """An image folder of MNIST's 0s and 1s as PNG files (``mode`` "RGB": in colour): a two-class task."""
    data = load_dataset("mnist", "train", subset=2000, progress=False)
    for digit in (0, 1):
        folder = root / f"digit{digit}"
        folder.mkdir(parents=True)
        images = data.images[data.labels == digit][:per_class, 0].numpy()
        for i, image in enumerate(images):
            Image.fromarray(image).resize((size, size)).convert(mode).save(folder / f"{i}.png")
    return root


def torchvision_resnet18_file(folder: Path) -> Path:
    """A resnet18 state dict in torchvision's names (small random values), saved in ``folder``."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in create("resnet18", 1000, 3, 224).state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    named = torchvision_state_dict("resnet18", shapes)
    file = folder / "resnet18.pt"
    torch.save({key: torch.randn(shape, generator=generator) * 0.01 for key, shape in named.items()}, file)
    return file


@pytest.fixture
def pretrained(tiny) -> Run:
    return cnnlab.train(**{**tiny, "epochs": 1, "name": "source"})


def test_a_run_starts_from_another_runs_weights_and_its_network(tiny, pretrained):
    source = load_checkpoint(pretrained.dir / "checkpoints" / "best.pt")["model_state"]
    settings = {key: value for key, value in tiny.items() if key != "model"}  # the run's network is taken
    settings.update(epochs=1, lr=1e-12, optimizer="sgd", momentum=0.0)
    run = cnnlab.train(**settings, init_from="source")
    assert run.config["model"] == "course-cnn"
    after = run.model.state_dict()
    for key, tensor in source.items():  # lr 1e-12: one epoch leaves the loaded weights where they were
        torch.testing.assert_close(after[key], tensor, rtol=0, atol=1e-6)


def test_another_model_than_the_runs_is_refused(tiny, pretrained):
    with pytest.raises(ConfigError, match="holds the weights of course-cnn, not of mlp"):
        cnnlab.train(**{**tiny, "model": "mlp"}, init_from="source")


def test_fine_tuning_on_an_image_folder_freezes_the_features_and_trains_a_new_head(
    tiny, pretrained, tmp_path
):
    folder = two_digit_folder(tmp_path / "digits")
    settings = {**tiny, "dataset": str(folder), "subset": None, "test_subset": None}
    with pytest.raises(ConfigError, match=r"shape \(10, 50\), this data has 2 classes: add --new-head"):
        cnnlab.train(**settings, init_from="source")
    source = load_checkpoint(pretrained.dir / "checkpoints" / "best.pt")["model_state"]
    run = cnnlab.train(
        **settings,
        init_from=str(pretrained.dir), freeze="features", new_head=True,
    )  # fmt: skip
    state = run.model.state_dict()
    head = head_layers(run.model)
    assert head == ["classifier.3"] and state["classifier.3.weight"].shape == (2, 50)
    for key, tensor in source.items():
        if not key.startswith("classifier.3."):
            assert torch.equal(state[key], tensor), key  # frozen: exactly the pretrained weights
    assert [p.requires_grad for p in run.model.parameters()].count(True) == 2  # the new head's weight, bias


def test_freezing_survives_a_resume(tiny, pretrained, interrupted_run, same_weights):
    source = load_checkpoint(pretrained.dir / "checkpoints" / "best.pt")["model_state"]
    settings = {**tiny, "init_from": "source", "freeze": "features.0"}
    cut = interrupted_run(settings, 5)
    resumed = resume(cut, progress=False)
    assert torch.equal(resumed.model.state_dict()["features.0.weight"], source["features.0.weight"])
    assert not torch.equal(resumed.model.state_dict()["features.3.weight"], source["features.3.weight"])
    assert not resumed.model.features[0].weight.requires_grad


def test_freeze_patterns():
    model = create("resnet18", 10, 3, 32)
    config = TrainConfig(model="resnet18", init_from="x", freeze="stem,layer1.*.residual.0.*")
    frozen = freeze(model, config)
    assert frozen[:2] == ["stem.0.0.weight", "stem.0.1.weight"]
    assert "layer1.1.residual.0.0.weight" in frozen and "layer1.1.residual.2.0.weight" not in frozen
    with pytest.raises(ConfigError, match="'layer9' matches no parameter of resnet18; its names look like"):
        freeze(model, TrainConfig(model="resnet18", init_from="x", freeze="layer9"))
    with pytest.raises(ConfigError, match="freezes every parameter"):
        freeze(model, TrainConfig(model="resnet18", init_from="x", freeze="features,fc"))


def test_freeze_and_new_head_need_init_from(tiny):
    with pytest.raises(ConfigError, match="give --init-from"):
        cnnlab.train(**tiny, freeze="features")


def test_a_torchvision_file_loads_into_the_imagenet_form_and_small_images_are_refused(tiny, tmp_path):
    file = torchvision_resnet18_file(tmp_path)
    small = two_digit_folder(tmp_path / "small", per_class=4, mode="RGB")
    base = {**tiny, "model": "resnet18", "subset": None, "test_subset": None, "epochs": 1, "batch_size": 8}
    with pytest.raises(
        CheckpointError, match="ImageNet form of resnet18.*these images are 28x28. Add --resize 64"
    ):
        cnnlab.train(**{**base, "dataset": str(small)}, init_from=str(file), new_head=True)
    large = two_digit_folder(tmp_path / "large", per_class=4, size=64, mode="RGB")
    run = cnnlab.train(
        **{**base, "dataset": str(large)}, init_from=str(file), new_head=True, freeze="features"
    )
    weights, saved = run.model.state_dict(), torch.load(file, weights_only=True)
    assert weights["stem.0.0.weight"].shape == (64, 3, 7, 7)  # the ImageNet form's 7x7 stem, at 64 px
    assert torch.equal(weights["layer4.1.residual.2.0.weight"], saved["layer4.1.conv2.weight"])  # frozen
    assert weights["fc.weight"].shape == (2, 512)


def test_a_file_holding_code_or_not_a_state_dict_is_refused(tiny, tmp_path):
    not_weights = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_weights)
    with pytest.raises(CheckpointError, match="is not a state dict"):
        cnnlab.train(**tiny, init_from=str(not_weights))
    code = tmp_path / "code.pt"
    torch.save({"weight": Path("x")}, code)  # a pickled object weights_only refuses
    with pytest.raises(CheckpointError, match="weights_only=True rejected it"):
        cnnlab.train(**tiny, init_from=str(code))


def test_resize_lets_torchvision_weights_take_small_images_colour_and_grey(tiny, tmp_path):
    file = torchvision_resnet18_file(tmp_path)
    saved = torch.load(file, weights_only=True)
    base = {**tiny, "model": "resnet18", "test_subset": 16, "epochs": 1, "batch_size": 8}
    base.update(init_from=str(file), new_head=True, freeze="features", resize=64, checkpoint_every=0)
    small = two_digit_folder(tmp_path / "small", per_class=4, mode="RGB")
    colour = cnnlab.train(**{**base, "subset": None, "dataset": str(small)}, name="colour")
    assert colour.config["resize"] == 64
    weights = colour.model.state_dict()
    assert weights["stem.0.0.weight"].shape == (64, 3, 7, 7)  # the ImageNet form, built for 64 px
    assert torch.equal(weights["stem.0.0.weight"], saved["conv1.weight"])
    environment = json.loads((colour.dir / "environment.json").read_text())
    assert environment["data"]["train"]["input_shape"] == [3, 64, 64]
    # MNIST's grey images: the RGB filters of the first convolution summed over their colours.
    grey = cnnlab.train(**{**base, "subset": 16}, name="grey")
    first = grey.model.state_dict()["stem.0.0.weight"]
    assert torch.allclose(first, saved["conv1.weight"].sum(dim=1, keepdim=True))
    environment = json.loads((grey.dir / "environment.json").read_text())
    assert environment["data"]["test"]["input_shape"] == [1, 64, 64]  # tested at 64 px too
    # `cnnlab eval` judges it on the test images resized as the run was.
    from cnnlab.analysis.metrics import evaluate_trained, load_split
    from cnnlab.runs.checkpoint import load_trained

    trained = load_trained(grey.dir)
    test = load_split(grey.dir, trained, "test")
    assert test.input_shape == (1, 64, 64)
    assert evaluate_trained(trained, test.subset(16)).accuracy == pytest.approx(grey.final["test_accuracy"])


def test_resize_images_keeps_uint8_and_flat_colours():
    from cnnlab.data.transforms import resize_images

    images = torch.full((3, 2, 28, 28), 77, dtype=torch.uint8)
    images[1] = 200
    bigger = resize_images(images, 64)
    assert bigger.shape == (3, 2, 64, 64) and bigger.dtype == torch.uint8
    assert bigger[0].unique().tolist() == [77] and bigger[1].unique().tolist() == [200]
    checker = (torch.arange(32).view(1, 1, 32, 1) + torch.arange(32).view(1, 1, 1, 32)) % 2 * 255
    smaller = resize_images(checker.to(torch.uint8), 8)  # antialiased: the pattern averages to grey
    assert smaller.shape == (1, 1, 8, 8) and (smaller.float() - 127.5).abs().max() < 2
    with pytest.raises(ConfigError, match="resize must be >= 1"):
        cnnlab.train(model="course-cnn", dataset="mnist", resize=0)
