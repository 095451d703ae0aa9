"""Checksums: every source file is checked before it is decoded.

A dataset folder is verified either against the official checksums in
:mod:`cnnlab.data.registry` or, where the folder carries a ``SHA256SUMS`` manifest (the format
``sha256sum`` writes, paths relative to the folder), against that manifest. The result says which,
so a copy that is not byte-identical to the official files (the lossy CIFAR-10 rebuild in
``shared/data``) is always reported as a "local manifest" copy, never as "official".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cnnlab.data.cache import (
    fingerprint,
    record_failures,
    recorded_digest,
    recorded_failure,
    remember_digests,
)
from cnnlab.errors import ChecksumError, DataError

MANIFEST_NAME = "SHA256SUMS"
OFFICIAL = "official"
LOCAL_MANIFEST = "local manifest"
UNVERIFIED = "unverified"

_CHUNK = 1 << 20
# "<64 hex digits> <space or *><path>", as sha256sum writes it (the * marks binary mode).
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


@dataclass(frozen=True)
class Expected:
    """What a file must hash to, and where that expectation comes from."""

    algorithm: str  # "md5" or "sha256"
    digest: str
    source: str  # OFFICIAL or LOCAL_MANIFEST


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one file."""

    path: Path
    relative: str  # path relative to the dataset folder
    expected: Expected
    actual: str

    @property
    def ok(self) -> bool:
        return self.actual == self.expected.digest


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return digest.hexdigest()


def read_manifest(path: Path) -> dict[str, str]:
    """Parse a ``SHA256SUMS`` file into {relative path: sha256}; a malformed line is an error."""
    entries: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read the checksum manifest {path}: {exc}.") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _MANIFEST_LINE.match(line.rstrip("\r"))
        if not match:
            raise DataError(
                f"{path}, line {number}, is not a sha256sum line: {line[:80]!r}. Each line must be "
                "'<64 hex digits>  <path relative to the folder>'. Regenerate the manifest inside "
                f"the dataset folder with `sha256sum <files> > {MANIFEST_NAME}`, or delete it to "
                "verify against the official checksums."
            )
        digest, name = match.groups()
        entries[_normalise(name)] = digest.lower()
    return entries


def _normalise(name: str) -> str:
    return name.strip().removeprefix("./")


def expectations(folder: Path, official_md5: dict[str, str | None]) -> dict[str, Expected | None]:
    """For each file (relative path -> official MD5 or None), what it must hash to: the entry of the
    folder's manifest where the folder has one that lists the file, else the official MD5."""
    manifest_path = folder / MANIFEST_NAME
    manifest = read_manifest(manifest_path) if manifest_path.is_file() else {}
    result: dict[str, Expected | None] = {}
    for relative, md5 in official_md5.items():
        if relative in manifest:
            result[relative] = Expected("sha256", manifest[relative], LOCAL_MANIFEST)
        else:
            result[relative] = Expected("md5", md5, OFFICIAL) if md5 else None
    return result


def check_files(
    folder: Path,
    official_md5: dict[str, str | None],
    *,
    reuse_records: bool = True,
    hash_unrecorded: bool = True,
) -> list[FileCheck]:
    """Check each file of ``folder`` (relative path -> official MD5) against its expectation.

    Never raises on a mismatch (see :func:`require_ok`): ``cnnlab data verify`` reports them all.
    ``hash_unrecorded=False`` skips files without a valid record instead of hashing them.
    With ``reuse_records``, a checksum recorded when a file last passed is reused while the file's
    stamp is unchanged (see :mod:`cnnlab.data.cache`); without, every file is re-hashed. A record is
    only a shortcut for a pass: one that does not match the expectation is ignored and the file is
    re-hashed, so a damaged record can neither pass a file nor fail one.
    """
    checks = []
    for relative, expected in expectations(folder, official_md5).items():
        if expected is None:
            continue
        path = folder / relative
        actual = recorded_digest(path, expected.algorithm) if reuse_records else None
        if actual != expected.digest:
            actual = None
        if actual is None and not hash_unrecorded:
            continue  # a quick look (`cnnlab data list`) leaves unrecorded files unchecked
        if actual is None:
            actual = file_digest(path, expected.algorithm)
        checks.append(FileCheck(path, relative, expected, actual))
    return checks


def record_outcome(checks: list[FileCheck]) -> None:
    """Remember the checksums of the files that passed, so the next load need not re-hash them, and
    record the files that failed as failed, so nothing trusts them again and ``cnnlab data list``
    names them."""
    remember_digests([c for c in checks if c.ok])
    record_failures([c for c in checks if not c.ok])


def failed_files(folder: Path, official_md5: dict[str, str | None]) -> list[str]:
    """The files of ``folder`` (relative paths) whose last check failed, none passing since."""
    names = expectations(folder, official_md5)
    return [relative for relative in names if recorded_failure(folder / relative)]


def require_ok(checks: list[FileCheck], what_to_do: str) -> None:
    """Raise :class:`ChecksumError` for the first failed check (file, expected, actual, what to do);
    record the outcome of every check (:func:`record_outcome`)."""
    record_outcome(checks)
    for check in checks:
        if not check.ok:
            raise ChecksumError(
                str(check.path),
                f"{check.expected.algorithm.upper()} ({check.expected.source} checksum)",
                check.expected.digest,
                check.actual,
                what_to_do,
            )


def fingerprint_of(checks: list[FileCheck]) -> str:
    """A key for the decoded cache: changes whenever any verified file's content changes."""
    return fingerprint([f"{c.relative}:{c.expected.algorithm}:{c.actual}" for c in checks])


def verification_label(sources: set[str]) -> str:
    """One word for a set of checked files: "official" only if every file matched an official
    checksum; any file checked against a manifest makes the copy a "local manifest" copy."""
    if not sources:
        return UNVERIFIED
    if sources == {OFFICIAL}:
        return OFFICIAL
    return LOCAL_MANIFEST if LOCAL_MANIFEST in sources else UNVERIFIED
