"""The web lab's JSON API through FastAPI's test client: every endpoint, and every refusal."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from cnnlab.runs.rundir import RunDir


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_one() -> bytes:
    """A '1' drawn as the page's canvas sends it: white strokes on black, RGBA, 280x280."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(image).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=22)
    return png(image)


# -- runs ----------------------------------------------------------------------------------------
def test_runs_list_has_every_column_the_page_shows(client, make_run):
    make_run("a-seed0", [0.5, 0.7], group="a", seed=0)
    runs = {r["run_id"]: r for r in client.get("/api/runs").json()["runs"]}
    assert set(runs) == {"lenet", "a-seed0"}
    row = runs["a-seed0"]
    assert (row["model"], row["dataset"], row["status"], row["group"]) == ("lenet5", "mnist", "finished", "a")
    assert row["test_accuracy"] == 0.7 and row["best_accuracy"] == 0.7
    assert runs["lenet"]["duration_s"] > 0


def test_best_accuracy_is_the_highest_epoch_not_the_last(client, make_run):
    make_run("peaked", [0.6, 0.9, 0.8])
    row = next(r for r in client.get("/api/runs").json()["runs"] if r["run_id"] == "peaked")
    assert (row["test_accuracy"], row["best_accuracy"]) == (0.8, 0.9)


def test_damaged_run_folders_list_as_damaged_and_the_others_still_list(client, runs_dir, make_run):
    make_run("good", [0.5])
    (runs_dir / "torn").mkdir()
    (runs_dir / "torn" / "config.json").write_text('{"model": "lenet5", "data')  # half-written
    half = make_run("half", [0.5])
    (half / "result.json").write_text('{"status": "fini')
    (runs_dir / "no-config").mkdir()
    (runs_dir / "no-config" / "metrics.jsonl").write_text("")
    (runs_dir / "index.sqlite").unlink(missing_ok=True)  # the index is rebuilt from the folders
    data = client.get("/api/runs").json()
    assert {"good", "lenet"} <= {r["run_id"] for r in data["runs"]}
    damaged = {d["run_id"]: d["error"] for d in data["damaged"]}
    assert set(damaged) == {"torn", "half", "no-config"}
    assert "not valid JSON" in damaged["torn"]
    detail = client.get("/api/runs/torn").json()
    assert "not valid JSON" in detail["damaged"]


def test_run_detail_has_settings_environment_history_and_the_resume_command(client):
    detail = client.get("/api/runs/lenet").json()
    assert detail["config"]["model"] == "lenet5" and detail["status"] == "finished"
    assert [h["epoch"] for h in detail["history"]] == [1, 2]
    assert detail["environment"] and detail["has_checkpoint"]
    assert detail["resume_command"].startswith("cnnlab train --resume lenet --runs-dir ")


def test_metrics_are_the_records_of_metrics_jsonl(client, runs_dir):
    data = client.get("/api/runs/lenet/metrics").json()
    assert data["records"] == RunDir(runs_dir / "lenet").read_metrics()
    assert data["offset"] == (runs_dir / "lenet" / "metrics.jsonl").stat().st_size


def test_a_diverged_run_answers_json_with_null_for_nan(client, make_run, runs_dir):
    folder = make_run("diverged", [0.1])
    with open(folder / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"kind": "epoch", "epoch": 2, "step": 20, "train_loss": math.nan}) + "\n")
    response = client.get("/api/runs/diverged/metrics")
    assert response.status_code == 200
    assert response.json()["records"][-1]["train_loss"] is None


def test_stream_of_a_finished_run_sends_its_records_then_ends(client):
    with client.stream("GET", "/api/runs/lenet/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("event:")]
    kinds = [block.split("\n")[0].removeprefix("event: ") for block in events]
    assert kinds[-2:] == ["status", "end"]
    metrics = [json.loads(b.split("data: ", 1)[1]) for b in events if b.startswith("event: metric")]
    assert [m["kind"] for m in metrics].count("epoch") == 2


def test_stream_goes_on_from_the_offset_it_is_given(client):
    offset = client.get("/api/runs/lenet/metrics").json()["offset"]
    with client.stream("GET", f"/api/runs/lenet/stream?offset={offset}") as response:
        text = "".join(response.iter_text())
    assert "event: metric" not in text and "event: end" in text


# -- evaluation and images -----------------------------------------------------------------------
def test_evaluation_and_confusion_cells_add_up(client):
    evaluation = client.get("/api/runs/lenet/evaluation").json()
    counts = evaluation["confusion_matrix"]["counts"]
    assert evaluation["images"] == sum(map(sum, counts)) == 10000
    assert len(evaluation["per_class"]) == 10 and evaluation["most_confidently_wrong"]
    cell = client.get("/api/runs/lenet/confusion?true=1&predicted=1").json()
    assert cell["count"] == counts[1][1] and len(cell["indices"]) == min(64, counts[1][1])
    image = client.get(f"/api/runs/lenet/test-images/{cell['indices'][0]}.png")
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (28, 28)
    assert client.get("/api/runs/lenet/confusion?true=10&predicted=0").status_code == 404
    assert client.get("/api/runs/lenet/test-images/10000.png").status_code == 404


# -- networks ------------------------------------------------------------------------------------
def test_explain_gives_the_size_formula_with_its_numbers(client):
    summary = client.get("/api/explain?model=tutorial-cnn&input=3x32x32").json()
    first_conv = next(layer for layer in summary["layers"] if layer["type"] == "Conv2d")
    assert first_conv["formula"] == "(32 + 2*0 - 5)/1 + 1 = 28"
    assert first_conv["output_shape"] == [6, 28, 28] and first_conv["params"] == 456


def test_too_small_an_input_is_refused_with_the_layer_and_formula(client):
    response = client.get("/api/explain?model=tutorial-cnn&input=3x8x8")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "features.3" in detail and "(2 + 2*0 - 5)/1 + 1 = -2" in detail


@pytest.mark.parametrize(
    ("url", "status"),
    [("/api/explain?model=no-such-net", 404), ("/api/explain?model=vgg16&input=3x32", 400)],
)
def test_unknown_models_and_bad_shapes_answer_a_message(client, url, status):
    response = client.get(url)
    assert response.status_code == status and response.json()["detail"]


def test_two_networks_side_by_side(client):
    data = client.get("/api/explain/compare?model=vgg16&model=resnet18&input=3x224x224").json()
    assert data["columns"] == ["metric", "vgg16", "resnet18"]
    params = next(row for row in data["rows"] if row["metric"] == "params")
    assert params["vgg16"] == "138,357,544"


def test_a_runs_model_explained_with_its_conv_layers(client):
    data = client.get("/api/runs/lenet/explain").json()
    assert data["input_shape"] == [1, 28, 28] and data["classes"][0] == "0"
    assert data["conv_layers"][0] == "features.c1"
    filters = client.get("/api/runs/lenet/filters.png?layer=features.c1")
    assert filters.headers["content-type"] == "image/png"
    assert client.get("/api/runs/lenet/filters.png?layer=nope").status_code == 404


def test_feature_maps_of_a_test_image_and_of_an_upload(client):
    by_index = client.post("/api/runs/lenet/feature-maps.png", data={"layer": "features.c1", "test_index": 3})
    assert by_index.status_code == 200 and by_index.content.startswith(b"\x89PNG")
    upload = client.post(
        "/api/runs/lenet/feature-maps.png",
        data={"layer": "features.c1"},
        files={"file": ("one.png", drawn_one(), "image/png")},
    )
    assert upload.status_code == 200 and upload.content.startswith(b"\x89PNG")


def test_predict_a_drawn_digit_with_conversion_and_grad_cam(client):
    response = client.post(
        "/api/runs/lenet/predict",
        files={"file": ("drawing.png", drawn_one(), "image/png")},
        data={"class": "7", "top_k": 10, "layer": "features.c1"},
    )
    answer = response.json()
    assert response.status_code == 200
    probabilities = [e["probability"] for e in answer["top_k"]]
    assert len(probabilities) == 10 and sum(probabilities) == pytest.approx(1, abs=1e-4)
    assert probabilities == sorted(probabilities, reverse=True)
    assert answer["conversion"] == "RGBA -> grayscale (transparent areas on white), resized 280x280 -> 28x28"
    cams = answer["gradcam"]
    assert cams[0]["class"] == answer["top_k"][0]["class"] and cams[0]["layer"] == "features.c1"
    assert len(cams[0]["heatmap"]) == 28 and len(cams[0]["heatmap"][0]) == 28
    if answer["top_k"][0]["class"] != "7":
        assert cams[1]["class"] == "7"


def test_predict_says_how_a_photo_was_resized(client):
    photo = png(Image.new("RGB", (640, 480), (200, 30, 30)))
    answer = client.post(
        "/api/runs/lenet/predict", files={"file": ("photo.png", photo)}, data={"gradcam": "false"}
    )
    assert answer.json()["conversion"] == "RGB -> grayscale, resized 640x480 -> 28x28 (aspect ratio not kept)"
    assert answer.json()["gradcam"] == []


# -- uploads refused ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"", 400, "empty"),
        (b"just some text, not a picture", 415, "not an image"),
        (png(Image.new("L", (8000, 6000))), 413, "48 megapixels"),  # small file, huge header
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 415, "not an image"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(client, content, status, words):
    response = client.post("/api/runs/lenet/predict", files={"file": ("x.png", content, "image/png")})
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_an_upload_over_10_mb_is_refused_before_it_is_read(client):
    response = client.post("/api/runs/lenet/predict", files={"file": ("big.png", b"\x00" * (11 * 2**20))})
    assert response.status_code == 413 and "MB" in response.json()["detail"]


# -- names and paths never leave the runs directory ------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..%2F..%2Fetc",
        "/api/runs/%2Fetc%2Fpasswd",
        "/api/runs/..",
        "/api/runs/.hidden",
        "/api/runs/lenet%2F..%2Flenet/metrics",
        "/api/runs/%2e%2e/metrics",
        "/api/runs/outside/metrics",
        "/api/experiments/runs/report/files/..%2F..%2Fsecret.txt",
        "/api/experiments/runs/report/files/%2Fetc%2Fpasswd",
        "/api/experiments/runs/report/files/escape.txt",
        "/api/experiments/runs/..%2F..%2Fsecret/files/report.md",
    ],
)
def test_paths_out_of_the_runs_directory_are_404(client, runs_dir, tmp_path, path):
    outside = tmp_path / "outside-run"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    (runs_dir / "outside").symlink_to(outside)  # a symlink out of the runs directory
    (tmp_path / "secret.txt").write_text("TOP-SECRET-CONTENT")
    report = runs_dir / "experiments" / "report"
    report.mkdir(parents=True)
    (report / "report.md").write_text("# A report\n")
    (report / "escape.txt").symlink_to(tmp_path / "secret.txt")
    response = client.get(path)
    assert response.status_code == 404
    assert "TOP-SECRET-CONTENT" not in response.text


# -- experiments ---------------------------------------------------------------------------------
def test_experiment_reports_render_with_their_images(client, runs_dir):
    report = runs_dir / "experiments" / "dropout-20261201"
    report.mkdir(parents=True)
    (report / "report.md").write_text(
        "# Dropout\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n![curves](curves.png)\n"
    )
    (report / "curves.png").write_bytes(png(Image.new("RGB", (4, 4))))
    listed = client.get("/api/experiments").json()
    assert [(r["source"], r["name"], r["title"]) for r in listed] == [("runs", "dropout-20261201", "Dropout")]
    html = client.get("/api/experiments/runs/dropout-20261201").json()["html"]
    assert "<table>" in html and 'src="/api/experiments/runs/dropout-20261201/files/curves.png"' in html
    assert client.get("/api/experiments/runs/dropout-20261201/files/curves.png").status_code == 200


# -- seed groups -----------------------------------------------------------------------------------
def test_group_curve_is_the_mean_and_std_over_seeds(client, make_run, runs_dir):
    (runs_dir / "torn").mkdir()
    (runs_dir / "torn" / "config.json").write_text("{")  # a damaged folder does not hide the groups
    make_run("a-seed0", [0.5, 0.7], group="a", seed=0)
    make_run("a-seed1", [0.7, 0.9], group="a", seed=1)
    curve = client.get("/api/groups/a/curve?metric=test_accuracy").json()
    assert [p["epoch"] for p in curve["points"]] == [1, 2]
    assert curve["points"][1]["mean"] == pytest.approx(0.8)
    assert curve["points"][1]["std"] == pytest.approx(math.sqrt(0.02))
    assert client.get("/api/groups/nobody/curve").status_code == 404


def test_two_groups_get_the_verdict_of_runs_compare(client, make_run):
    for seed, (a, b) in enumerate([(0.90, 0.50), (0.91, 0.52), (0.92, 0.51)]):
        make_run(f"a-seed{seed}", [a], group="a", seed=seed)
        make_run(f"b-seed{seed}", [b], group="b", seed=seed)
    data = client.get("/api/compare?a=a&b=b").json()
    assert data["n"] == [3, 3]
    assert data["metrics"]["test_accuracy"]["verdict"].startswith("differ by more than seed noise")
    # The table as `cnnlab runs compare` prints it: a difference of accuracies in points.
    accuracy_row = next(row for row in data["rows"] if row[0] == "test_accuracy")
    assert dict(zip(data["columns"], accuracy_row, strict=True))["A - B"] == "+40.00 points"
    same = client.get("/api/compare?a=a-seed0&b=b-seed0").json()
    assert same["metrics"]["test_accuracy"]["verdict"].startswith("too few runs")


# -- the pages -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/run/lenet", "/explore", "/try", "/experiments", "/train"])
def test_every_page_is_served_and_loads_nothing_from_another_site(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text and "https://" not in response.text


def test_no_static_file_loads_anything_from_another_site():
    static = Path(__file__).parents[2] / "src" / "cnnlab" / "web" / "static"
    for file in (path for path in static.rglob("*") if path.is_file()):
        text = file.read_text()
        assert "https://" not in text and "//cdn" not in text, file.name


def test_the_api_is_documented_by_its_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/runs", "/api/runs/{name}/stream", "/api/runs/{name}/predict", "/api/train"} <= set(paths)
