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
    """report.json, report.md and report.html (``OSError`` when one cannot be written)."""
    write_json(doc, folder)
    write_atomic(folder / "report.md", render.markdown(doc))
    write_atomic(folder / "report.html", render.html(doc))
    return [folder / name for name in NAMES]


def append_step_summary(markdown: str) -> str | None:
    """Append to ``GITHUB_STEP_SUMMARY`` when it is set; None, or why it could not (never raises)."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return None
    try:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")
    except OSError as exc:
        return f"cannot append to GITHUB_STEP_SUMMARY {summary!r}: {type(exc).__name__}: {exc.strerror or exc}"
    return None


def folder_problem(folder: Path, *, create: bool) -> str | None:
    """None when report files can be written in ``folder``, else why not.

    ``create``: make the folder now and write a probe file in it (a folder the user named);
    otherwise create nothing and ask the nearest existing folder above it (the default folder,
    which a run without conformance tests never writes).
    """
    try:
        if folder.exists() and not folder.is_dir():
            return "it exists and is not a folder"
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
            os.close(fd)
            os.unlink(probe)
            return None
        above = next(p for p in folder.absolute().parents if p.exists())
        if not above.is_dir():
            return f"{above} is not a folder"
        if not os.access(above, os.W_OK | os.X_OK):
            return f"{above} is not writable"
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
