"""The web lab's speed, against the targets of its issue, on a real uvicorn server in this process.

- ``runs page``: the runs page (its HTML) and its JSON (``/api/runs``) with 1,000 runs in the
  index, p50/p95 over repeated loads (target: under 300 ms). The browser's own drawing of the table
  is not in it.
- ``live delay``: from a metrics line written to metrics.jsonl to its event on the SSE stream, as
  the run page receives it (target: under 1 s).
- ``drawn digit``: a 280x280 canvas PNG posted to ``/predict`` -> the top-k answer, p50/p95 over
  100 requests (target: under 100 ms); with Grad-CAM too, for reference.
- ``watch cost``: the training throughput of a ``cnnlab train`` subprocess while 20 clients follow
  its live stream, against none, alternated so that the machine's drift falls on both sides
  (target: watching costs under 3%).

    python -m benchmarks.run --only web           # short settings (--quick), about 3 minutes
    python -m benchmarks.run --full --only web
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from cnnlab.web.app import create_app
from cnnlab.web.background import BackgroundServer

SETTINGS = {
    "quick": {"runs": 1000, "loads": 30, "lines": 20, "digits": 100, "watch_rounds": 1, "watch_images": 2048},
    "full": {"runs": 1000, "loads": 100, "lines": 50, "digits": 100, "watch_rounds": 3, "watch_images": 8192},
}
WATCHERS = 20
TARGETS_MS = {"runs page": 300.0, "live delay": 1000.0, "drawn digit": 100.0}
WATCH_COST_TARGET = 0.03


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered), "p95_ms": p95, "max_ms": ordered[-1], "n": len(ordered)}


def timed_ms(call) -> float:
    start = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - start)


def write_fake_runs(runs_dir: Path, count: int, epochs: int = 10) -> None:
    """``count`` finished runs as the trainer leaves them (config, result, a metrics line an epoch)."""
    for k in range(count):
        folder = runs_dir / f"run-{k:04d}"
        folder.mkdir(parents=True)
        lines = [
            json.dumps(
                {
                    "kind": "epoch",
                    "epoch": e,
                    "step": 100 * e,
                    "train_loss": 1 / e,
                    "test_accuracy": 1 - 1 / e,
                }
            )
            for e in range(1, epochs + 1)
        ]
        (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        config = {
            "model": "lenet5",
            "dataset": "mnist",
            "epochs": epochs,
            "seed": k % 5,
            "group": f"g{k // 5}",
        }
        (folder / "config.json").write_text(json.dumps(config))
        final = json.loads(lines[-1])
        result = {"status": "finished", "final": final, "epochs_done": epochs, "started": 1.7e9 + k}
        (folder / "result.json").write_text(json.dumps(result))


def bench_runs_page(settings: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        write_fake_runs(runs, settings["runs"])
        with (
            BackgroundServer(create_app(runs)) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            first_ms = timed_ms(lambda: client.get("/api/runs").raise_for_status())  # builds the index
            listed = len(client.get("/api/runs").json()["runs"])
            page = [timed_ms(lambda: client.get("/").raise_for_status()) for _ in range(settings["loads"])]
            data = [
                timed_ms(lambda: client.get("/api/runs").raise_for_status()) for _ in range(settings["loads"])
            ]
        cpu = _listing_cpu_ms(runs, settings["loads"])
    return {
        "runs": listed,
        "first_json_ms": first_ms,
        "page": percentiles(page),
        "json": percentiles(data),
        "json_cpu": percentiles(cpu),
    }


def _listing_cpu_ms(runs: Path, loads: int) -> list[float]:
    """The CPU time (this thread's, so other processes' load does not count) of what /api/runs
    does, ``loads`` times: list the runs and encode the answer. On a shared machine the wall time
    above is mostly waiting for a core; this is the work itself."""
    from cnnlab.web.lab import FiniteJSONResponse
    from cnnlab.web.runs_view import BestAccuracyCache, list_runs

    best = BestAccuracyCache()
    times = []
    for _ in range(loads + 1):  # the first fills the best-accuracy cache, as the server's did
        start = time.thread_time()
        FiniteJSONResponse(list_runs(runs, best))
        times.append(1000 * (time.thread_time() - start))
    return times[1:]


def bench_live_delay(settings: dict[str, Any]) -> dict[str, Any]:
    """Write a line, note the time; the stream's reader notes when its event arrives."""
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        write_fake_runs(runs, 1, epochs=1)
        run = runs / "run-0000"
        (run / "result.json").write_text(json.dumps({"status": "running", "started": 1.7e9}))
        arrivals: dict[int, float] = {}
        with BackgroundServer(create_app(runs)) as server:
            offset = httpx.get(f"{server.url}/api/runs/run-0000/metrics").json()["offset"]
            stream = f"{server.url}/api/runs/run-0000/stream?offset={offset}"
            reader = threading.Thread(
                target=_read_stream, args=(stream, arrivals, settings["lines"]), daemon=True
            )
            reader.start()
            time.sleep(1.0)  # the stream is open before the first line is written
            written = {}
            for step in range(settings["lines"]):
                with open(run / "metrics.jsonl", "a") as f:
                    f.write(json.dumps({"kind": "step", "step": step, "loss": 1.0}) + "\n")
                written[step] = time.perf_counter()
                time.sleep(0.37)  # not in phase with the stream's polling
            reader.join(timeout=10)
            (run / "result.json").write_text(json.dumps({"status": "finished"}))
    delays = [1000 * (arrivals[s] - written[s]) for s in written if s in arrivals]
    return {"lines": len(written), "received": len(delays), **percentiles(delays)}


def _read_stream(url: str, arrivals: dict[int, float], expected: int) -> None:
    with httpx.stream("GET", url, timeout=60) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "metric":
                arrivals[json.loads(line[6:])["step"]] = time.perf_counter()
                if len(arrivals) >= expected:
                    return


def drawn_digit_png() -> bytes:
    """A '7' drawn as the page's canvas sends it: white strokes on black, RGBA, 280x280."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(image).line([(60, 60), (220, 60), (120, 240)], fill=(255, 255, 255, 255), width=22)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bench_drawn_digit(settings: dict[str, Any]) -> dict[str, Any]:
    import cnnlab

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        cnnlab.train(
            "lenet5", "mnist", runs_dir=str(runs), name="digits", epochs=1, subset=2048, progress=False
        )
        digit = drawn_digit_png()
        with (
            BackgroundServer(create_app(runs)) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):

            def predict(gradcam: bool) -> None:
                files = {"file": ("drawing.png", digit, "image/png")}
                client.post(
                    "/api/runs/digits/predict", files=files, data={"gradcam": str(gradcam)}
                ).raise_for_status()

            predict(False)  # loads the model once, as the page's first drawing does
            plain = [timed_ms(lambda: predict(False)) for _ in range(settings["digits"])]
            with_cam = [timed_ms(lambda: predict(True)) for _ in range(max(10, settings["digits"] // 5))]
    return {"prediction": percentiles(plain), "with_gradcam": percentiles(with_cam)}


def bench_watch_cost(settings: dict[str, Any]) -> dict[str, Any]:
    """Images per second of the same small training run, watched by 20 clients or by none."""
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        with BackgroundServer(create_app(runs)) as server:
            for index in range(settings["watch_rounds"]):
                round_ = {}
                order = ("none", "watched") if index % 2 == 0 else ("watched", "none")
                for side in order:
                    name = f"{side}-{index}"
                    round_[side] = _train_while_watched(
                        server.url, runs, name, settings, WATCHERS if side == "watched" else 0
                    )
                rounds.append(round_)
    none = statistics.median(r["none"] for r in rounds)
    watched = statistics.median(r["watched"] for r in rounds)
    return {
        "clients": WATCHERS,
        "rounds": rounds,
        "images_per_s_none": none,
        "images_per_s_watched": watched,
        "cost": 1 - watched / none,
    }


def _train_while_watched(url: str, runs: Path, name: str, settings: dict[str, Any], clients: int) -> float:
    """Train lenet5 on MNIST in a subprocess (as the Train page does); the median images/s of its
    epochs, while ``clients`` threads follow the run's stream."""
    images = str(settings["watch_images"])
    command = [
        sys.executable,
        "-m",
        "cnnlab",
        "train",
        "--model",
        "lenet5",
        "--epochs",
        "3",
        "--subset",
        images,
        "--test-subset",
        "256",
        "--log-every",
        "5",
        "--runs-dir",
        str(runs),
        "--name",
        name,
        "--quiet",
    ]
    stop = threading.Event()
    stream = f"{url}/api/runs/{name}/stream"
    watchers = [threading.Thread(target=_watch, args=(stream, stop), daemon=True) for _ in range(clients)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    for watcher in watchers:
        watcher.start()
    process.wait()
    stop.set()
    for watcher in watchers:
        watcher.join(timeout=10)
    epochs = [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["images_per_s"] for r in epochs if r.get("kind") == "epoch")


def _watch(url: str, stop: threading.Event) -> None:
    """A page following the run: connect once the run exists, read events until told to stop."""
    while not stop.is_set():
        try:
            with httpx.stream("GET", url, timeout=60) as response:
                if response.status_code != 200:
                    time.sleep(0.2)
                    continue
                for _ in response.iter_lines():
                    if stop.is_set():
                        return
                return  # the run ended
        except httpx.HTTPError:
            time.sleep(0.2)


def run(mode: str, results: dict[str, Any]) -> None:
    settings = SETTINGS[mode]
    page = bench_runs_page(settings)
    html, data = page["page"], page["json"]
    print(
        f" runs page, {page['runs']} runs: HTML p50 {html['p50_ms']:.1f} ms, p95 {html['p95_ms']:.1f} ms;"
        f" JSON p50 {data['p50_ms']:.1f} ms, p95 {data['p95_ms']:.1f} ms"
        f" (first load, which builds the index: {page['first_json_ms']:.0f} ms; target < 300 ms);"
        f" its CPU time p50 {page['json_cpu']['p50_ms']:.1f} ms, p95 {page['json_cpu']['p95_ms']:.1f} ms"
    )
    live = bench_live_delay(settings)
    print(
        f" live delay, metrics line -> SSE event: p50 {live['p50_ms']:.0f} ms, p95 {live['p95_ms']:.0f} ms,"
        f" max {live['max_ms']:.0f} ms over {live['received']}/{live['lines']} lines (target < 1000 ms)"
    )
    digit = bench_drawn_digit(settings)
    p, g = digit["prediction"], digit["with_gradcam"]
    print(
        f" drawn digit -> prediction: p50 {p['p50_ms']:.1f} ms, p95 {p['p95_ms']:.1f} ms over {p['n']}"
        f" requests (target < 100 ms); with Grad-CAM p50 {g['p50_ms']:.1f} ms, p95 {g['p95_ms']:.1f} ms"
    )
    watch = bench_watch_cost(settings)
    print(
        f" training while {watch['clients']} clients watch: {watch['images_per_s_watched']:.0f} images/s"
        f" vs {watch['images_per_s_none']:.0f} with none: cost {watch['cost']:+.1%}"
        f" (target < 3%; {len(watch['rounds'])} alternated round(s))"
    )
    results["web"] = {"runs_page": page, "live_delay": live, "drawn_digit": digit, "watch_cost": watch}
