"""From pytest's per-phase reports to one report row per test.

Workers (or the single process) attach a small ``report.nnconform`` dict to each phase report:
the Hypothesis example count and, for a ``ConformanceError``, its message, reproducer and doc
line. Plain attributes of a ``TestReport`` travel through xdist's serialisation, so the
controller sees them as the worker set them. Everything else the controller reads from the
report itself (``outcome``, ``wasxfail``, ``longrepr``, ``user_properties``).
"""
from __future__ import annotations

import re
import textwrap

REPRO_MARK = "reproducer (what ran):\n"
CRASH_PHASE = "???"  # what xdist names the phase of a test whose worker died
MESSAGE_LIMIT = 4000


# --- worker side: what the exception says --------------------------------------------------

def _exceptions(exc):
    """``exc`` and, for an exception group (several distinct Hypothesis failures), its members."""
    yield exc
    for sub in getattr(exc, "exceptions", ()):
        yield from _exceptions(sub)


def conformance_details(exc) -> dict | None:
    """Message, reproducer and doc line of the first ``ConformanceError`` in ``exc``.

    Reads attributes if ``check.py`` ever attaches them; until then parses the message, whose
    layout ``conformance.check.report`` fixes (``doc: ...`` line, then the reproducer block).
    """
    from conformance.check import ConformanceError

    found = next((e for e in _exceptions(exc) if isinstance(e, ConformanceError)), None)
    if found is None:
        return None
    text = str(found)
    head, mark, repro = text.partition(REPRO_MARK)
    doc = re.search(r"^\s*doc: (.*)$", head, re.MULTILINE)
    notes = "\n".join(getattr(found, "__notes__", []))
    return {
        "message": getattr(found, "message", None) or head.rstrip(),
        "reproducer": getattr(found, "reproducer", None) or (textwrap.dedent(repro).rstrip() + "\n" if mark else None),
        "doc": getattr(found, "doc", None) or (doc.group(1).strip() if doc else None),
        "example": notes or None,
    }


def examples_run(stats: dict) -> int:
    """Test cases that ran to a verdict (passing or failing) in every Hypothesis phase."""
    return sum(
        case.get("status") in ("valid", "interesting")
        for key, phase in stats.items() if key.endswith("-phase") and isinstance(phase, dict)
        for case in phase.get("test-cases", ())
    )


# --- controller side: phases -> row ---------------------------------------------------------

def _text(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if isinstance(report.longrepr, str):  # xdist's crash report: without the worker's header line
        return report.longrepr
    return report.longreprtext or ""


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "\n... (truncated)"


def outcome(phases: dict) -> tuple[str, object]:
    """The test's outcome and the phase report that decided it (pytest's own reading of phases)."""
    if CRASH_PHASE in phases:
        return "error", phases[CRASH_PHASE]
    setup, call, teardown = (phases.get(w) for w in ("setup", "call", "teardown"))
    main = call or setup
    xfail = hasattr(main, "wasxfail")
    if setup is not None and setup.failed:
        result = "error"
    elif main.skipped:
        result = "xfailed" if xfail else "skipped"
    elif main.failed:
        result = "failed"
    else:
        result = "xpassed" if xfail else "passed"
    if teardown is not None and teardown.failed and result not in ("failed", "error"):
        return "error", teardown
    return result, main


def finished(phases: dict) -> bool:
    return "teardown" in phases or CRASH_PHASE in phases


def _key(prop: tuple):
    """A hashable stand-in for a property (values may be lists or dicts after xdist's serialisation)."""
    try:
        hash(prop)
        return prop
    except TypeError:
        return ("<unhashable>", repr(prop))


def properties(phases: dict) -> list[tuple[str, object]]:
    """``user_properties`` of the test (the latest phase carries all of them), in order, once each.

    Linear in the number of properties: a test matched by thousands of deviation lines carries
    thousands of them (a ``p not in props`` scan made that quadratic: minutes per test).
    """
    latest = next((phases[w] for w in ("teardown", "call", "setup") if w in phases), None)
    props, seen = [], set()
    for report in [latest, *phases.values()]:  # a crash report carries none: keep the setup phase's
        for p in getattr(report, "user_properties", None) or []:
            p = tuple(p)
            key = _key(p)
            if key not in seen:
                seen.add(key)
                props.append(p)
    return props


def make_row(nodeid: str, phases: dict, *, backend: str, registry: dict, deviation_of) -> dict:
    """One row of the report (see ``reports/schema.md``)."""
    props = properties(phases)
    first = {}
    for key, value in props:
        first.setdefault(key, value)
    inv = registry.get(first.get("invariant"))
    result, decisive = outcome(phases)
    extras = [getattr(r, "nnconform", None) or {} for r in phases.values()]
    examples = next((e["examples"] for e in extras if e.get("examples") is not None), None)
    details = getattr(decisive, "nnconform", None) or {}
    row = {
        "test": nodeid,
        "invariant": first.get("invariant"),
        "tier": inv.tier if inv else None,
        "area": inv.area if inv else None,
        "backend": str(first.get("backend", backend)),
        "devices": list(dict.fromkeys(str(v) for k, v in props if k == "device")),
        "outcome": result,
        "examples": examples,
        "duration": round(sum(getattr(r, "duration", 0.0) or 0.0 for r in phases.values()), 4),
        "failure": None,
        "skip_reason": None,
        "deviation": None,
    }
    if result in ("failed", "error", "xfailed"):
        conf = details.get("conformance") or {}
        row["failure"] = {
            "phase": "worker crash" if decisive.when == CRASH_PHASE else decisive.when,
            "message": _clip(conf.get("message") or _text(decisive)),
            "reproducer": conf.get("reproducer"),
            "doc": conf.get("doc") or (inv.doc if inv else None),
            "example": conf.get("example"),
        }
    elif result == "skipped":
        row["skip_reason"] = _text(decisive)
    if "deviation" in first:
        where = {"where": str(first["deviation_line"])} if "deviation_line" in first else {}
        row["deviation"] = deviation_of(nodeid, str(first["deviation"]), **where)
    return row
