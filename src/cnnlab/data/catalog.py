"""What is where, and in what state: the Python side of ``cnnlab data list|download|verify``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cnnlab.data import paths, verify
from cnnlab.data.datasets import locate, official_checksums
from cnnlab.data.registry import DATASETS, DatasetSpec, get_spec

NOT_FOUND = "not found"
NOT_CHECKED = "not checked yet"


@dataclass(frozen=True)
class DatasetStatus:
    """One row of ``cnnlab data list``."""

    name: str
    title: str
    images: int
    classes: int
    where: str  # the folder, or NOT_FOUND
    origin: str  # "--data-dir", "$CNNLAB_DATA", "user cache", "shipped with cnnlab", or ""
    verified: str  # "official", "local manifest", "FAILED (files)", NOT_CHECKED, or NOT_FOUND


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of re-hashing every file of a dataset (``cnnlab data verify``)."""

    spec: DatasetSpec
    location: paths.Location
    checks: list[verify.FileCheck]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def verification(self) -> str:
        return verify.verification_label({c.expected.source for c in self.checks})


def dataset_statuses(data_dir: str | os.PathLike[str] | None = None) -> list[DatasetStatus]:
    """Every named dataset: where it is and whether it verified. Fast: files are not re-hashed,
    the state recorded at their last verification is reported (see :mod:`cnnlab.data.cache`)."""
    return [dataset_status(spec, data_dir) for spec in DATASETS.values()]


def dataset_status(spec: DatasetSpec, data_dir=None) -> DatasetStatus:
    location = paths.find_dataset(spec, data_dir).location
    if location is None:
        return DatasetStatus(
            spec.name, spec.title, spec.num_images, spec.num_classes, NOT_FOUND, "", NOT_FOUND
        )
    wanted = official_checksums(spec, location)
    checks = verify.check_files(location.folder, wanted, hash_unrecorded=False)
    failed = verify.failed_files(location.folder, wanted)
    if failed:
        state = f"FAILED ({', '.join(failed)})"
    elif len(checks) < len(wanted):
        state = NOT_CHECKED
    elif all(check.ok for check in checks):
        state = verify.verification_label({c.expected.source for c in checks})
    else:
        state = "FAILED"
    where = str(location.folder / location.archive) if location.archive else str(location.folder)
    return DatasetStatus(
        spec.name, spec.title, spec.num_images, spec.num_classes, where, location.origin, state
    )


def verify_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> VerifyReport:
    """Re-hash every file of a dataset where it is found (nothing is downloaded) and compare."""
    spec = get_spec(name)
    location = locate(spec, data_dir, download=False)
    checks = verify.check_files(location.folder, official_checksums(spec, location), reuse_records=False)
    verify.record_outcome(checks)
    return VerifyReport(spec, location, checks)


def download(name: str, data_dir: str | os.PathLike[str] | None = None, *, progress: bool = True):
    """Make sure a dataset is on this machine and verifies; download it if it is not found.

    Returns ``(report, downloaded)``. A copy that is found but fails verification is reported,
    not silently replaced (the report's ``ok`` is False).
    """
    spec = get_spec(name)
    found = paths.find_dataset(spec, data_dir).location
    if found is None:
        locate(spec, data_dir, download=True, progress=progress)
    return verify_dataset(name, data_dir), found is None
