"""The state one web lab serves from: its runs directory, report folders, caches and train queue."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from cnnlab.runs.inside import run_dir_inside
from cnnlab.runs.rundir import RunDir
from cnnlab.web.jobs import TrainQueue
from cnnlab.web.live import LiveFeeds
from cnnlab.web.runs_view import BestAccuracyCache, IndexRowsCache, list_runs
from cnnlab.web.trained import TrainedModels


@dataclass
class Lab:
    runs_dir: Path
    report_sources: dict[str, Path]
    data_dir: Path | None = None
    trained: TrainedModels = field(init=False)
    best: BestAccuracyCache = field(default_factory=BestAccuracyCache)
    index_rows: IndexRowsCache = field(default_factory=IndexRowsCache)
    live: LiveFeeds = field(default_factory=LiveFeeds)
    queue: TrainQueue | None = None

    def __post_init__(self) -> None:
        self.trained = TrainedModels(self.data_dir)

    def runs_listing(self) -> dict[str, list[dict[str, Any]]]:
        """Every run in the index, newest first, and the run folders that cannot be read."""
        return list_runs(self.runs_dir, self.best, self.index_rows)

    def start_queue(self) -> TrainQueue:
        if self.queue is None:
            self.queue = TrainQueue(Path(tempfile.mkdtemp(prefix="cnnlab-serve-jobs-")), self.runs_dir)
        return self.queue

    def run(self, name: str) -> RunDir:
        """The run called ``name`` in the runs directory; 404 for anything else (see runs.inside)."""
        run_dir = run_dir_inside(self.runs_dir, name)
        if run_dir is None:
            raise HTTPException(404, f"no run '{name}' in the runs directory")
        return run_dir


def lab_of(request: Request) -> Lab:
    return request.app.state.lab


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers; a diverged run has)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


class FiniteJSONResponse(JSONResponse):
    """JSON whose NaN and infinities are null; the walk over the content is only made when
    plain encoding finds one (a diverged run), so large answers stay fast."""

    def render(self, content: Any) -> bytes:
        try:
            return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        except ValueError:
            return super().render(finite(content))
