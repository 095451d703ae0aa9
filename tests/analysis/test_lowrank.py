"""Low-rank SVD: exact at full rank, errors from the spectrum, the controls, and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.analysis.lowrank import (
    compression_ratio,
    dataset_low_rank,
    image_low_rank,
    low_rank_approximations,
    parse_ranks,
    shuffle_each_row,
    shuffle_positions,
    spectrum,
)
from cnnlab.cli import main
from cnnlab.errors import DataError, UsageError


def test_full_rank_reproduces_the_input():
    matrices = torch.rand(3, 12, 9, dtype=torch.float64)
    approximations = low_rank_approximations(matrices, [1, 9])
    torch.testing.assert_close(approximations[9], matrices, rtol=0, atol=1e-12)
    assert (approximations[1] - matrices).abs().max() > 0.1


def test_image_errors_come_from_the_spectrum_and_vanish_at_full_rank():
    image = torch.randint(0, 256, (3, 20, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    report = image_low_rank(image, [1, 4, 16])
    pixels = image.double() / 255
    approximations = low_rank_approximations(pixels, [1, 4, 16])
    for row in report.rows:
        actual = float((approximations[row.rank] - pixels).norm() / pixels.norm())
        assert row.relative_error == pytest.approx(actual, rel=1e-9, abs=1e-12)
    assert report.rows[-1].relative_error == pytest.approx(0.0, abs=1e-12)
    assert report.rows[0].relative_error > report.rows[1].relative_error > 0.01
    assert report.reconstructions[4].shape == (1, 3, 20, 16)
    assert report.rows[0].compression_ratio == pytest.approx(compression_ratio((3, 20, 16), 1))


def test_compression_ratio():
    # 28 x 28 at rank 1: 784 values vs 28 + 28 + 1 (u, v, sigma) + 28 column means.
    assert compression_ratio((1, 28, 28), 1) == pytest.approx(784 / 85)


def test_energy_rank_of_a_matrix_of_known_rank():
    generator = torch.Generator().manual_seed(0)
    low = torch.randn(200, 3, generator=generator, dtype=torch.float64) @ torch.randn(
        3, 50, generator=generator, dtype=torch.float64
    )
    data = spectrum("data", (low + 5.0).unsqueeze(0))  # a constant offset: removed by centring
    assert data.rank_for(0.999999) == 3
    assert data.relative_error(3) == pytest.approx(0.0, abs=1e-9)
    assert float(data.energy[-1]) == pytest.approx(1.0)


def test_dataset_controls():
    generator = torch.Generator().manual_seed(1)
    # 300 "images" of 64 pixels built from 4 patterns: structured, so low rank.
    patterns = torch.rand(4, 64, generator=generator, dtype=torch.float64)
    images = (torch.rand(300, 4, generator=generator, dtype=torch.float64) @ patterns).view(300, 1, 8, 8) / 4
    report = dataset_low_rank(images, [1, 4, 8], seed=0)
    spectra = {s.label: s for s in report.spectra}
    assert list(spectra) == ["data", "shuffled", "same shuffle", "noise"]
    # One permutation for every image only reorders the columns: the same singular values.
    torch.testing.assert_close(spectra["same shuffle"].singular_values, spectra["data"].singular_values)
    needed = report.energy_ranks()
    assert needed["data"]["99%"] <= 4
    assert needed["shuffled"]["90%"] > 20 and needed["noise"]["90%"] > 20
    assert report.rows[1].relative_error < 1e-6 < report.rows[1].control_errors["shuffled"]
    assert report.reconstructions[8].shape == (8, 1, 8, 8)


def test_shuffles_keep_the_pixel_values_and_lose_their_places():
    generator = torch.Generator().manual_seed(0)
    rows = torch.arange(40, dtype=torch.float64).view(1, 4, 10)
    shuffled = shuffle_each_row(rows, generator)
    assert torch.equal(shuffled.sort(-1).values, rows)  # each image keeps its own values
    orders = shuffled - rows[..., :1]  # the permutation each row got
    assert len({tuple(order.tolist()) for order in orders[0]}) == 4  # four different permutations
    image = torch.arange(2 * 3 * 5, dtype=torch.float64).view(2, 3, 5)
    moved = shuffle_positions(image, generator)
    assert torch.equal(moved.flatten(1).sort(-1).values, image.flatten(1))
    assert torch.equal(moved[1] - moved[0], torch.full((3, 5), 15.0, dtype=torch.float64))
    assert not torch.equal(moved, image)


def test_mnist_is_low_rank_and_its_controls_are_not():
    from cnnlab.data import load_dataset

    data = load_dataset("mnist", "test", subset=400, progress=False)
    needed = dataset_low_rank(data.images, [5, 20]).energy_ranks()
    assert needed["data"]["90%"] == needed["same shuffle"]["90%"]
    assert needed["data"]["90%"] * 3 < needed["shuffled"]["90%"]
    assert needed["data"]["90%"] * 3 < needed["noise"]["90%"]


@pytest.mark.parametrize(
    "text, expected",
    [("1,5,20,50", [1, 5, 20, 50]), ("20, 5,5", [5, 20]), ([3, 1], [1, 3])],
)
def test_parse_ranks(text, expected):
    assert parse_ranks(text) == expected


@pytest.mark.parametrize("text", ["0", "a,b", "", "-1,2"])
def test_parse_ranks_refuses_bad_input(text):
    with pytest.raises(UsageError):
        parse_ranks(text)


def test_rank_larger_than_the_matrix_is_refused():
    with pytest.raises(UsageError, match="from 1 to 8"):
        image_low_rank(torch.rand(1, 8, 10), [9])


def test_lowrank_command_on_an_image(tmp_path, capsys):
    pixels = np.zeros((24, 40, 3), dtype=np.uint8)
    pixels[6:18, 10:30] = (200, 50, 20)  # a red rectangle: rank 1 after centring
    Image.fromarray(pixels).save(tmp_path / "box.png")
    code = main(
        ["lowrank", str(tmp_path / "box.png"), "--ranks", "1,2", "--json", "--out", str(tmp_path / "figs")]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "image" and report["matrix_shape"] == [3, 24, 40]
    assert report["ranks"][0]["relative_error"] < 1e-9
    assert report["energy_ranks"]["data"]["99%"] == 1
    assert (tmp_path / "figs" / "lowrank-box.png").read_bytes()[:4] == b"\x89PNG"


def test_lowrank_command_on_a_dataset_prints_tables(capsys):
    assert main(["lowrank", "mnist", "--limit", "120", "--ranks", "5,20"]) == 0
    out = capsys.readouterr().out
    assert "same shuffle" in out and "99%" in out and "120x784" in out


def test_lowrank_command_errors(tmp_path, capsys):
    assert main(["lowrank", str(tmp_path / "missing.png")]) == 1
    assert "No image file" in capsys.readouterr().err
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(DataError):
        from cnnlab.analysis.lowrank import low_rank

        low_rank(tmp_path / "bad.png")
    assert main(["lowrank", "mnist", "--ranks", "x"]) == 2
