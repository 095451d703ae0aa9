"""``cnnlab serve``: the web lab, a local page over every run, every network and every image."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser
from pathlib import Path

import typer

from cnnlab.commands.output import console
from cnnlab.errors import UsageError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The repository's own experiment reports, shown when serving from a checkout.
RESULTS_DIR = Path("docs") / "results"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("serve")(serve_command)


def serve_command(
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="The runs to show (default: $CNNLAB_RUNS, ./runs)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on; any but the loopback needs a token."
    ),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    token: str | None = typer.Option(
        None, "--token", help="Token every request must carry (default: generated for a non-loopback --host)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    results_dir: Path | None = typer.Option(
        None, "--results-dir", help="A folder of experiment reports to show too (default: ./docs/results)."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where the datasets are (default: $CNNLAB_DATA, cache)."
    ),
) -> None:
    """Start the web lab: runs with live curves, the network explorer, try a model, experiments, train."""
    try:
        import uvicorn

        from cnnlab.web.app import create_app, lower_priority
        from cnnlab.web.guard import new_token
    except ImportError as exc:
        raise UsageError(
            f"`cnnlab serve` needs the web extra ({exc.name} is missing): pip install 'cnnlab[web]'."
        ) from None
    from cnnlab.runs.rundir import default_runs_dir

    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be between 1 and 65535, not {port}.")
    if host not in LOOPBACK and token is None:
        token = new_token()
    if results_dir is None and RESULTS_DIR.is_dir():
        results_dir = RESULTS_DIR
    _check_port_free(host, port)
    runs = default_runs_dir(runs_dir)
    app = create_app(runs, token=token, results_dir=results_dir, data_dir=data_dir)
    url = page_address(host, port, token)
    console.print(f"cnnlab web lab on {url}", soft_wrap=True, highlight=False)
    console.print(f"  runs from {runs.resolve()}; Ctrl-C stops the server", soft_wrap=True, highlight=False)
    if token:
        console.print("  every request needs the token in this address (share it only with whom you trust)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    lower_priority(app)  # a training on the same cores goes first (see cnnlab.web.app)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def page_address(host: str, port: int, token: str | None) -> str:
    """The address to open: the host as a browser writes it, and the token if there is one."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"Port {port} on {host} is in use; choose another with --port.") from None
            raise UsageError(f"Cannot listen on {host}:{port} ({exc.strerror}).") from None
