"""Known deviations: findings accepted for a release, kept per backend.

One entry per line, fields separated by `` | ``::

    <test id or glob> | <reason> | <evidence: a reproducer file, relative to this file's folder>

``#`` starts a comment line. A matching test becomes an expected failure (non-strict, so a fix
shows as XPASS in the report rather than breaking the run). A malformed line is a usage error
naming its line number; a line that matches no collected test is a warning.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

FOLDER = Path(__file__).parent / "deviations"


@dataclass(frozen=True)
class Deviation:
    pattern: str
    reason: str
    evidence: str
    line: int

    def matches(self, nodeid: str) -> bool:
        return nodeid == self.pattern or fnmatch.fnmatchcase(nodeid, self.pattern)


def default_path(backend: str) -> Path:
    return FOLDER / f"{backend}.txt"


def load(path: Path) -> list[Deviation]:
    if not path.is_file():
        raise pytest.UsageError(f"deviations file {path} does not exist")
    found = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(" | ")]
        where = f"{path}:{number}"
        if len(fields) != 3 or not all(fields):
            raise pytest.UsageError(f"{where}: expected '<test id or glob> | <reason> | <evidence file>', got {raw!r}")
        if not (path.parent / fields[2]).is_file():
            raise pytest.UsageError(f"{where}: evidence file {fields[2]!r} not found next to {path.name}")
        found.append(Deviation(fields[0], fields[1], fields[2], number))
    return found
