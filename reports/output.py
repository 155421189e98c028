"""Writing the report files: atomically, so a reader never sees half a file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from reports import render

NAMES = ("report.json", "report.md", "report.html")


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def write_json(doc: dict, folder: Path) -> Path:
    write_atomic(folder / "report.json", to_json(doc))
    return folder / "report.json"


def write_all(doc: dict, folder: Path) -> list[Path]:
    """report.json, report.md and report.html; the Markdown is also appended to a CI step summary."""
    markdown = render.markdown(doc)
    write_json(doc, folder)
    write_atomic(folder / "report.md", markdown)
    write_atomic(folder / "report.html", render.html(doc))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")
    return [folder / name for name in NAMES]
