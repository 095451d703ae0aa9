"""CLI commands of this area (to be written). Registered by cnnlab.cli."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
