"""cnnlab's exception family.

Every error a user can cause is a :class:`CnnlabError` whose message says what went wrong and what
to do about it. The CLI prints that message and exits with code 1 (2 for :class:`UsageError`);
it shows a traceback only with ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CnnlabError(Exception):
    """Base class: an error with a message meant for the user, not a developer."""

    exit_code = 1


class UsageError(CnnlabError):
    """The command line or the settings are wrong (bad flag value, impossible setting)."""

    exit_code = 2


class ConfigError(UsageError):
    """A setting is impossible (lr <= 0, batch size 0, ...); raised before any work starts."""


class UnknownNameError(UsageError, KeyError):
    """A name (model, dataset, optimizer, ...) that is not in its registry."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str | None = None):
        self.kind, self.name = kind, name
        self.known = sorted(known)
        message = unknown_name_message(kind, name, self.known)
        super().__init__(f"{message} {hint}" if hint else message)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class DataError(CnnlabError):
    """A dataset is missing, unreadable, or in the wrong format."""


class ChecksumError(DataError):
    """A file's checksum is not the expected one."""

    def __init__(self, path: str, algorithm: str, expected: str, actual: str, hint: str):
        self.path, self.algorithm = path, algorithm
        self.expected, self.actual = expected, actual
        super().__init__(
            f"{path} is corrupt or not the expected file: its {algorithm} is {actual}, "
            f"expected {expected}. {hint}"
        )


class ModelError(CnnlabError):
    """A model cannot be built or cannot take the given input."""


class CheckpointError(CnnlabError):
    """A checkpoint or run directory cannot be read safely."""


class TrainingError(CnnlabError):
    """Training stopped: a diverging loss, or another fault during a run."""


def closest_match(name: str, known: Iterable[str]) -> str | None:
    """The known name most like ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1, cutoff=0.5)
    if not matches:
        return None
    by_lower = {k.lower(): k for k in known}
    return by_lower[matches[0]]


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    suggestion = closest_match(name, known)
    hint = f" Did you mean '{suggestion}'?" if suggestion else ""
    plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"  # losses, not losss
    return f"Unknown {kind} '{name}'.{hint} Known {plural}: {', '.join(known)}."
