"""The web lab's speed, against the targets of its issue, on a real uvicorn server in this process.

- ``runs page``: the runs page (its HTML) and its JSON (``/api/runs``) with 1,000 runs in the
  index, p50/p95 over repeated loads (target: under 300 ms). The browser's own drawing of the table
  is not in it.
- ``runs page in the browser``: in headless Chromium (Debian's chromium + chromedriver, driven by
  Selenium as tests/web does), from navigating to the runs page to its table holding all 1,000
  rows (the page's own clock, ``performance.now()``), p50/p95 over repeated loads.
- ``live delay``: from a metrics line written to metrics.jsonl to its point drawn on the run page's
  curve in headless Chromium (a MutationObserver in the page notes when the point's ``<circle>``
  appears, and the next animation frame, when it is painted), p50/p95 over repeated lines (target:
  under 1 s); also, for reference, to its event on the SSE stream at an HTTP client.
- ``drawn digit``: a 280x280 canvas PNG posted to ``/predict`` -> the top-k answer, p50/p95 over
  100 requests (target: under 100 ms); with Grad-CAM too, for reference.
- ``watch cost``: the training speed of one ``cnnlab train`` subprocess (the steps of the epochs it
  ends in a window over the time of their step loops, from its own epoch records, so that nothing
  polls its files meanwhile) in alternating windows with no client, 20 clients following its live
  stream (as the run page does), no client, ... The cost of each watched window is measured against
  the mean of the two unwatched windows around it, so the machine's drift over the run falls on both
  sides; the median cost over the rounds and its spread are reported (target: watching costs under
  3%). The clients run in this process, beside the server, on the same cores as the training: an
  upper bound on what 20 browsers elsewhere cost. The server's thread runs niced as ``cnnlab serve``
  does (``SERVER_NICENESS``), the clients not; the CPU this process takes per second, watched and
  not, is reported too (a measure of the work that a loaded machine's noise does not swamp).

    python -m benchmarks.run --only web           # short settings (--quick), about 3 minutes
    python -m benchmarks.run --full --only web    # the measurement, about 8 minutes

Without chromium and chromedriver in /usr/bin the two browser measures are reported as skipped.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from cnnlab.training.config import TrainConfig
from cnnlab.web.app import SERVER_NICENESS, create_app
from cnnlab.web.background import BackgroundServer
from cnnlab.web.live import read_new_records

# The watched run writes a step line at the trainer's default cadence, as a user's run does (5x as
# often: {**SETTINGS["full"], "watch_log_every": 10}, see docs/web.md).
DEFAULT_LOG_EVERY = TrainConfig().log_every
SETTINGS = {
    "quick": {"runs": 1000, "loads": 30, "browser_loads": 5, "lines": 20, "digits": 100,
              "watch_rounds": 3, "watch_window_s": 4.0, "watch_log_every": DEFAULT_LOG_EVERY},
    "full": {"runs": 1000, "loads": 100, "browser_loads": 20, "lines": 50, "digits": 100,
             "watch_rounds": 8, "watch_window_s": 10.0, "watch_log_every": DEFAULT_LOG_EVERY},
}  # fmt: skip
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
BROWSER_WAIT_S = 120
LINE_GAP_S = 0.37  # between two metrics lines: not in phase with the stream's 200 ms polling
WATCH_SETTLE_S = 1.0  # after the clients connect or leave, before a window's clock starts
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


def browser_available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Selenium (as tests/web/test_browser.py drives it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,1300"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(BROWSER_WAIT_S)
    driver.set_script_timeout(BROWSER_WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


# Resolves with performance.now() (ms since the navigation started) at the first animation frame
# in which the runs table holds arguments[0] rows.
# Navigation -> the runs page's first page of rows (all of them with fewer runs) laid out and
# painted: the rows are seen in one animation frame, and the next frame begins after that one's
# layout and paint. (Until 2026-12-02 13:00 it ended at the first frame with all 1,000 rows in the
# document, before their layout, which on this machine took 0.5-1 s more.)
ROWS_SHOWN_JS = """
const [rows, done] = arguments;
const wanted = Math.min(rows, typeof PAGE_ROWS === "number" ? PAGE_ROWS : rows);
const check = () => document.querySelectorAll("tr[data-run]").length >= wanted
  ? requestAnimationFrame(() => done(performance.now())) : requestAnimationFrame(check);
check();
"""
# Then every run at once (Show more to the end): the table built and laid out, in ms.
ALL_ROWS_JS = """
const start = performance.now();
state.shown = Infinity;
render();
document.body.offsetHeight;  // the layout
return performance.now() - start;
"""


def bench_browser_runs_page(settings: dict[str, Any]) -> dict[str, Any]:
    """Navigation to the runs page -> its table showing every one of 1,000 runs, in Chromium."""
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        write_fake_runs(runs, settings["runs"])
        with BackgroundServer(create_app(runs)) as server, headless_chromium() as driver:
            httpx.get(f"{server.url}/api/runs", timeout=60).raise_for_status()  # builds the index
            shown, all_rows = [], []
            for load in range(settings["browser_loads"] + 1):  # the first load fills the browser's cache
                driver.get(server.url + "/")
                shown.append(driver.execute_async_script(ROWS_SHOWN_JS, settings["runs"]))
                if load % 4 == 1:
                    all_rows.append(driver.execute_script(ALL_ROWS_JS))
            page_rows = driver.execute_script("return PAGE_ROWS;")
    return {"runs": settings["runs"], "page_rows": page_rows, "shown": percentiles(shown[1:]),
            "first_ms": shown[0], "all_rows": percentiles(all_rows)}  # fmt: skip


# Installed in the run page: for each point of the train_loss curve (one per epoch record), the
# wall-clock time (ms since 1970, as Python's time.time()) when its <circle> entered the DOM and
# when the next animation frame (the paint) began.
POINTS_OBSERVER_JS = """
window.cnnlabDrawn = {};
const now = () => performance.timeOrigin + performance.now();
const note = () => {
  const inDom = now();
  const points = [...document.querySelectorAll(
    '[data-panel="loss"] g.series[data-series="train_loss"] circle')].map((c) => c.dataset.x);
  const fresh = points.filter((x) => !(x in window.cnnlabDrawn));
  if (!fresh.length) return;
  fresh.forEach((x) => { window.cnnlabDrawn[x] = { dom: inDom, paint: null }; });
  requestAnimationFrame(() => {
    const painted = now();
    fresh.forEach((x) => { window.cnnlabDrawn[x].paint = painted; });
  });
};
new MutationObserver(note).observe(document.getElementById("curves"), { childList: true, subtree: true });
note();
"""


def bench_browser_live_delay(settings: dict[str, Any]) -> dict[str, Any]:
    """A metrics line (an epoch record) written -> its point painted on the run page's loss curve,
    in Chromium. The page's clock and this process's are compared first (offset, its error)."""
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        write_fake_runs(runs, 1, epochs=1)
        run = runs / "run-0000"
        (run / "result.json").write_text(json.dumps({"status": "running", "started": 1.7e9}))
        with BackgroundServer(create_app(runs)) as server, headless_chromium() as driver:
            from selenium.webdriver.support.ui import WebDriverWait

            driver.get(f"{server.url}/run/run-0000")
            WebDriverWait(driver, BROWSER_WAIT_S, poll_frequency=0.1).until(
                lambda d: "live" in d.find_element("id", "live").text, message="the page to follow the run"
            )
            driver.execute_script(POINTS_OBSERVER_JS)
            offset_ms, error_ms = _page_clock_offset(driver)
            time.sleep(1.0)  # the stream is open and idle before the first line
            written = {}
            for epoch in range(2, settings["lines"] + 2):
                record = {"kind": "epoch", "epoch": epoch, "step": 100 * epoch, "train_loss": 1 / epoch}
                with open(run / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
                written[epoch] = 1000 * time.time()
                time.sleep(LINE_GAP_S)
            WebDriverWait(driver, BROWSER_WAIT_S, poll_frequency=0.2).until(
                lambda d: len(d.execute_script("return window.cnnlabDrawn")) > settings["lines"],
                message="every point on the page",
            )
            drawn = driver.execute_script("return window.cnnlabDrawn")
    painted = [drawn[str(e)]["paint"] or drawn[str(e)]["dom"] for e in written if str(e) in drawn]
    delays = [when - offset_ms - written[e] for e, when in zip(written, painted, strict=True)]
    in_dom = [drawn[str(e)]["dom"] - offset_ms - written[e] for e in written if str(e) in drawn]
    return {
        "lines": len(written),
        "received": len(delays),
        **percentiles(delays),
        "in_dom": percentiles(in_dom),
        "clock_offset_ms": offset_ms,
        "clock_error_ms": error_ms,
    }


def _page_clock_offset(driver: Any, samples: int = 10) -> tuple[float, float]:
    """The page's wall clock minus this process's (ms), from the round trip with the smallest
    time; and half that round trip, the offset's error bound."""
    best = None
    for _ in range(samples):
        before = 1000 * time.time()
        page = driver.execute_script("return performance.timeOrigin + performance.now()")
        after = 1000 * time.time()
        if best is None or after - before < best[1]:
            best = (page - (before + after) / 2, after - before)
    return best[0], best[1] / 2


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
    """The step rate of one training run in alternating windows: no client, 20 clients, no client,
    ... (``watch_rounds`` watched windows, each between two unwatched ones). Each watched window's
    cost is 1 - its rate / the mean rate of its two neighbours."""
    window_s = settings["watch_window_s"]
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-web-") as folder:
        runs = Path(folder) / "runs"
        training = _training(runs, "watched", settings["watch_log_every"])
        server = BackgroundServer(create_app(runs), niceness=settings.get("watch_niceness", SERVER_NICENESS))
        with server, training as metrics:
            rates, cpu = [], []
            for index in range(2 * settings["watch_rounds"] + 1):
                clients = WATCHERS if index % 2 else 0
                with _watchers(f"{server.url}/api/runs/watched", clients):
                    time.sleep(WATCH_SETTLE_S)
                    start_cpu, start = time.process_time(), time.perf_counter()
                    rates.append(_training_rate(metrics, window_s))
                    cpu.append((time.process_time() - start_cpu) / (time.perf_counter() - start))
    none, watched = rates[0::2], rates[1::2]
    # This process's CPU (server, clients, and each window's one read of the run's epoch records) in
    # core-seconds per second: what watching takes from the cores, however loaded the machine is.
    cpu_none, cpu_watched = statistics.median(cpu[0::2]), statistics.median(cpu[1::2])
    measured = {"clients": WATCHERS, "window_s": window_s, "steps_per_s_none": none,
                "steps_per_s_watched": watched, "cpu_none": cpu_none, "cpu_watched": cpu_watched,
                "cpu_of_watching": cpu_watched - cpu_none}  # fmt: skip
    if not all(rates):
        return {**measured, "cost": None, "costs": [],
                "note": "a window saw fewer than two epochs end: the machine is too busy for it"}  # fmt: skip
    costs = watch_costs(none, watched)
    return {**measured, "costs": costs, "cost": statistics.median(costs), "cost_min": min(costs),
            "cost_max": max(costs)}  # fmt: skip


def watch_costs(none: list[float], watched: list[float]) -> list[float]:
    """Each watched window's cost: 1 - its rate / the mean rate of the unwatched windows before
    and after it (``none`` has one window more than ``watched``, around each of them)."""
    if len(none) != len(watched) + 1 or not all(none):
        raise ValueError("need one unwatched window with steps around each watched one")
    return [1 - rate / ((none[k] + none[k + 1]) / 2) for k, rate in enumerate(watched)]


@contextlib.contextmanager
def _training(runs: Path, name: str, log_every: int) -> Iterator[Path]:
    """A ``cnnlab train`` subprocess (as the Train page starts one: LeNet-5 on MNIST, a step line
    every ``log_every`` steps, an epoch of 32 steps) that runs until the block ends; yields its
    metrics.jsonl once its first epoch is in."""
    command = [sys.executable, "-m", "cnnlab", "train", "--model", "lenet5", "--epochs", "100000",
               "--subset", "8192", "--test-subset", "256", "--log-every", str(log_every),
               "--runs-dir", str(runs), "--name", name, "--quiet"]  # fmt: skip
    errors = open(runs.parent / "train-stderr.txt", "w+")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    metrics = runs / name / "metrics.jsonl"
    try:
        deadline = time.monotonic() + BROWSER_WAIT_S
        while not _epoch_records(metrics):
            if process.poll() is not None or time.monotonic() > deadline:
                errors.seek(0)
                raise RuntimeError(f"the training run did not start: {errors.read()[-500:]}")
            time.sleep(0.2)
        yield metrics
    finally:
        process.send_signal(signal.SIGINT)  # as Stop does; the run's folder goes with the temp dir
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


def _epoch_records(metrics: Path, offset: int = 0) -> list[dict[str, Any]]:
    """The epoch records of ``metrics`` that are complete after byte ``offset`` (a line cut by
    ``offset`` does not decode and is skipped, as is the one being written)."""
    records, _, _ = read_new_records(metrics, offset)
    return [record for record, _ in records if record.get("kind") == "epoch"]


def _training_rate(metrics: Path, window_s: float) -> float:
    """Training steps per second of the run over the next ``window_s`` seconds, from the epochs it
    ends in that time. The file is read at the window's end only, so nothing polls it meanwhile."""
    start = metrics.stat().st_size
    time.sleep(window_s)
    return steps_per_s(_epoch_records(metrics, start))


def steps_per_s(epochs: list[dict[str, Any]]) -> float:
    """Steps per second of training over consecutive epoch records: each one's steps (its ``step``
    less the one before's) over its ``time_s``, the time of its step loop alone (the evaluation and
    the checkpoint after it are not training steps). The first record only says where the second's
    steps start; fewer than two say nothing (0)."""
    steps = sum(after["step"] - before["step"] for before, after in itertools.pairwise(epochs))
    seconds = sum(after["time_s"] for after in epochs[1:])
    return steps / seconds if seconds > 0 else 0.0


@contextlib.contextmanager
def _watchers(run_url: str, clients: int) -> Iterator[None]:
    """``clients`` threads that each do what a run page does: read the metrics, then follow the
    live stream from their offset, until the block ends."""
    stop = threading.Event()
    threads = [threading.Thread(target=_watch, args=(run_url, stop), daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def _watch(run_url: str, stop: threading.Event) -> None:
    with httpx.Client(timeout=60) as client:
        offset = client.get(f"{run_url}/metrics").json()["offset"]
        with client.stream("GET", f"{run_url}/stream?offset={offset}") as response:
            for _ in response.iter_lines():
                if stop.is_set():
                    return


def _spread(measured: dict[str, float]) -> str:
    return (
        f"p50 {measured['p50_ms']:.0f} ms, p95 {measured['p95_ms']:.0f} ms, max {measured['max_ms']:.0f} ms"
    )


def run(mode: str, results: dict[str, Any]) -> None:
    settings = SETTINGS[mode]
    page = bench_runs_page(settings)
    html, data = page["page"], page["json"]
    print(
        f" runs page, {page['runs']} runs: HTML p50 {html['p50_ms']:.1f} ms, p95 {html['p95_ms']:.1f} ms;"
        f" JSON p50 {data['p50_ms']:.1f} ms, p95 {data['p95_ms']:.1f} ms"
        f" (first load, which builds the index: {page['first_json_ms']:.0f} ms; target < 300 ms);"
        f" its CPU time p50 {page['json_cpu']['p50_ms']:.1f} ms, p95 {page['json_cpu']['p95_ms']:.1f} ms",
        flush=True,
    )
    browser: dict[str, Any] = {}
    if browser_available():
        browser["runs_page"] = bench_browser_runs_page(settings)
        shown = browser["runs_page"]["shown"]
        print(
            f" runs page in Chromium with {browser['runs_page']['runs']} runs, navigation -> its first"
            f" {browser['runs_page']['page_rows']} rows laid out and painted: p50 {shown['p50_ms']:.0f} ms,"
            f" p95 {shown['p95_ms']:.0f} ms over {shown['n']} loads (first load"
            f" {browser['runs_page']['first_ms']:.0f} ms; target < 300 ms);"
            f" all {browser['runs_page']['runs']} rows at once (Show more to the end), laid out: p50"
            f" {browser['runs_page']['all_rows']['p50_ms']:.0f} ms",
            flush=True,
        )
        browser["live_delay"] = drawn = bench_browser_live_delay(settings)
        print(
            f" live delay, metrics line -> its point painted on the run page (Chromium): {_spread(drawn)}"
            f" over {drawn['received']}/{drawn['lines']} lines (target < 1000 ms; in the DOM:"
            f" p50 {drawn['in_dom']['p50_ms']:.0f} ms; clocks compared to ±{drawn['clock_error_ms']:.1f} ms)",
            flush=True,
        )
    else:
        browser["skipped"] = f"no {CHROMIUM} and {CHROMEDRIVER}"
        print(f" browser measures skipped: {browser['skipped']} (apt-get install chromium chromium-driver)")
    live = bench_live_delay(settings)
    print(
        f" live delay, metrics line -> SSE event at an HTTP client: {_spread(live)}"
        f" over {live['received']}/{live['lines']} lines",
        flush=True,
    )
    digit = bench_drawn_digit(settings)
    p, g = digit["prediction"], digit["with_gradcam"]
    print(
        f" drawn digit -> prediction: p50 {p['p50_ms']:.1f} ms, p95 {p['p95_ms']:.1f} ms over {p['n']}"
        f" requests (target < 100 ms); with Grad-CAM p50 {g['p50_ms']:.1f} ms, p95 {g['p95_ms']:.1f} ms",
        flush=True,
    )
    watch = bench_watch_cost(settings)
    results["web"] = {"runs_page": page, "browser": browser, "live_delay": live, "drawn_digit": digit,
                      "watch_cost": watch}  # fmt: skip
    if watch["cost"] is None:
        print(f" training while {watch['clients']} clients watch: not measured ({watch['note']})")
        return
    each = ", ".join(f"{cost:+.1%}" for cost in watch["costs"])
    print(
        f" training while {watch['clients']} clients watch, against none around it: median cost"
        f" {watch['cost']:+.1%} (from {watch['cost_min']:+.1%} to {watch['cost_max']:+.1%}; {each}) over"
        f" {len(watch['costs'])} watched windows of {watch['window_s']:.0f} s between unwatched ones"
        f" (a step line every {settings['watch_log_every']} steps);"
        f" steps/s unwatched {', '.join(f'{r:.1f}' for r in watch['steps_per_s_none'])} (target < 3%);"
        f" CPU of this process (server niced +{SERVER_NICENESS}, the clients), medians:"
        f" {watch['cpu_watched']:.1%} of a core watched, {watch['cpu_none']:.1%} not"
    )
