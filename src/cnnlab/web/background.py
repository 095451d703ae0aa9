"""The web lab served from a thread of this process, on a free loopback port: what the browser
tests and the benchmarks use to talk to a real uvicorn server, as a browser does.

    with BackgroundServer(create_app("runs")) as server:
        httpx.get(server.url + "/api/runs")
"""

from __future__ import annotations

import os
import socket
import threading
import time
from types import TracebackType

START_TIMEOUT_S = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class BackgroundServer:
    """uvicorn running ``app`` in a daemon thread until the ``with`` block ends. ``niceness``:
    added to that thread's nice value (on Linux a thread's own, inherited by the threads it
    starts), as ``cnnlab serve`` lowers its server's priority; the rest of the process keeps its."""

    def __init__(
        self, app: object, host: str = "127.0.0.1", port: int | None = None, niceness: int = 0
    ) -> None:
        import uvicorn

        self.host, self.port, self.niceness = host, port or free_port(host), niceness
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self._serve, name="cnnlab-web", daemon=True)

    def _serve(self) -> None:
        if self.niceness:
            os.nice(self.niceness)
        self.server.run()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the web lab did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=90)
