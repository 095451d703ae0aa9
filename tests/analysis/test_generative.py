"""Figures of autoencoders, VAEs and RBMs: the numbers behind them, and `cnnlab generate` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnnlab.analysis.generative import (
    class_examples,
    features_as_images,
    generate,
    gibbs_snapshots,
    grid_cells,
    interpolate,
    latent_coordinates,
    reconstruction_rows,
    tile,
    to_unit,
)
from cnnlab.cli import main
from cnnlab.errors import UsageError
from cnnlab.models import create, list_models
from cnnlab.runs import save_checkpoint


def make_run(folder: Path, name: str, **kwargs) -> Path:
    """A run directory holding an (untrained) MNIST model's checkpoint, as `cnnlab train` writes it."""
    model_kwargs = {"num_classes": 10, "in_channels": 1, "input_size": 28, **kwargs}
    model = create(name, **model_kwargs)
    run = folder / f"{name}-run"
    save_checkpoint(
        run / "checkpoints" / "best.pt",
        {
            "model": {"name": name, "kwargs": model_kwargs},
            "model_state": model.state_dict(),
            "data": {
                "dataset": "mnist",
                "classes": [str(d) for d in range(10)],
                "mean": [0.1307],
                "std": [0.3081],
                "input_shape": [1, 28, 28],
                "scale": model.input_scale,
            },
        },
    )
    return run


def test_to_unit():
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    assert to_unit(x, "symmetric").tolist() == [0.0, 0.5, 1.0, 1.0]
    assert to_unit(x, "unit").tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(UsageError):
        to_unit(x, "standardized")


def test_latent_coordinates_pass_2d_codes_through_and_project_others():
    codes = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    latent = latent_coordinates(codes)
    assert torch.equal(latent.coordinates, codes) and latent.explained is None
    generator = torch.Generator().manual_seed(0)
    plane = torch.randn(500, 2, generator=generator) @ torch.randn(2, 6, generator=generator)
    latent = latent_coordinates(plane + 3.0)  # codes on a 2-d plane inside 6-d
    assert latent.explained == pytest.approx(1.0, abs=1e-6)
    assert latent.coordinates.shape == (500, 2)
    spread = latent.coordinates.var(0)
    assert spread[0] >= spread[1]  # the first component holds the most variance
    assert "6-d code (100% of its variance)" in latent.description


def test_class_examples_take_one_image_a_class_in_turn():
    labels = torch.tensor([3, 1, 1, 0, 3, 2, 0])
    assert class_examples(labels, 4) == [3, 1, 5, 0]  # first 0, first 1, first 2, first 3
    assert class_examples(labels, 6) == [3, 1, 5, 0, 6, 2]  # then the second of each


def test_tile_and_grid_cells():
    cells = torch.zeros(2, 3, 1, 4, 5)
    cells[1, 2] = 0.5
    array = tile(cells, pad=1)
    assert array.shape == (2 * 5 - 1, 3 * 6 - 1, 1)
    assert array[5:9, 12:17].min() == array[5:9, 12:17].max() == 0.5  # row 1, column 2
    assert array[4, 0, 0] == 1.0  # the white gap between rows
    grid = grid_cells(torch.zeros(5, 1, 2, 2), columns=3)
    assert grid.shape == (2, 3, 1, 2, 2) and grid[1, 2].min() == 1.0  # padded with white


def test_features_are_scaled_symmetrically_about_grey():
    weights = torch.tensor([[[[2.0, -1.0]]], [[[0.0, 0.5]]]])
    assert features_as_images(weights).flatten().tolist() == [1.0, 0.25, 0.5, 1.0]


def test_reconstruction_rows_show_the_corruption_for_a_denoiser():
    torch.manual_seed(0)
    dae = create("dae", in_channels=1, input_size=28, latent=16)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    rows = reconstruction_rows(dae, x, torch.Generator().manual_seed(5))
    assert list(rows) == ["input", "corrupted", "output"]
    corrupted = dae.corrupt(x, torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(rows["output"], (dae(corrupted) + 1) / 2)
    torch.testing.assert_close(rows["input"], (x + 1) / 2)
    assert list(reconstruction_rows(create("ae", in_channels=1, input_size=28), x)) == ["input", "output"]


def test_interpolation_ends_at_the_two_reconstructions():
    torch.manual_seed(0)
    model = create("vae", in_channels=1, input_size=28, latent=4)
    model.eval()
    a, b = torch.rand(2, 1, 28, 28)
    strip = interpolate(model, a, b, steps=5)
    assert strip.shape == (5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(strip[0], model(a[None])[0])
        torch.testing.assert_close(strip[-1], model(b[None])[0])


def test_gibbs_snapshots_follow_one_chain():
    torch.manual_seed(0)
    rbm = create("rbm", in_channels=1, input_size=28, hidden=20)
    shots = gibbs_snapshots(rbm, 3, (1, 4), torch.Generator().manual_seed(7))
    assert shots.shape == (3, 2, 1, 28, 28)
    generator = torch.Generator().manual_seed(7)
    start = torch.bernoulli(torch.full((3, 784), 0.5), generator=generator)
    _, probs = rbm.run_chain(start, 4, generator)
    torch.testing.assert_close(shots[:, 1].flatten(1), probs)


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("ae", {}, {"reconstructions", "latent_map", "interpolation", "features"}),
        ("dae", {"latent": 32}, {"reconstructions", "latent_map", "interpolation", "features"}),
        ("vae", {"latent": 2}, {"reconstructions", "samples", "latent_map", "interpolation", "features"}),
        ("rbm", {"hidden": 16}, {"reconstructions", "samples", "latent_map", "interpolation", "features"}),
    ],
)
def test_generate_writes_every_figure(tmp_path, name, kwargs, expected):
    run = make_run(tmp_path, name, **kwargs)
    result = generate(run, tmp_path / "figures", count=4, map_points=100, chain_steps=(1, 3))
    assert set(result.files) == expected
    for path in result.files.values():
        assert path.parent == tmp_path / "figures"
        assert path.read_bytes()[:4] == b"\x89PNG"
    if name == "vae":
        assert result.notes["latent_map"] == "the 2-d code itself"


def test_generate_command_defaults_to_the_run_folder(tmp_path, capsys):
    run = make_run(tmp_path, "ae")
    assert main(["generate", str(run), "--count", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out_dir"] == str(run / "generated")
    assert (run / "generated" / "features.png").is_file()
    assert "one a class" in report["figures"]["reconstructions"]["note"]


def test_generate_refuses_a_classifier(tmp_path, capsys):
    classifiers = list_models(task="classify")
    if not classifiers:
        pytest.skip("no classifier registered")
    info = classifiers[0]
    channels, height, width = info.default_input
    model_kwargs = {"num_classes": 10, "in_channels": channels, "input_size": [height, width]}
    model = create(info.name, **model_kwargs)
    data = {
        "dataset": "mnist",
        "classes": list("0123456789"),
        "mean": [0.5] * channels,
        "std": [0.5] * channels,
        "input_shape": [channels, height, width],
    }
    save_checkpoint(
        tmp_path / "cls" / "checkpoints" / "last.pt",
        {
            "model": {"name": info.name, "kwargs": model_kwargs},
            "model_state": model.state_dict(),
            "data": data,
        },
    )
    assert main(["generate", str(tmp_path / "cls")]) == 2
    assert "cnnlab visualize" in capsys.readouterr().err
