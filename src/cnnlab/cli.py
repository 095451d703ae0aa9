"""The ``cnnlab`` command: a thin shell over the Python API.

Each area's commands live in :mod:`cnnlab.commands` (one module an area) and are registered on the
root app here. Commands import torch and the heavy modules inside their bodies, so that
``cnnlab --help`` stays fast.

Exit codes: 0 success, 1 a :class:`~cnnlab.errors.CnnlabError` (the message is printed, no
traceback unless ``--debug``), 2 a usage error, 130 interrupted. Warnings are printed as one line
each ("Warning: ..."), with Python's source location only under ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass

import typer
from rich.markup import escape

from cnnlab import __version__
from cnnlab.commands import COMMAND_MODULES
from cnnlab.commands.output import err_console, one_line_warnings
from cnnlab.errors import CnnlabError

app = typer.Typer(
    name="cnnlab",
    help="cnnlab: datasets, classic CNNs, training, analysis and the course's experiments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class _Options:
    """The root options that outlive the command: ``main`` reads them when a command fails."""

    debug: bool = False


_options = _Options()


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"cnnlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """cnnlab: datasets, classic CNNs, training, analysis and the course's experiments."""
    _options.debug = debug


for _module in COMMAND_MODULES:
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _options.debug = False  # set by the root callback once the command line is parsed
    try:
        with one_line_warnings(keep_source=lambda: _options.debug):
            result = app(args=args, prog_name="cnnlab", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("Aborted.")
        return 130
    except typer.TyperException as exc:  # usage errors: bad flag values, missing arguments (exit code 2)
        _show_usage_error(exc)
        return exc.exit_code
    except CnnlabError as exc:
        if _options.debug:
            traceback.print_exc()
        # The message is text, never markup: "e.g. [true,false,true]" must print as written.
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        return 130
    # In non-standalone mode click returns `typer.Exit(n)`'s code instead of raising it.
    return result if isinstance(result, int) else 0


def _show_usage_error(exc: typer.TyperException) -> None:
    """Click's usage errors print themselves with the usage line and a --help hint; others their message."""
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        err_console.print(f"Error: {escape(exc.format_message())}", highlight=False)


if __name__ == "__main__":
    sys.exit(main())
