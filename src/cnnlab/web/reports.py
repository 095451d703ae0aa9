"""Experiment reports (``report.md`` of ``cnnlab experiment`` runs, and those in docs/results)
found, and rendered to HTML with their images served from beside them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPORT_NAME = "report.md"
_IMAGE_SRC = re.compile(r'(<img\b[^>]*\bsrc=")([^"]+)(")')
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|/|#)", re.IGNORECASE)


@dataclass(frozen=True)
class Report:
    source: str  # "runs" (the runs directory's experiments) or "docs" (a results folder)
    name: str  # the folder's name
    folder: Path
    title: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "name": self.name, "title": self.title, "folder": str(self.folder)}


def find_reports(sources: dict[str, Path]) -> list[Report]:
    """Every folder with a report.md directly inside each source folder, newest name last."""
    reports = []
    for source, root in sources.items():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            report = folder / REPORT_NAME
            if folder.is_dir() and report.is_file():
                reports.append(Report(source, folder.name, folder, _title(report)))
    return reports


def render(report: Report, file_url: str) -> str:
    """The report as HTML; relative image paths point to ``file_url`` + the path."""
    import markdown

    text = (report.folder / REPORT_NAME).read_text(encoding="utf-8", errors="replace")
    html = markdown.markdown(text, extensions=["tables", "fenced_code"])

    def local(match: re.Match[str]) -> str:
        src = match.group(2)
        if _EXTERNAL.match(src):
            return match.group(0)
        return f"{match.group(1)}{file_url}{quote(src)}{match.group(3)}"

    return _IMAGE_SRC.sub(local, html)


def _title(report: Path) -> str:
    with open(report, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("# "):
                return line[2:].strip()
    return report.parent.name
