"""The web lab's ASGI app: the pages (static files), the JSON API under ``/api`` (its OpenAPI
schema at ``/openapi.json``) and the guard in front of both.

    from cnnlab.web.app import create_app
    app = create_app("runs")              # then: uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from cnnlab import __version__
from cnnlab.errors import CnnlabError, ModelError, UnknownNameError
from cnnlab.web import api_lab, api_models, api_runs
from cnnlab.web.guard import Guard
from cnnlab.web.lab import FiniteJSONResponse, Lab
from cnnlab.web.uploads import MAX_UPLOAD_BYTES, UploadRefused

STATIC = Path(__file__).parent / "static"
# Page paths -> (page, title): static/pages/PAGE.html is its body inside static/shell.html (and
# static/pages/PAGE.head.html, if there is one, the start of its <head>), and static/PAGE.js
# fetches what it shows from /api.
PAGES = {
    "/": ("runs", "Runs"),
    "/run/{name}": ("run", "Run"),
    "/explore": ("explore", "Network explorer"),
    "/try": ("try", "Try it"),
    "/experiments": ("experiments", "Experiments"),
    "/train": ("train", "Train"),
}
# How much `cnnlab serve` lowers its CPU priority (nice): the lab usually shares its cores with
# the trainings it shows, and a page that watches should never cost a training its speed; when
# both want a core, the training wins, and the page waits a few milliseconds more.
SERVER_NICENESS = 10
# Room for the multipart framing around a file of the upload limit.
MAX_BODY = MAX_UPLOAD_BYTES + 2**16


def create_app(
    runs_dir: str | Path,
    *,
    token: str | None = None,
    results_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> FastAPI:
    """The web lab over ``runs_dir``. ``token``: required on every request but the static
    assets (``cnnlab serve`` sets one for any host but the loopback). ``results_dir``: a folder of
    experiment reports besides ``runs_dir/experiments`` (docs/results in the repository)."""
    sources = {"runs": Path(runs_dir) / "experiments"}
    if results_dir is not None:
        sources["docs"] = Path(results_dir)
    lab = Lab(Path(runs_dir), sources, Path(data_dir) if data_dir else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if lab.queue is not None:
            lab.queue.close()  # a run still training is stopped as Ctrl-C would: checkpoint kept

    app = FastAPI(
        title="cnnlab web lab",
        version=__version__,
        description="The JSON API under the pages of `cnnlab serve`.",
        default_response_class=FiniteJSONResponse,
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load their scripts from a CDN; the schema stays
        redoc_url=None,
    )
    app.state.lab = lab
    for router in (api_runs.router, api_models.router, api_lab.router):
        app.include_router(router)
    _add_error_handlers(app)
    _add_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, token=token, max_body=MAX_BODY)
    return app


def lower_priority(app: FastAPI, niceness: int = SERVER_NICENESS) -> bool:
    """Lower the calling thread's CPU priority by ``niceness``, the thread that then runs the
    server (on Linux a nice value is a thread's, inherited by the threads it starts). The train
    queue's worker is started first, at the old priority, so the ``cnnlab train`` runs it starts
    keep the user's priority (a process cannot raise its own back). Elsewhere the value is the
    whole process's and would slow those runs too: nothing is changed. Whether it was lowered."""
    if sys.platform != "linux" or niceness <= 0:
        return False
    app.state.lab.start_queue()
    try:
        os.nice(niceness)
    except OSError:
        return False
    return True


def _add_pages(app: FastAPI) -> None:
    shell = (STATIC / "shell.html").read_text(encoding="utf-8")
    for path, (page, title) in PAGES.items():
        body = (STATIC / "pages" / f"{page}.html").read_text(encoding="utf-8")
        html = shell.replace("{title}", title).replace("{page}", page).replace("{body}", body)
        handler = _page_with_data(html, PAGE_DATA[page]) if page in PAGE_DATA else _page(html)
        app.add_api_route(path, handler, include_in_schema=False, response_class=HTMLResponse)


def _page(html: str):
    def page() -> HTMLResponse:
        return HTMLResponse(html)

    return page


def _page_with_data(html: str, data: Callable[[Lab], Any]):
    """A page whose first data comes inside it (``{data}`` in its body, a JSON script element):
    its script has it without another round trip, and the lab's API answers the refreshes."""

    def page(request: Request) -> HTMLResponse:
        encoded = FiniteJSONResponse(data(request.app.state.lab)).body.decode("utf-8")
        # "</" inside a script element would end it; "<\/" is the same JSON string.
        return HTMLResponse(html.replace("{data}", encoded.replace("</", "<\\/")))

    return page


# The pages whose first data is in the page itself: the runs page lists 1,000 runs without waiting
# for its script to ask (measured in docs/web.md).
PAGE_DATA: dict[str, Callable[[Lab], Any]] = {"runs": Lab.runs_listing}


def _add_error_handlers(app: FastAPI) -> None:
    """A user's bad input answers with a status and a one-line message the page shows."""

    @app.exception_handler(UploadRefused)
    async def upload_refused(request: Request, exc: UploadRefused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(CnnlabError)
    async def cnnlab_error(request: Request, exc: CnnlabError) -> JSONResponse:
        status = 422 if isinstance(exc, ModelError) else 404 if isinstance(exc, UnknownNameError) else 400
        return JSONResponse({"detail": str(exc).strip("'\"")}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
