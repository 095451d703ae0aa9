"""The experiments API (rendered reports and their images) and training from the page (a queue
of ``cnnlab train`` subprocesses, Stop = Ctrl-C, Resume = ``--resume``)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from cnnlab import models
from cnnlab.data.registry import DATASETS
from cnnlab.runs.inside import path_inside
from cnnlab.runs.rundir import safe_run_name
from cnnlab.training.recipes import RECIPES, list_recipes
from cnnlab.web.jobs import Job, TrainQueue
from cnnlab.web.lab import Lab, lab_of
from cnnlab.web.reports import Report, find_reports, render

router = APIRouter(prefix="/api", tags=["experiments and training"])


# -- experiments ---------------------------------------------------------------------------------
@router.get("/experiments")
def experiments(lab: Lab = Depends(lab_of)) -> list[dict[str, str]]:
    """The reports of `cnnlab experiment` runs (runs/experiments) and of the results folder."""
    return [report.to_dict() for report in find_reports(lab.report_sources)]


@router.get("/experiments/{source}/{name}")
def experiment(source: str, name: str, lab: Lab = Depends(lab_of)) -> dict[str, str]:
    """One report rendered to HTML; its images load from ``.../files/``."""
    report = _report(lab, source, name)
    return {**report.to_dict(), "html": render(report, f"/api/experiments/{source}/{name}/files/")}


@router.get("/experiments/{source}/{name}/files/{path:path}", response_class=FileResponse)
def experiment_file(source: str, name: str, path: str, lab: Lab = Depends(lab_of)) -> FileResponse:
    """A file beside a report (its figures); nothing outside the report's folder."""
    report = _report(lab, source, name)
    target = path_inside(report.folder, path)
    if target is None or not target.is_file():
        raise HTTPException(404, f"no file '{path}' beside this report")
    return FileResponse(target)


def _report(lab: Lab, source: str, name: str) -> Report:
    for report in find_reports(lab.report_sources):
        if report.source == source and report.name == name:
            return report
    raise HTTPException(404, f"no report '{source}/{name}'")


# -- training ----------------------------------------------------------------------------------
class TrainRequest(BaseModel):
    """The main settings of ``cnnlab train``; the rest come from the recipe or the defaults."""

    model: str = "lenet5"
    dataset: str = "mnist"
    recipe: str | None = None
    epochs: int | None = Field(None, ge=1, le=1000)
    batch_size: int | None = Field(None, ge=1, le=65536)
    lr: float | None = Field(None, gt=0, le=100)
    optimizer: str | None = None
    subset: int | None = Field(None, ge=1)
    test_subset: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)
    name: str | None = Field(None, max_length=100)


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "muon")


@router.get("/train/options")
def train_options() -> dict[str, Any]:
    """What the train form offers: classifiers, datasets, recipes, optimizers."""
    return {
        "models": [info.name for info in models.list_models(task="classify")],
        "datasets": DATASETS.names(),
        "recipes": [{"name": r.name, "summary": r.summary} for r in list_recipes()],
        "optimizers": list(OPTIMIZERS),
    }


@router.post("/train")
def start_training(settings: TrainRequest, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """Queue ``cnnlab train`` with these settings; the answer names the run it will write."""
    queue = lab.start_queue()
    _check_choices(settings)
    default_name = f"{settings.model}-{settings.dataset}-{time.strftime('%H%M%S')}"
    run = _free_name(lab, queue, settings.name or default_name)
    args = ["train", "--model", settings.model, "--dataset", settings.dataset, "--name", run]
    for flag, value in (
        ("--recipe", settings.recipe),
        ("--epochs", settings.epochs),
        ("--batch-size", settings.batch_size),
        ("--lr", settings.lr),
        ("--optimizer", settings.optimizer),
        ("--subset", settings.subset),
        ("--test-subset", settings.test_subset),
        ("--seed", settings.seed),
    ):
        if value is not None:
            args += [flag, str(value)]
    args += ["--runs-dir", str(lab.runs_dir), *_data_dir_args(lab)]
    return queue.submit(run, args).to_dict()


@router.post("/runs/{name}/resume")
def resume(name: str, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """Queue ``cnnlab train --resume RUN``: it goes on from the run's last checkpoint."""
    run_dir = lab.run(name)
    queue = lab.start_queue()
    if name in queue.busy_runs():
        raise HTTPException(409, f"run '{name}' already has a queued or running job")
    if not run_dir.last_checkpoint.is_file():
        raise HTTPException(409, f"run '{name}' has no checkpoint to resume from")
    args = ["train", "--resume", str(run_dir.root), "--runs-dir", str(lab.runs_dir), *_data_dir_args(lab)]
    return queue.submit(name, args).to_dict()


@router.get("/jobs")
def jobs(lab: Lab = Depends(lab_of)) -> list[dict[str, Any]]:
    """The queue, newest first: queued, running and ended jobs with their log's tail."""
    return [job.to_dict() for job in lab.queue.jobs()] if lab.queue else []


@router.post("/jobs/{job_id}/stop")
def stop_job(job_id: int, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """Cancel a queued job, or stop a running one as Ctrl-C does (checkpoint saved)."""
    job = lab.queue.stop(job_id) if lab.queue else None
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job.to_dict()


def _check_choices(settings: TrainRequest) -> None:
    models.get_info(settings.model)  # an unknown name answers 404 listing the known ones
    for what, value, known in (
        ("dataset", settings.dataset, DATASETS.names()),
        ("recipe", settings.recipe, list(RECIPES)),
        ("optimizer", settings.optimizer, list(OPTIMIZERS)),
    ):
        if value is not None and value not in known:
            raise HTTPException(400, f"unknown {what} '{value}': choose one of {', '.join(known)}")


def _free_name(lab: Lab, queue: TrainQueue, wanted: str) -> str:
    """``wanted`` made a folder name that neither an existing run nor a queued job has."""
    base = safe_run_name(wanted)
    taken = queue.busy_runs()
    name, attempt = base, 1
    while name in taken or (lab.runs_dir / name).exists():
        attempt += 1
        name = f"{base}-{attempt}"
    return name


def _data_dir_args(lab: Lab) -> list[str]:
    return ["--data-dir", str(lab.data_dir)] if lab.data_dir else []


__all__ = ["Job", "router"]
