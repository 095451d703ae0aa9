"""Names and paths that come from outside (a web request, a URL) resolved safely inside a folder.

A name a user sends must never reach a file outside the runs directory: not by ``..``, not by an
absolute path, not by a symlink that points out, not by a backslash or a NUL byte. These functions
return None for anything of the kind, so a caller answers "not found" without saying why.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from cnnlab.runs.rundir import RunDir


def path_inside(root: str | os.PathLike[str], relative: str) -> Path | None:
    """``root/relative`` resolved (symlinks followed) when it stays inside ``root``, else None.

    ``relative`` is a POSIX-style relative path (``a/b.png``); it may not be absolute, hold ``..``
    or empty parts, backslashes or NUL bytes. The file need not exist.
    """
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if PurePosixPath(relative).is_absolute() or any(part in ("..", ".", "") for part in parts):
        return None
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        return None
    return target


def run_dir_inside(runs_dir: str | os.PathLike[str], name: str) -> RunDir | None:
    """The run directory called ``name`` directly inside ``runs_dir``, or None.

    ``name`` is one path component (no slash, not hidden); a symlinked run folder counts only when
    it resolves inside ``runs_dir``. The folder must hold a ``config.json``.
    """
    if "/" in name or name.startswith(".") or path_inside(runs_dir, name) is None:
        return None
    run_dir = RunDir(Path(runs_dir) / name)
    return run_dir if run_dir.is_run() else None
