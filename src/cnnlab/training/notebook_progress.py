"""Training progress in a Jupyter or Colab notebook: one live HTML block instead of a wall of text.

:class:`NotebookReporter` shows a progress bar (epoch, batch, loss, accuracy, images/s, time left),
a table that gains a row each epoch and, optionally, the learning curves redrawn after each epoch.
It uses only ``IPython.display`` (a display with ``display_id``, updated in place at most once a
``refresh_s``), so it works without ipywidgets and in a notebook saved with its outputs.
:func:`cnnlab.train` picks it when it runs in a notebook.
"""

from __future__ import annotations

import time
from typing import Any

from cnnlab.display import escape, figure_png, html_table, png_img, text_table
from cnnlab.training.progress import (
    _POSITION_KEYS,
    TIMING_KEYS,
    Reporter,
    RunStart,
    format_metric,
    image_counts,
)

BAR_WIDTH_PX = 320


class NotebookReporter(Reporter):
    """A live progress bar, an epoch table and (``curve=True``) live curves, in notebook output."""

    def __init__(self, *, curve: bool = True, refresh_s: float = 1.0, curve_refresh_s: float = 5.0):
        self.curve = curve
        self.refresh_s = refresh_s
        self.curve_refresh_s = curve_refresh_s  # a redraw costs matplotlib a few tenths of a second
        self._handle: Any = None
        self._curve_handle: Any = None
        self._header = ""
        self._epochs: list[dict[str, Any]] = []
        self._bar: dict[str, Any] = {}
        self._notes: list[str] = []
        self._steps: list[dict[str, float]] = []  # the step records' training stats, x in epochs
        self._last_draw = float("-inf")
        self._last_curve = float("-inf")

    # -- the Reporter hooks --------------------------------------------------------------------
    def run_started(self, start: RunStart) -> None:
        # One reporter serves every run of a seed study: each run gets a display of its own.
        self._epochs, self._steps, self._notes, self._bar = [], [], [], {}
        sizes = image_counts(start)
        verb = f"Resuming at {start.resumed_at}:" if start.resumed_at else "Training"
        self._header = (
            f"{verb} {start.model} on {start.dataset} ({sizes} images), {start.epochs} "
            f"epoch{'s' if start.epochs != 1 else ''}, {start.hardware}. Run directory: {start.run_dir}"
        )
        self._handle = self._display(self._bundle())
        if self.curve:
            self._curve_handle = self._display({"text/plain": ""})

    def epoch_started(self, epoch: int, epochs: int, batches: int, start_batch: int) -> None:
        self._bar = {"epoch": epoch + 1, "epochs": epochs, "done": start_batch, "total": batches,
                     "stats": "", "images": 0, "first": start_batch,
                     "started": time.perf_counter()}  # fmt: skip
        self._draw(force=True)

    def step(self, images: int, stats: dict[str, float] | None) -> None:
        if not self._bar:
            return
        self._bar["done"] += 1
        self._bar["images"] += images
        if stats is not None:
            elapsed = max(time.perf_counter() - self._bar["started"], 1e-9)
            shown = [format_metric(k, v) for k, v in stats.items()]
            self._bar["stats"] = "  ".join([*shown, f"{self._bar['images'] / elapsed:,.0f} img/s"])
            position = self._bar["epoch"] - 1 + self._bar["done"] / max(self._bar["total"], 1)
            self._steps.append({"x": position, **stats})
            self._draw_curve()
        self._draw()

    def epoch_ended(self, record: dict[str, Any]) -> None:
        self._epochs.append(record)
        self._bar = {}
        self._draw(force=True)
        self._draw_curve(force=True)

    def note(self, text: str) -> None:
        self._notes.append(text)
        self._draw(force=True)

    def run_ended(self, result: dict[str, Any]) -> None:
        final = result.get("final") or {}
        shown = [format_metric(k, final[k]) for k in ("test_accuracy", "test_loss") if k in final]
        self._notes.append(
            f"{str(result.get('status', '')).capitalize()} in {result.get('duration_s', 0):.1f} s"
            + (": " + "  ".join(shown) if shown else "")
        )
        self._bar = {}
        self._draw(force=True)

    # -- drawing -------------------------------------------------------------------------------
    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self._handle is None or (not force and now - self._last_draw < self.refresh_s):
            return
        self._last_draw = now
        self._handle.update(self._bundle(), raw=True)

    def _draw_curve(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self._curve_handle is None or (not force and now - self._last_curve < self.curve_refresh_s):
            return
        self._last_curve = now
        self._curve_handle.update(self._curve_bundle(), raw=True)

    def _bundle(self) -> dict[str, str]:
        columns, rows = self._epoch_rows()
        bar_html, bar_text = self._bar_html(), self._bar_text()
        notes = [escape(n) for n in self._notes]
        table = html_table(columns, rows, right=columns[1:]) if rows else ""
        return {
            "text/html": f"<div>{escape(self._header)}</div>{table}{bar_html}"
            + "".join(f"<div>{n}</div>" for n in notes),
            "text/plain": "\n".join(
                [self._header, *([text_table(columns, rows)] if rows else []), bar_text, *self._notes]
            ).strip(),
        }

    def _epoch_rows(self) -> tuple[list[str], list[list[str]]]:
        keys: dict[str, None] = {}
        for record in self._epochs:
            keys.update(dict.fromkeys(k for k in record if k not in (*TIMING_KEYS, *_POSITION_KEYS)))
        columns = ["epoch", *keys, "time"]
        rows = [
            [str(record["epoch"]),
             *(format_metric(k, record[k]).split(" ", 1)[1] if k in record else "" for k in keys),
             f"{record.get('time_s', 0):.1f} s"]
            for record in self._epochs
        ]  # fmt: skip
        return columns, rows

    def _remaining(self) -> str:
        bar = self._bar
        done = bar["done"] - bar["first"]
        if done <= 0:
            return ""
        per_batch = (time.perf_counter() - bar["started"]) / done
        return f"{per_batch * (bar['total'] - bar['done']):.0f} s left"

    def _bar_html(self) -> str:
        if not self._bar:
            return ""
        bar = self._bar
        share = bar["done"] / max(bar["total"], 1)
        return (
            f"<div style='font-family:monospace'>Epoch {bar['epoch']}/{bar['epochs']} "
            f"<span style='display:inline-block;width:{BAR_WIDTH_PX}px;height:0.8em;background:#ddd;"
            f"vertical-align:middle'><span style='display:block;height:100%;width:{share:.1%};"
            f"background:#4a7ebb'></span></span> {bar['done']}/{bar['total']} {escape(bar['stats'])} "
            f"{self._remaining()}</div>"
        )

    def _bar_text(self) -> str:
        if not self._bar:
            return ""
        bar = self._bar
        filled = int(30 * bar["done"] / max(bar["total"], 1))
        return (
            f"Epoch {bar['epoch']}/{bar['epochs']} [{'#' * filled}{'.' * (30 - filled)}] "
            f"{bar['done']}/{bar['total']} {bar['stats']} {self._remaining()}"
        )

    def _curve_bundle(self) -> dict[str, str]:
        png = figure_png(live_curve_figure(self._epochs, self._steps))
        return {"text/html": png_img(png, "learning curves"), "text/plain": "(learning curves)"}

    @staticmethod
    def _display(bundle: dict[str, str]) -> Any:
        from IPython.display import display

        return display(bundle, raw=True, display_id=True)


def live_curve_figure(epochs: list[dict[str, Any]], steps: list[dict[str, float]] = ()) -> Any:
    """Loss and accuracy: the training steps so far (grey) and each finished epoch's train, val and
    test values, small enough to sit under the bar."""
    from matplotlib.figure import Figure

    records = [*epochs, *steps]
    quantities = [q for q in ("loss", "accuracy") if any(k.endswith(q) for r in records for k in r)]
    figure = Figure(figsize=(4.2 * max(len(quantities), 1), 2.6), layout="constrained")
    axes_list = figure.subplots(1, max(len(quantities), 1), squeeze=False)[0]
    for axes, quantity in zip(axes_list, quantities, strict=False):
        points = [(s["x"], s[quantity]) for s in steps if quantity in s]
        if points:
            axes.plot(*zip(*points, strict=True), color="0.6", linewidth=0.9, label="train (steps)")
        for split in ("train", "val", "test"):
            points = [(r["epoch"], r[f"{split}_{quantity}"]) for r in epochs if f"{split}_{quantity}" in r]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=split)
        axes.set_title(quantity, fontsize=9)
        axes.set_xlabel("epoch", fontsize=8)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    return figure
