"""The pages in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

A uvicorn server runs the lab on a free 127.0.0.1 port in a thread. Each test looks at what a user
sees: pages load without console errors, a curve's points are metrics.jsonl's, a run started from
the page grows its curve live, a stroke drawn with the mouse is predicted, a confusion cell opens
its images, the explorer shows a layer's size formula. Screenshots of each page go to
tests/web/artifacts/ (ignored by git) for a person to look at; docs/web/ holds chosen ones.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
WAIT_S = 60
MAX_SHOT_HEIGHT = 3200  # pixels: a run's page with its evaluation is about 2,700
# Two epochs of the run started from the page: about 20 s quiet, 90 s on a busy 2-core machine.
TRAIN_WAIT_S = 300
# The settings of the trained run (conftest's TRAINED_SETTINGS) its recorded command shows.
TRAINED_OPTIONS = ("epochs", "subset", "test_subset", "batch_size", "log_every")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def lab(trained_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """The base address of a lab serving the trained run, seed groups and one damaged folder."""
    from cnnlab.web.app import create_app
    from cnnlab.web.background import BackgroundServer

    runs = tmp_path_factory.mktemp("browser-runs") / "runs"
    shutil.copytree(trained_run, runs / trained_run.name)
    _without_machine_paths(runs / trained_run.name)
    _seed_groups(runs)
    damaged = runs / "half-written"
    damaged.mkdir()
    (damaged / "config.json").write_text('{"model": "lenet5", "dat')
    _report(runs)
    # Served as `cnnlab serve --runs-dir runs` from the folder above: the pages (and screenshots)
    # show the runs directory as a user who typed that sees it, not this machine's temp path.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(runs.parent)
        with BackgroundServer(create_app(Path("runs"))) as server:
            yield server.url, runs


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,1300", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def _fresh_console(browser):
    """Each test judges only its own console: what earlier pages logged is dropped."""
    browser.get_log("browser")


def wait(driver, condition, what: str, timeout_s: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(lambda d: condition(d), message=what)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def shoot(driver, name: str) -> Path:
    """A screenshot of the whole page (the window made as tall as the page, up to MAX_SHOT_HEIGHT)."""
    path = ARTIFACTS / f"{name}.png"
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    for _ in range(2):  # again once resized: a wider viewport can re-flow the page to a new height
        page_height = driver.execute_script("return document.documentElement.scrollHeight")
        viewport = driver.execute_script("return window.innerHeight")
        chrome = driver.get_window_size()["height"] - viewport  # the window's own bars, if any
        driver.set_window_size(width, min(max(height, page_height + chrome + 20), MAX_SHOT_HEIGHT))
    driver.execute_script("window.scrollTo(0, 0)")  # a click may have scrolled: the page from its top
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)
    return path


def curve_points(driver, panel: str, series: str) -> list[tuple[float, float]]:
    """The points drawn for one series, read in one script (the live chart redraws under us)."""
    points = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(c => [c.dataset.x, c.dataset.y]);",
        f'[data-panel="{panel}"] g[data-series="{series}"] circle.pt',
    )
    return [(float(x), float(y)) for x, y in points]


# -- each page -------------------------------------------------------------------------------------
PAGES = {
    "runs": ("/", "#runs tr[data-run]"),
    "run": ("/run/lenet", "#confusion td[data-true]"),
    "explore": ("/explore?model=tutorial-cnn&input=3x32x32&compare=lenet5", ".layer .formula"),
    "try": ("/try?run=lenet", "#class option[value='9']"),
    "experiments": ("/experiments", "#report table"),
    "train": ("/train", "#model option[value='lenet5']"),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_each_page_loads_without_console_errors(lab, browser, page):
    base, _ = lab
    path, ready = PAGES[page]
    browser.get(base + path)
    wait(browser, lambda d: css(d, ready), f"the {page} page to show {ready}")
    time.sleep(0.3)  # late requests (images) have their chance to fail
    shoot(browser, page)
    assert console_errors(browser) == []


def test_the_runs_page_lists_runs_and_shows_the_damaged_folder(lab, browser):
    base, _ = lab
    browser.get(base + "/")
    wait(browser, lambda d: css(d, "#runs tr[data-run]"), "the runs")
    listed = {row.get_attribute("data-run") for row in css(browser, "#runs tr[data-run]")}
    assert {"lenet", "wide-seed0", "narrow-seed2"} <= listed
    damaged = css(browser, ".damaged-run")
    assert len(damaged) == 1 and "half-written" in damaged[0].text and "not valid JSON" in damaged[0].text


def test_two_seed_groups_overlay_with_bands_and_the_compare_verdict(lab, browser):
    base, _ = lab
    browser.get(base + "/")
    wait(browser, lambda d: css(d, "#runs tr[data-run]"), "the runs")
    for run in ("wide-seed0", "narrow-seed0"):
        css(browser, f'tr[data-run="{run}"] input.pick')[0].click()
    verdict = wait(browser, lambda d: css(d, "#verdict td.verdict"), "the verdict")
    assert any(cell.text.startswith("differ by more than seed noise") for cell in verdict)
    differences = [cell.text for cell in css(browser, "#verdict td.num") if cell.text.endswith(" points")]
    assert differences, "an accuracy difference in points, as `cnnlab runs compare` prints it"
    bands = css(browser, "#overlay g.series polygon")
    assert len(bands) == 2  # one mean ± std band a group
    shoot(browser, "runs-compare")


def test_a_curves_points_are_the_records_of_metrics_jsonl(lab, browser):
    base, runs = lab
    browser.get(base + "/run/lenet")
    wait(browser, lambda d: curve_points(d, "accuracy", "test_accuracy"), "the accuracy curve")
    records = [json.loads(line) for line in (runs / "lenet" / "metrics.jsonl").read_text().splitlines()]
    expected = [(r["epoch"], r["test_accuracy"]) for r in records if r["kind"] == "epoch"]
    assert curve_points(browser, "accuracy", "test_accuracy") == expected
    assert curve_points(browser, "loss", "train_loss") == [
        (r["epoch"], r["train_loss"]) for r in records if r["kind"] == "epoch"
    ]


def test_a_confusion_cell_opens_its_test_images(lab, browser):
    base, _ = lab
    browser.get(base + "/run/lenet")
    cell = wait(browser, lambda d: css(d, '#confusion td[data-true="1"][data-predicted="1"]'), "the matrix")[
        0
    ]
    count = int(cell.text)
    cell.click()
    images = wait(browser, lambda d: css(d, "#cell img"), "the cell's images")
    assert len(images) == min(64, count)
    loaded = "return arguments[0].naturalWidth"
    wait(browser, lambda d: all(d.execute_script(loaded, i) == 28 for i in images), "the images to load")
    shoot(browser, "run-confusion")


def test_the_explorer_shows_the_size_formula_of_the_first_convolution(lab, browser):
    base, _ = lab
    browser.get(base + "/explore?model=tutorial-cnn&input=3x32x32")
    layer = wait(browser, lambda d: css(d, '.layer[data-layer="features.0"]'), "the layers")[0]
    assert "(32 + 2*0 - 5)/1 + 1 = 28" in layer.text
    layer.click()
    details = css(browser, "#details")[0]
    assert "(32 + 2*0 - 5)/1 + 1 = 28" in details.text and "456" in details.text


def test_the_explorer_refuses_too_small_an_input_with_the_formula(lab, browser):
    base, _ = lab
    browser.get(base + "/explore?model=tutorial-cnn&input=3x8x8")
    error = wait(browser, lambda d: [e for e in css(d, "#error") if e.text], "the refusal")[0]
    assert "features.3" in error.text and "(2 + 2*0 - 5)/1 + 1 = -2" in error.text


def test_a_runs_layer_shows_its_filters_and_feature_maps(lab, browser):
    base, _ = lab
    browser.get(base + "/explore?run=lenet")
    wait(browser, lambda d: css(d, '.layer[data-layer="features.c1"]'), "the run's layers")[0].click()
    filters = wait(browser, lambda d: css(d, '#details img[alt="filters of features.c1"]'), "the filters")[0]
    wait(
        browser,
        lambda d: d.execute_script("return arguments[0].naturalWidth", filters) > 0,
        "filters to load",
    )
    [button] = [b for b in css(browser, "#details button") if b.text == "Show"]
    button.click()
    maps = wait(browser, lambda d: css(d, "#maps img"), "the feature maps")[0]
    wait(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", maps) > 0, "maps to load")
    shoot(browser, "explore-run")


def test_a_stroke_drawn_with_the_mouse_gives_a_prediction(lab, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    base, _ = lab
    browser.get(base + "/try?run=lenet")
    wait(browser, lambda d: css(d, "#class option[value='9']"), "the run's classes")
    canvas = css(browser, "#canvas")[0]
    strokes = ActionChains(browser).move_to_element_with_offset(canvas, 10, -90).click_and_hold()
    for _ in range(9):
        strokes.move_by_offset(-2, 20)
    strokes.release().perform()
    bars = wait(browser, lambda d: css(d, "#bars .bar"), "the prediction")
    assert len(bars) == 5
    assert {bar.get_attribute("data-class") for bar in bars} <= set("0123456789")
    conversion = css(browser, "#conversion")[0].text
    assert "resized 280x280 -> 28x28" in conversion and "RGBA -> grayscale" in conversion
    assert css(browser, "figure.gradcam canvas")
    shoot(browser, "try-drawn")
    assert console_errors(browser) == []


def test_an_upload_that_is_not_an_image_shows_the_servers_message(lab, browser, tmp_path):
    base, _ = lab
    browser.get(base + "/try?run=lenet")
    wait(browser, lambda d: css(d, "#class option[value='9']"), "the run's classes")
    text_file = tmp_path / "notes.png"
    text_file.write_text("not a picture")
    css(browser, "#file")[0].send_keys(str(text_file))
    error = wait(browser, lambda d: [e for e in css(d, "#error") if e.text], "the message")[0]
    assert "not an image file" in error.text


@pytest.mark.slow
def test_a_run_started_from_the_page_appears_and_its_curve_grows(lab, browser):
    from selenium.webdriver.support.ui import Select

    base, _ = lab
    browser.get(base + "/train")
    wait(browser, lambda d: css(d, "#model option[value='lenet5']"), "the form")
    Select(css(browser, "#model")[0]).select_by_value("lenet5")
    Select(css(browser, "#dataset")[0]).select_by_value("mnist")
    # Long enough (188 steps an epoch) that the page sees it running on a quiet machine too.
    settings = {
        "epochs": "2",
        "subset": "6000",
        "test_subset": "128",
        "batch_size": "32",
        "name": "from-browser",
    }
    for name, value in settings.items():
        field = css(browser, f'input[name="{name}"]')[0]
        field.clear()
        field.send_keys(value)
    css(browser, "#start")[0].click()
    wait(browser, lambda d: d.current_url.endswith("/run/from-browser"), "the run's page")
    # The page is up before the first epoch ends: no points yet, then both epochs arrive live.
    wait(browser, lambda d: "running" in css(d, "#status")[0].text, "the run to start")
    assert curve_points(browser, "loss", "train_loss") == []
    browser.execute_script("window.notReloaded = true")
    grown = lambda d: len(curve_points(d, "loss", "train_loss")) == 2  # noqa: E731
    wait(browser, grown, "the curve to grow", TRAIN_WAIT_S)
    assert browser.execute_script("return window.notReloaded") is True
    shoot(browser, "run-live")
    wait(browser, lambda d: "finished" in css(d, "#status")[0].text, "the run to finish", TRAIN_WAIT_S)
    browser.get(base + "/")
    wait(browser, lambda d: css(d, 'tr[data-run="from-browser"]'), "the new run in the list")
    assert console_errors(browser) == []


def _without_machine_paths(run: Path) -> None:
    """The trained run's settings and environment as a user's own training would read, so that
    the screenshots in docs/web/ show no path of this machine: it was trained by pytest's process
    (the command recorded is pytest's), from $CNNLAB_DATA, into a temp folder."""
    config = json.loads((run / "config.json").read_text())
    environment = json.loads((run / "environment.json").read_text())
    options = [f"--{key.replace('_', '-')}={config[key]}" for key in TRAINED_OPTIONS]
    environment["command"] = ["cnnlab", "train", "--model", config["model"], "--name", run.name, *options]
    data_root = os.environ.get("CNNLAB_DATA")
    for split in environment.get("data", {}).values():
        if data_root and str(split.get("location", "")).startswith(data_root):
            split["location"] = "$CNNLAB_DATA" + split["location"][len(data_root) :]
    (run / "environment.json").write_text(json.dumps(environment, indent=2))
    config["runs_dir"] = "runs"
    (run / "config.json").write_text(json.dumps(config, indent=2))


def _seed_groups(runs: Path) -> None:
    """Two seed groups whose test accuracies differ by far more than their seed noise."""
    for group, accuracies in (("wide", (0.91, 0.92, 0.925)), ("narrow", (0.80, 0.815, 0.81))):
        for seed, final in enumerate(accuracies):
            folder = runs / f"{group}-seed{seed}"
            folder.mkdir()
            curve = [final - 0.2, final - 0.05, final]
            records = [
                {"kind": "epoch", "epoch": i + 1, "step": 100 * (i + 1), "train_loss": 1 - a,
                 "test_accuracy": a, "train_accuracy": a + 0.01, "test_loss": 1.1 - a, "lr": 0.01}
                for i, a in enumerate(curve)
            ]  # fmt: skip
            (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
            config = {"model": "vgg11" if group == "wide" else "lenet5", "dataset": "cifar10", "epochs": 3}
            (folder / "config.json").write_text(json.dumps({**config, "seed": seed, "group": group}))
            final_record = {k: v for k, v in records[-1].items() if k != "kind"}
            result = {
                "status": "finished",
                "final": final_record,
                "epochs_done": 3,
                "duration_s": 60.0 + seed,
            }
            (folder / "result.json").write_text(json.dumps({**result, "started": 1.7e9 + seed}))


def _report(runs: Path) -> None:
    report = runs / "experiments" / "seed-noise-demo"
    report.mkdir(parents=True)
    (report / "report.md").write_text(
        "# Seed noise, a small report\n\n`cnnlab experiment seed-noise`\n\n"
        "| cell | test accuracy |\n| --- | --- |\n| wide | 91.8 ± 0.8% |\n| narrow | 80.8 ± 0.8% |\n"
    )
