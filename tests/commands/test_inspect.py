"""`cnnlab eval`, `predict`, `visualize` and `export` through ``cnnlab.cli.main``, checked in content."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main


def _load_run_builder():
    """The trained-run builder of tests/analysis/conftest.py (one run per session, shared on disk)."""
    path = Path(__file__).resolve().parents[1] / "analysis" / "conftest.py"
    spec = importlib.util.spec_from_file_location("cnnlab_tests_analysis_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_trained_run


build_trained_run = _load_run_builder()


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_trained_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """MNIST test digits saved as user files: as-is PNG, a big RGBA photo, a palette GIF."""
    from cnnlab.data import load_dataset

    test = load_dataset("mnist", "test", subset=3, progress=False)  # labels 7, 2, 1
    folder = tmp_path_factory.mktemp("digits")
    seven = Image.fromarray(test.images[0, 0].numpy())
    seven.save(folder / "seven.png")
    seven.resize((640, 480), Image.Resampling.BICUBIC).convert("RGBA").save(folder / "seven-photo.png")
    Image.fromarray(test.images[1, 0].numpy()).convert("P").save(folder / "two.gif")
    return {"seven": folder / "seven.png", "photo": folder / "seven-photo.png", "gif": folder / "two.gif"}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr; stderr with its line wrapping undone (rich wraps at 80 columns)."""
    code = main([*map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def test_eval_counts_add_up_and_writes_the_report_and_figures(run: Path, capsys, tmp_path: Path):
    code, out, _ = _run(capsys, "eval", run, "--out", tmp_path, "--json")
    assert code == 0
    report = json.loads(out)
    counts = np.array(report["confusion_matrix"]["counts"])
    assert counts.sum() == report["images"] == 10000
    assert sum(c["support"] for c in report["per_class"]) == 10000
    assert np.trace(counts) == report["correct"]
    assert report["accuracy"] == pytest.approx(report["correct"] / 10000)
    assert json.loads((tmp_path / "eval.json").read_text()) == report
    for name in ("confusion.png", "mistakes.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width > 600
    worst = report["most_confidently_wrong"]
    assert len(worst) == 16 and all(m["true"] != m["predicted"] for m in worst)


def test_eval_prints_a_readable_summary(run: Path, capsys, tmp_path: Path):
    code, out, _ = _run(capsys, "eval", run / "checkpoints" / "best.pt", "--split", "val", "--out", tmp_path)
    assert code == 0
    assert "on mnist val (" in out and "accuracy" in out
    assert "macro average" in out and "Most confused" in out
    assert str(tmp_path / "confusion.png") in out


def test_eval_val_split_of_a_run_without_one_says_so(run: Path, capsys, tmp_path: Path):
    loose = tmp_path / "model.pt"
    loose.write_bytes((run / "checkpoints" / "best.pt").read_bytes())
    code, _, err = _run(capsys, "eval", loose, "--split", "val")
    assert code == 2
    assert "checkpoint without its run directory" in err and "use --split test" in err


def test_predict_converts_and_describes_each_image(run: Path, digits, capsys):
    code, out, _ = _run(
        capsys, "predict", run, digits["seven"], digits["photo"], digits["gif"], "--top-k", "2"
    )
    assert code == 0
    assert "RGBA -> grayscale (transparent areas on white), resized 640x480 -> 28x28" in out
    assert "palette -> grayscale" in out
    assert "used as is (28x28 grayscale)" in out


def test_predict_probabilities_sum_to_one_and_bad_files_do_not_stop_the_others(
    run: Path, digits, capsys, tmp_path
):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for key in ("seven", "gif"):
        (folder / digits[key].name).write_bytes(digits[key].read_bytes())
    (folder / "notes.png").write_text("this is text, not a picture")
    (folder / "empty.jpg").write_bytes(b"")
    code, out, err = _run(capsys, "predict", run, folder, "--top-k", "10", "--json")
    assert code == 1
    result = json.loads(out)
    predicted = {Path(p["file"]).name: p for p in result["predictions"]}
    assert set(predicted) == {"seven.png", "two.gif"}
    for prediction in predicted.values():
        probabilities = [entry["probability"] for entry in prediction["top_k"]]
        assert len(probabilities) == 10
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
        assert probabilities == sorted(probabilities, reverse=True)
    assert predicted["seven.png"]["top_k"][0]["class"] == "7"
    errors = {Path(e["file"]).name: e["error"] for e in result["errors"]}
    assert set(errors) == {"notes.png", "empty.jpg"}
    assert "not an image file" in errors["notes.png"] and "empty" in errors["empty.jpg"]
    assert "notes.png" in err and "2 image(s) were predicted" in err


def test_predict_on_a_folder_without_images_fails_clearly(run: Path, capsys, tmp_path: Path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    code, out, err = _run(capsys, "predict", run, tmp_path)
    assert code == 1
    assert "holds no image files" in err
    assert out == ""


def test_visualize_filters_feature_maps_and_gradcam(run: Path, digits, capsys, tmp_path: Path):
    options = ["--filters", "--feature-maps", digits["photo"], "--gradcam", digits["seven"], "--class", "1"]
    code, out, _ = _run(capsys, "visualize", run, *options, "--out", tmp_path)
    assert code == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "feature-maps-seven-photo-features.0.png",
        "feature-maps-seven-photo-features.3.png",
        "filters-features.0.png",
        "gradcam-seven.png",
    ]
    assert "Grad-CAM for class '1'" in out and "predicted '7'" in out
    assert "resized 640x480 -> 28x28" in out


def test_visualize_usage_errors(run: Path, digits, capsys):
    code, _, err = _run(capsys, "visualize", run, "--filters", "--layer", "conv9")
    assert code == 2 and "Known layers: features.0, features.3" in err
    code, _, err = _run(capsys, "visualize", run)
    assert code == 2 and "--filters" in err
    code, _, err = _run(capsys, "visualize", run, "--filters", "--class", "3")
    assert code == 2 and "--gradcam" in err
    code, _, err = _run(capsys, "visualize", run, "--gradcam", digits["seven"], "--class", "eleven")
    assert code == 2 and "Unknown class 'eleven'" in err


def test_export_onnx_reports_the_check_against_pytorch(run: Path, capsys, tmp_path: Path):
    target = tmp_path / "digits.onnx"
    code, out, _ = _run(capsys, "export", run, "--format", "onnx", "--out", target, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["path"] == str(target) and target.stat().st_size == report["bytes"]
    assert report["max_abs_difference"] < 1e-4
    assert report["check_data"] == "64 mnist test images"
    assert json.loads(report["metadata"]["classes"]) == [str(d) for d in range(10)]


def test_export_unknown_format_is_a_usage_error(run: Path, capsys):
    code, _, err = _run(capsys, "export", run, "--format", "tflite")
    assert code == 2 and "onnx, torchscript" in err
