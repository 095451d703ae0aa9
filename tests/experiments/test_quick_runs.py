"""Every experiment's ``--quick`` version, run through the CLI once per session: the report's numbers are
present, complete and consistent with the per-seed values in results.json; parameter counts exact.

Each run takes from a few seconds to about a minute on two cores, hence ``slow``.
"""

from __future__ import annotations

import re

import pytest

from cnnlab.data import get_spec
from cnnlab.experiments import PixelPermutation
from cnnlab.experiments.catalog.dropout import SmallAlexNet
from cnnlab.experiments.catalog.optimizers import FALLBACK_LR
from cnnlab.experiments.catalog.seed_noise import seeds_to_resolve
from cnnlab.experiments.report import format_range, format_summary
from cnnlab.models import create, list_models
from cnnlab.runs.stats import summarize

pytestmark = pytest.mark.slow


def expected_parameters(cell: dict) -> int:
    """Parameters of the cell's model built afresh for its dataset."""
    if cell["model"] in {info.name for info in list_models()}:
        channels, height, width = get_spec(cell["dataset"].removesuffix("-permuted")).image_shape
        model = create(cell["model"], 10, channels, (height, width), **cell["settings"].get("model_args", {}))
    else:
        rate = float(re.fullmatch(r"small_alexnet\((.*)\)", cell["model"]).group(1))
        model = SmallAlexNet(rate)
    return sum(p.numel() for p in model.parameters())


def check_consistent(finished) -> None:
    """What every report must satisfy."""
    results = finished.results
    assert results["status"] == "finished" and results["quick"] is True
    seeds = results["seeds"]
    for label, cell in results["cells"].items():
        assert cell["seeds"] == seeds and len(cell["runs"]) == len(seeds)
        for metric, values in cell["per_seed"].items():
            assert len(values) == len(seeds)
            expected = summarize(values)
            assert cell["summary"][metric]["mean"] == pytest.approx(expected.mean)
            assert cell["summary"][metric]["std"] == (
                None if expected.std is None else pytest.approx(expected.std)
            )
        assert cell["parameters"] == expected_parameters(cell)
        assert f"| {cell['parameters']:,} |" in finished.table_row(label, "## Setting")
        assert label in finished.table_row(label, "## Runs, time and machine")
        if "test_accuracy" in cell["per_seed"]:
            shown = format_summary(summarize(cell["per_seed"]["test_accuracy"]), "test_accuracy")
            assert any(shown in row for row in finished.table_rows(label, "## Results"))
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", finished.report)
    assert images, "every report has figures"
    for path in images:
        assert (finished.dir / path).stat().st_size > 1000
    for check in results["course"]:
        values = results["cells"][check["cell"]]["per_seed"][check["metric"]]
        assert check["ours"]["mean"] == pytest.approx(summarize(values).mean)
        row = finished.table_row(check["cell"], "## Against the course's numbers")
        upper = check["course_upper"] if check.get("course_upper") is not None else check["course"]
        assert format_range(check["course"], upper, check["metric"]) in row
    for comparison in results["comparisons"]:
        a, b = (
            summarize(results["cells"][comparison[k]]["per_seed"][comparison["metric"]])
            for k in ("cell_a", "cell_b")
        )
        assert comparison["difference"] == pytest.approx(a.mean - b.mean)
        assert comparison["a"]["mean"] == pytest.approx(a.mean)
    assert "## The answer" in finished.report


def test_fc_vs_cnn(quick_run):
    finished = quick_run("fc-vs-cnn")
    check_consistent(finished)
    cells = finished.results["cells"]
    assert cells["FC, pixels in order"]["parameters"] == 6442
    assert cells["CNN, pixels in order"]["parameters"] == 6422
    assert cells["CNN, pixels permuted"]["dataset"] == "mnist-permuted"
    assert len(finished.results["seeds"]) == 2
    assert [c["course"] for c in finished.results["course"]] == [0.8735, 0.9615, 0.8348, 0.8003]
    assert (
        finished.results["results"]["permutation"]["first_indices"]
        == PixelPermutation(0).indices(784)[:10].tolist()
    )
    assert "![One test image a class: original (top) and permuted (bottom)](permuted.png)" in finished.report


def test_cifar_tutorial(quick_run, cifar10_dir):
    finished = quick_run("cifar-tutorial", cifar10_dir)
    check_consistent(finished)
    for label, gaps in finished.results["results"]["train_test_gap"].items():
        per_seed = finished.results["cells"][label]["per_seed"]
        expected = [
            a - b for a, b in zip(per_seed["train_eval_accuracy"], per_seed["test_accuracy"], strict=True)
        ]
        assert gaps == pytest.approx(expected)
    assert "not verified against the official checksums" in finished.report  # the JPEG-rebuilt copy


def test_cifar_classics(quick_run, cifar10_dir):
    finished = quick_run("cifar-classics", cifar10_dir)
    check_consistent(finished)
    assert [c["course"] for c in finished.results["course"]] == [0.8492, 0.8540, 0.8596]
    assert "hours on a CPU" in finished.report
    assert {c["model"] for c in finished.results["cells"].values()} == {
        "vgg11-bn",
        "course-inception",  # the course's small Inception v3, not the full inception-v3
        "resnet18",
    }


def test_optimizers(quick_run, data_dir):
    finished = quick_run("optimizers", data_dir)
    check_consistent(finished)
    results = finished.results
    tests, rates = results["results"]["range_tests"], results["results"]["learning_rates"]
    assert len(results["cells"]) == 6
    for label, cell in results["cells"].items():
        test = tests[label]
        expected = test["minimum"] / 10 if test["descended"] else FALLBACK_LR[cell["settings"]["optimizer"]]
        assert rates[label] == pytest.approx(expected)
        assert cell["settings"]["lr"] == pytest.approx(rates[label])
        assert len(test["lrs"]) == len(test["smoothed"]) <= 20
        default = "" if test["descended"] else " (usual default)"
        assert f"| {label} | {rates[label]:.3g}{default} | {test['suggestion']:.3g} |" in finished.report


def test_losses(quick_run, data_dir):
    finished = quick_run("losses", data_dir)
    check_consistent(finished)
    cells = finished.results["cells"]
    for cell in cells.values():
        assert all(0 <= v <= 1 for v in cell["per_seed"]["test_ece"])
        assert all(0.1 - 1e-6 <= v <= 1 for v in cell["per_seed"]["test_confidence"])
    accuracies = [
        cells[label]["per_seed"]["test_accuracy"] for label in ("cross-entropy", "NLL on log-softmax")
    ]
    assert finished.results["results"]["nll_equals_cross_entropy"] is (accuracies[0] == accuracies[1])


def test_dropout(quick_run, cifar10_dir):
    finished = quick_run("dropout", cifar10_dir)
    check_consistent(finished)
    example = finished.results["results"]["worked_example"]
    assert example["train_output"] == [1.0, 0.0, 3.0, 4.0, 0.0, 0.0]
    assert example["expectation"] == pytest.approx(example["x"])
    assert "with the mask [1, 0, 1, 1, 0, 0] give [1, 0, 3, 4, 0, 0]" in finished.report
    for label, gaps in finished.results["results"]["train_test_gap"].items():
        assert ", ".join(f"{g * 100:.2f}" for g in gaps) in finished.table_row(label, "train minus test")


def test_seed_noise(quick_run, cifar10_dir):
    finished = quick_run("seed-noise", cifar10_dir)
    check_consistent(finished)
    (cell,) = finished.results["cells"].values()
    values = cell["per_seed"]["test_accuracy"]
    for seed, value in zip(cell["seeds"], values, strict=True):
        assert f"| {seed} | {value * 100:.2f}% |" in finished.report
    noise = finished.results["results"]["noise"]
    assert (noise["min"], noise["max"]) == (min(values), max(values))
    assert noise["seeds_to_resolve_1_point"] == seeds_to_resolve(summarize(values).std, 0.01)


def test_autoencoders(quick_run):
    finished = quick_run("autoencoders")
    check_consistent(finished)
    cells = finished.results["cells"]
    for label, cell in cells.items():
        for metric, values in cell["per_seed"].items():
            if metric.startswith("test_"):
                term = metric.removeprefix("test_").replace("_", " ")
                assert (
                    f"| {label} | {term} | {format_summary(summarize(values), metric)} |" in finished.report
                )
    assert "test_kl" in cells["VAE 784-400-20"]["per_seed"]
    assert "test_loss_at_mean" in cells["VAE 784-400-20"]["per_seed"]  # the course's z = mu measure
    assert "last_batch_recon" in cells["AE 784-30-784"]["per_seed"]  # the course's AE measure
    assert [c["metric"] for c in finished.results["course"]] == [
        "last_batch_recon", "test_loss_at_mean", "test_loss_at_mean"
    ]  # fmt: skip
    assert len(finished.results["results"]["rbm_free_energy_gap"]) == len(finished.results["seeds"])
    assert [c["course"] for c in finished.results["course"]] == [0.1378, 98.28, 98.28]
    assert (
        "A conv VAE" in finished.report
        and "test_kl" in cells["VAE conv 64-128, 32-d code, one-cycle, 20 epochs"]["per_seed"]
    )


def test_mixup(quick_run, cifar10_dir):
    finished = quick_run("mixup", cifar10_dir)
    check_consistent(finished)
    cells = finished.results["cells"]
    assert {label: cell["settings"].get("mixup") for label, cell in cells.items()} == {
        "5,000 images x 30 epochs, plain": None, "5,000 images x 30 epochs, MixUp": 1.0,
        "50,000 images x 3 epochs, plain": None, "50,000 images x 3 epochs, MixUp": 1.0,
    }  # fmt: skip
    assert all(cell["train_images"] == 500 for cell in cells.values())
    for label, gaps in finished.results["results"]["train_test_gap"].items():
        assert ", ".join(f"{g * 100:.2f}" for g in gaps) in finished.table_row(label, "train eval minus test")
        final = cells[label]["per_seed"]
        pairs = zip(final["train_eval_accuracy"], final["test_accuracy"], strict=True)
        assert gaps == pytest.approx([train - test for train, test in pairs])
    assert len(finished.results["comparisons"]) == 2
    assert "Measured here: MixUp" in finished.report
