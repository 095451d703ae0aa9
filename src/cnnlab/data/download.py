"""Downloads from the official sources: progress bar, retries, mirrors, resume, verify-then-rename.

A file is downloaded into ``.<name>.download`` beside its target. That name is never read by a
loader, so an interrupted download is never trusted. The next attempt resumes it with an HTTP
``Range`` request (and starts again if the server ignores the range). Only when the complete file
matches its official MD5 is it renamed onto its real name; a file that does not match is deleted.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from cnnlab import __version__
from cnnlab.data import paths, verify
from cnnlab.data.registry import DatasetSpec, SourceFile
from cnnlab.errors import ChecksumError, DataError

ATTEMPTS_PER_URL = 3
BACKOFF_S = 1.0  # wait before the 2nd attempt; doubles for each further one
TIMEOUT_S = 30.0
_CHUNK = 1 << 16
# Failures worth another attempt: connection drops, timeouts, truncated bodies, 5xx answers.
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


def download_dataset(spec: DatasetSpec, folder: Path, *, progress: bool = True) -> paths.Location:
    """Download the dataset's files (the archive, for CIFAR) into ``folder``; return its location."""
    for source in spec.downloads:
        target = folder / source.name
        if target.is_file() and _matches(target, source):
            continue
        urls = [mirror + source.name for mirror in spec.mirrors]
        fetch_verified(urls, target, source, progress=progress)
    found = paths.find_dataset_in(spec, folder, "download")
    if found is None:  # cannot happen with a correct spec: every download verified
        raise DataError(f"Downloaded {spec.name} into {folder}, but its files are still incomplete.")
    return found


def _matches(path: Path, source: SourceFile) -> bool:
    return verify.file_digest(path, "md5") == source.md5


def fetch_verified(urls: Sequence[str], target: Path, source: SourceFile, *, progress: bool = True) -> Path:
    """Fetch ``source`` from the first URL that works into ``target``; verify before renaming."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    failures: list[str] = []
    mismatch: ChecksumError | None = None  # set while the latest failure is a wrong checksum
    for url in urls:
        for attempt in range(ATTEMPTS_PER_URL):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                resumed = _fetch_to(url, partial, source, progress)
            except urllib.error.HTTPError as exc:
                mismatch = None
                failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
                if exc.code < 500:  # 404 and friends will not go away on retry
                    break
                continue
            except (*_TRANSIENT, OSError) as exc:
                mismatch = None
                failures.append(f"{url}: {_describe(exc)}")
                continue
            actual = verify.file_digest(partial, "md5")
            if actual == source.md5:
                os.replace(partial, target)
                return target
            partial.unlink(missing_ok=True)  # wrong bytes: never resume from them
            failures.append(f"{url}: MD5 {actual}, expected {source.md5}")
            if resumed:  # the kept bytes may have been the bad part: try once more from scratch
                continue
            mismatch = ChecksumError(
                str(target),
                "MD5 (official checksum)",
                source.md5,
                actual,
                "The download was corrupted or the server sent another file; nothing was kept. "
                f"Try again later, or fetch {source.name} by hand and put it at {target}.",
            )
            break
    if mismatch is not None:
        raise mismatch
    raise DataError(_failure_message(source, target, partial, failures))


def partial_path(target: Path) -> Path:
    """Where the bytes of an unfinished download of ``target`` are kept (and resumed from)."""
    return target.with_name(f".{target.name}.download")


def _fetch_to(url: str, partial: Path, source: SourceFile, progress: bool) -> bool:
    """Append the rest of ``url`` to ``partial`` (all of it when the server ignores ``Range``);
    return whether bytes kept from an earlier attempt were reused."""
    have = partial.stat().st_size if partial.is_file() else 0
    headers = {"User-Agent": f"cnnlab/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the partial file already holds every byte
            return True
        raise
    with response:
        resumed = have and response.status == 206 and _range_start(response) == have
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else source.size
        with (
            open(partial, "ab" if resumed else "wb") as out,
            _progress_bar(progress, source.name, total) as bar,
        ):
            bar.advance(have)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                bar.advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        got = partial.stat().st_size
        if length is not None and got != total:
            raise ConnectionError(f"the connection closed after {got} of {total} bytes")
    return bool(resumed)


def _range_start(response) -> int | None:
    """The first byte of a 206 answer (``Content-Range: bytes START-END/TOTAL``)."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


class _Bar:
    """A rich progress bar for one file; ``advance`` adds bytes."""

    def __init__(self, name: str, total: int | None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(f"Downloading {name}", total=total)

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.stop()

    def advance(self, n: int) -> None:
        self._progress.advance(self._task, n)


class _NoBar:
    def advance(self, n: int) -> None:
        pass


def _progress_bar(show: bool, name: str, total: int | None):
    return _Bar(name, total) if show else nullcontext(_NoBar())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the connection closed early ({len(exc.partial)} bytes of this answer arrived)"
    return str(exc) or type(exc).__name__


def _failure_message(source: SourceFile, target: Path, partial: Path, failures: list[str]) -> str:
    kept = ""
    if partial.is_file():
        kept = (
            f" {partial.stat().st_size} bytes are kept in {partial} (never used as the file itself) "
            "and the next attempt resumes from there."
        )
    return (
        f"Could not download {source.name}: {'; '.join(failures)}.{kept} Check the network (or a proxy: "
        f"HTTPS_PROXY), then try again; or download {source.name} by hand and put it at {target}."
    )
