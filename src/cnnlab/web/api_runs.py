"""The runs API: the list, one run (settings, history, live stream), its test-set evaluation and
its images, and the seed statistics of groups (the same Welch test as ``cnnlab runs compare``)."""

from __future__ import annotations

import shlex
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from cnnlab.errors import CnnlabError
from cnnlab.runs.rundir import RunDir
from cnnlab.runs.stats import summarize
from cnnlab.training.compare import COLUMNS, RunComparison
from cnnlab.training.seed_study import compare_finals
from cnnlab.web.lab import FiniteJSONResponse, Lab, lab_of
from cnnlab.web.live import metric_events, read_new_records
from cnnlab.web.runs_view import run_rows
from cnnlab.web.trained import png_bytes

router = APIRouter(prefix="/api", tags=["runs"])


@router.get("/runs", response_class=FiniteJSONResponse)
def runs(lab: Lab = Depends(lab_of)) -> FiniteJSONResponse:
    """Every run in the index, newest first, and the run folders that cannot be read."""
    # Encoded as it is: FastAPI's validation of a thousand rows' dictionaries would take longer
    # than reading them.
    return FiniteJSONResponse(lab.runs_listing())


@router.get("/runs/{name}")
def run_detail(name: str, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """A run's settings, environment, result and per-epoch history; ``damaged`` says what is
    wrong with a folder that cannot be read."""
    run_dir = lab.run(name)
    detail: dict[str, Any] = {"run_id": name, "dir": str(run_dir.root), "damaged": None}
    try:
        detail.update(
            config=run_dir.read_config(),
            result=run_dir.read_result(),
            history=run_dir.history(),
            environment=run_dir.read_json(run_dir.environment_path)
            if run_dir.environment_path.is_file()
            else {},
        )
    except CnnlabError as exc:
        detail["damaged"] = str(exc)
        return detail
    row = _index_row(lab, name)
    detail["status"] = row["status"] if row else detail["result"].get("status", "running")
    detail["resume_command"] = shlex.join(
        ["cnnlab", "train", "--resume", name, "--runs-dir", str(lab.runs_dir)]
    )
    detail["has_checkpoint"] = run_dir.last_checkpoint.is_file() or run_dir.best_checkpoint.is_file()
    return detail


@router.get("/runs/{name}/metrics")
def run_metrics(name: str, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """Every complete record of metrics.jsonl, and the byte offset the live stream goes on from."""
    run_dir = lab.run(name)
    records, offset, _ = read_new_records(run_dir.metrics_path, 0)
    return {"records": [record for record, _ in records], "offset": offset}


@router.get("/runs/{name}/stream")
async def run_stream(
    name: str, request: Request, offset: int = Query(0, ge=0), lab: Lab = Depends(lab_of)
) -> StreamingResponse:
    """Server-sent events: each new metrics record as it is written (see cnnlab.web.live)."""
    run_dir = lab.run(name)
    events = metric_events(lab.live, run_dir, offset, request.is_disconnected)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.get("/runs/{name}/evaluation")
def run_evaluation(name: str, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """What ``cnnlab eval RUN`` reports on the test split: accuracy, per-class precision, recall
    and F1, the confusion matrix, the most confidently wrong images."""
    run_dir = lab.run(name)
    result = lab.trained.evaluation(run_dir)
    return {"classes": result.evaluation.classes, **result.evaluation.to_dict()}


@router.get("/runs/{name}/confusion")
def confusion_cell(
    name: str, true: int = Query(..., ge=0), predicted: int = Query(..., ge=0), lab: Lab = Depends(lab_of)
) -> dict[str, Any]:
    """The test images of one cell of the confusion matrix (the first 64 of them)."""
    result = lab.trained.evaluation(lab.run(name))
    classes = result.evaluation.classes
    if true >= len(classes) or predicted >= len(classes):
        raise HTTPException(404, f"the model has classes 0 to {len(classes) - 1}")
    indices, count = result.cell(true, predicted)
    return {"true": classes[true], "predicted": classes[predicted], "count": count, "indices": indices}


@router.get("/runs/{name}/test-images/{index}.png", response_class=Response)
def test_image(name: str, index: int, lab: Lab = Depends(lab_of)) -> Response:
    """One image of the run's test split, as the model sees it (its input size)."""
    result = lab.trained.evaluation(lab.run(name))
    if not 0 <= index < len(result.images):
        raise HTTPException(404, f"the test split has images 0 to {len(result.images) - 1}")
    return Response(png_bytes(result.images[index]), media_type="image/png")


@router.get("/groups/{group}/curve")
def group_curve(
    group: str, metric: str = Query("test_accuracy"), lab: Lab = Depends(lab_of)
) -> dict[str, Any]:
    """Mean ± std of ``metric`` over the group's runs, epoch by epoch (epochs all runs reached)."""
    rows = _group_rows(lab, group)
    if not rows:
        raise HTTPException(404, f"no group '{group}' in the index")
    curves = [
        {record["epoch"]: record[metric] for record in RunDir(row["path"]).history() if metric in record}
        for row in rows
    ]
    common = sorted(set.intersection(*(set(curve) for curve in curves))) if curves else []
    points = []
    for epoch in common:
        summary = summarize([float(curve[epoch]) for curve in curves])
        points.append({"epoch": epoch, "mean": summary.mean, "std": summary.std, "n": summary.n})
    return {"group": group, "metric": metric, "runs": [row["run_id"] for row in rows], "points": points}


@router.get("/compare")
def compare(a: str, b: str, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """Welch's t-test on each final metric of two groups (or runs), with ``cnnlab runs compare``'s
    verdict: "differ by more than seed noise" or "within seed noise"."""
    finals_a, finals_b = _finals(lab, a), _finals(lab, b)
    comparison = RunComparison(a, b, len(finals_a), len(finals_b), compare_finals(finals_a, finals_b))
    return {
        "a": a,
        "b": b,
        "n": [comparison.n_a, comparison.n_b],
        "metrics": {
            metric: {**welch.to_dict(), "verdict": welch.verdict()}
            for metric, welch in comparison.metrics.items()
        },
        # The table as `cnnlab runs compare` prints it (a difference of accuracies in points).
        "columns": COLUMNS,
        "rows": comparison.rows(),
    }


def _finals(lab: Lab, side: str) -> list[dict[str, Any]]:
    """The final metrics of the finished runs of group ``side``, or of run ``side`` alone."""
    rows = _group_rows(lab, side) or [r for r in [_index_row(lab, side)] if r]
    finals = [row["result"].get("final") or {} for row in rows if row["status"] == "finished"]
    if not finals:
        raise HTTPException(404, f"'{side}' is neither a group nor a run with finished runs")
    return finals


def _group_rows(lab: Lab, group: str) -> list[dict[str, Any]]:
    return [row for row in run_rows(lab.runs_dir, lab.index_rows)[0] if row.get("group") == group]


def _index_row(lab: Lab, run_id: str) -> dict[str, Any] | None:
    return next((row for row in run_rows(lab.runs_dir, lab.index_rows)[0] if row["run_id"] == run_id), None)
