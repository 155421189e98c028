"""Known deviations: claims that the implementation under test breaks an invariant, kept per backend.

Note [known deviations]
~~~~~~~~~~~~~~~~~~~~~~~
One claim per line, fields separated by `` | ``::

    <invariant id>[,<invariant id>...] [key=glob ...] | <reason> | <evidence: a script, relative to the file's folder>

The first field names registered invariant ids (an unknown id is a usage error; several ids
separated by commas share one root cause, one reason and one evidence script), optionally
narrowed by selectors: ``test=<function name glob>``; ``device=<name glob or kind>``, where the
kinds are ``cpu``, ``meta``, ``privateuse1`` (a PrivateUse1 device such as nnsim) and
``accelerator`` (any device but cpu and meta), matched against every device a test uses; and any
parameter of the test (``setting=overwrite``, ``how=pickle``) matched against its value.

``when=<kind glob>[|<kind glob>...]`` makes a line *conditional on the drawn graph*: the claim is
that the test fails when its graph holds a node of a matching kind (``when=RNN|LSTM|GRU``).
Which graphs a test draws depends on the profile (and, derandomized, on the test's own source),
so such a claim is judged per run, on the graph Hypothesis reports: a failure whose falsifying
graph matches is an expected failure; a failure on another graph stays a failure (the line is
named in the message); a pass is a pass (the run did not draw such a graph: nothing to claim).
``root=<kind glob>[|...]`` is the same condition on the root's kind alone, and ``has=<feature>``
on a feature of the graph (``FEATURES``: ``nonpersistent-buffer``, ``none-slot``,
``shared-module``: a module under two or more names; ``tied-parameter``: a Parameter under two
or more names; ``tied-tensor``: a parameter or buffer under two or more names;
``root-none-buffers``: the root registers two or more ``None`` buffers ahead of a tensor buffer).

A line that starts with ``design`` (``design traversal.modules.dedup test=... | ... | ...``) is a
*design difference* of a framework that is not torch (Note [framework profiles]): the framework
documents other behaviour on purpose. Its reason quotes the framework's doc sentence, and its
evidence is a program in the framework's own code; it is judged as any other line, and the
report counts it as a design difference, apart from deviations.

Directives: ``base: NAME`` inherits every line of backend NAME's file (wrappers inherit eager's;
a name ending in ``.txt`` or holding a ``/`` is a file relative to this one);
``unset: <invariant id> [selectors]`` drops inherited lines with exactly that first field. ``#``
starts a comment; the file is UTF-8 (a byte-order mark is allowed).

An evidence script is a torch-only program that prints what it shows and ends by printing
``REPRODUCED`` and exiting 0 while the deviation still reproduces, or ``NOT REPRODUCED`` and
exiting 1 once it no longer does (the suite runs it to explain an unexpected pass; anything else,
a crash included, reads as "investigate").

Modes (``--deviations-mode``): ``strict`` (default): a matching test is an expected failure, and
an unexpected pass fails the run, naming the line and what its evidence says now; ``lenient``:
an unexpected pass is reported (XPASS) but does not fail the run; ``skip``: matching tests are
skipped (fast runs). ``--deviations-draft FILE`` writes a starting file from a run's failures.
"""
from __future__ import annotations

import fnmatch
import functools
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FOLDER = Path(__file__).parent / "deviations"
MODES = ("strict", "lenient", "skip")
CONDITIONS = ("when", "root", "has")  # selectors judged on the drawn graph, after the run
FEATURES = {  # has=<feature>: graph features a conditional line can name
    "nonpersistent-buffer": lambda bp: any(s.kind == "buffer" and s.ref is not None and not s.persistent
                                           for n in bp.nodes for s in n.slots),
    "none-slot": lambda bp: any(s.ref is None for n in bp.nodes for s in n.slots),
    "shared-module": lambda bp: _held_twice(bp, ("child",)),
    "tied-parameter": lambda bp: _held_twice(bp, ("param",)),
    "tied-tensor": lambda bp: _held_twice(bp, ("param", "buffer")),
    "root-none-buffers": lambda bp: root_none_buffers_ahead(bp),
}


def _held_twice(bp, kinds) -> bool:
    """Some module or tensor sits in two or more slots of these kinds."""
    refs = [s.ref for n in bp.nodes for s in n.slots if s.kind in kinds and s.ref is not None]
    return len(refs) > len(set(refs))


def root_none_buffers_ahead(bp) -> bool:
    """The root registers two or more ``None`` buffers ahead of a tensor buffer (a shape
    ``torch.export`` crashes on: evidence/export_root_none_buffers_crash.py)."""
    nones = 0
    for s in bp.nodes[bp.root].slots:
        if s.kind == "buffer":
            if s.ref is None:
                nones += 1
            elif nones >= 2:
                return True
    return False


DEVICE_KINDS = {
    "cpu": lambda d: d == "cpu",
    "meta": lambda d: d == "meta",
    "privateuse1": lambda d: d.split(":")[0] == _privateuse1_name(),
    "accelerator": lambda d: d.split(":")[0] not in ("cpu", "meta"),
}


def _privateuse1_name() -> str:
    import torch

    return torch._C._get_privateuse1_backend_name()


@dataclass(eq=False)
class Deviation:
    invariant: str  # one or more ids, comma-separated
    selectors: tuple[tuple[str, str], ...]
    reason: str
    evidence: str  # path relative to ``folder``
    line: int
    file: Path
    design: bool = False  # a ``design`` line: the framework differs from torch by design
    matched: set = field(default_factory=set)  # node ids this line marked
    shadowed: set = field(default_factory=set)  # node ids it selects where another line wins (not stale)

    @property
    def pattern(self) -> str:
        """The first field as written (invariant id and selectors)."""
        return " ".join([self.invariant, *(f"{k}={v}" for k, v in self.selectors)])

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def evidence_path(self) -> Path:
        return self.file.parent / self.evidence

    def matches(self, nodeid: str) -> bool:
        return nodeid in self.matched

    @property
    def when(self) -> str:
        """A line's condition on the drawn graph, as written (empty: unconditional)."""
        return " ".join(f"{k}={v}" for k, v in self.selectors if k in CONDITIONS)

    def holds_for(self, blueprint) -> bool:
        """Whether a conditional line's condition holds for a drawn graph: every ``when=`` glob
        list matches some node's kind, every ``root=`` list the root's."""
        if blueprint is None:
            return False
        for key, value in self.selectors:
            if key == "has":
                found = [f for f, test in FEATURES.items() if test(blueprint)]
            else:
                found = [n.kind for n in blueprint.nodes] if key == "when" else [blueprint.nodes[blueprint.root].kind]
            if key in CONDITIONS and not any(fnmatch.fnmatchcase(k, g) for k in found for g in value.split("|")):
                return False
        return True

    def selects(self, invariant: str | None, name: str, params: dict, devices: list[str]) -> bool:
        if invariant not in self.invariant.split(","):
            return False
        for key, glob in self.selectors:
            if key == "test":
                ok = fnmatch.fnmatchcase(name, glob)
            elif key in CONDITIONS:
                ok = True  # judged per run, on the drawn graph (Deviation.holds_for)
            elif key == "device":
                kind = DEVICE_KINDS.get(glob)
                ok = any(kind(d) if kind else fnmatch.fnmatchcase(d, glob) for d in devices)
            else:
                ok = key in params and fnmatch.fnmatchcase(_show(params[key]), glob)
            if not ok:
                return False
        return True


def _show(value) -> str:
    return "->".join(map(str, value)) if isinstance(value, tuple) else str(value)


def default_path(backend: str) -> Path:
    return FOLDER / f"{backend}.txt"


def load(path: Path, registry: dict, *, _seen=()) -> list[Deviation]:
    """Parse a deviations file (and its bases). Every problem is a usage error naming the line."""
    if path.resolve() in _seen:
        raise pytest.UsageError(f"deviations file {path}: 'base:' directives form a cycle")
    if not path.is_file():
        raise pytest.UsageError(f"deviations file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise pytest.UsageError(f"deviations file {path} is not UTF-8 text (byte {exc.start}): "
                                "expected '<invariant id> [key=glob ...] | <reason> | <evidence file>' lines") from None
    inherited: list[Deviation] = []
    own: list[Deviation] = []
    unset: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("base:"):
            base = line.removeprefix("base:").strip()
            where_base = path.parent / base if "/" in base or base.endswith(".txt") else default_path(base)
            inherited += load(where_base, registry,
                              _seen=(*_seen, path.resolve()))
            continue
        if line.startswith("unset:"):
            unset.append((number, " ".join(line.removeprefix("unset:").split())))
            continue
        fields = [f.strip() for f in line.split(" | ")]
        if len(fields) != 3 or not all(fields):
            raise pytest.UsageError(
                f"{where}: expected '<invariant id> [key=glob ...] | <reason> | <evidence file>', got {raw!r}")
        head, reason, evidence = fields
        design = head.startswith("design ")
        ident, *words = head.removeprefix("design ").split()
        for one in ident.split(","):
            if one not in registry:
                hint = " (a test id or glob: lines are keyed by invariant id now)" if "::" in one or "*" in one else ""
                raise pytest.UsageError(f"{where}: {one!r} is not a registered invariant id{hint}; "
                                        "`python -m conformance.coverage` lists them")
        selectors = []
        for word in words:
            key, eq, glob = word.partition("=")
            if not eq or not key or not glob:
                raise pytest.UsageError(f"{where}: selector {word!r} is not key=glob")
            if glob.strip("*") == "":
                raise pytest.UsageError(f"{where}: selector {word!r} matches everything; leave it out")
            if key == "has" and not set(glob.split("|")) <= set(FEATURES):
                raise pytest.UsageError(f"{where}: selector {word!r}: features are {', '.join(FEATURES)}")
            selectors.append((key, glob))
        if not (path.parent / evidence).is_file():
            raise pytest.UsageError(f"{where}: evidence file {evidence!r} not found next to {path.name}")
        own.append(Deviation(ident, tuple(selectors), reason, evidence, number, path, design))
    for number, pattern in unset:
        before = len(inherited)
        inherited = [d for d in inherited if d.pattern != pattern]
        if len(inherited) == before:
            raise pytest.UsageError(f"{path}:{number}: 'unset: {pattern}' matches no inherited line")
    return inherited + own


@functools.cache
def evidence_verdict(script: str) -> str:
    """Run an evidence script (exit 0: still reproduces, 1: no longer) and say what it means for
    an unexpected pass."""
    try:
        done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120,
                              cwd=str(FOLDER.parent.parent))
    except subprocess.TimeoutExpired:
        return "its evidence script timed out after 120 s: investigate"
    last = (done.stdout.strip().splitlines() or [""])[-1].strip()
    if done.returncode == 0 and last == "REPRODUCED":
        return "its evidence script still reproduces the deviation on this torch: the suite no longer sees it: investigate"
    if done.returncode == 1 and last == "NOT REPRODUCED":
        return "its evidence script no longer reproduces it: fixed upstream: retire the line"
    tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return f"its evidence script failed (exit {done.returncode}: {tail}): investigate"


def draft(rows: list[tuple[str, str, dict]], backend: str) -> str:
    """A starting deviations file from failures: ``rows`` of (invariant, test name, params)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for ident, name, params in rows:
        grouped.setdefault((ident, name), []).append(params)
    out = [f"# Draft known deviations of backend {backend!r}, written from a run's failures.",
           "# Replace each TODO: a reason (what breaks, and why) and a torch-only evidence script that",
           "# exits 0 while the deviation reproduces. Narrow or widen selectors as the evidence shows.",
           ]
    for (ident, name), variants in sorted(grouped.items()):
        common = {k: v for k, v in variants[0].items() if all(p.get(k) == v for p in variants)}
        if len(variants) > 1:
            common = {}  # several parametrisations failed: the line covers the test as a whole
        sel = " ".join([f"test={name}", *(f"{k}={_show(v)}" for k, v in sorted(common.items()))])
        out.append(f"{ident} {sel} | TODO: what breaks ({len(variants)} failing id(s)) | evidence/TODO_{name}.py")
    return "\n".join(out) + "\n"
