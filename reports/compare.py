"""Compare two conformance reports (two torch releases, two backends, yesterday and today).

    python -m reports.compare OLD.json NEW.json

Prints Markdown, in this order:

* **set-up differences**, only what differs, each with what it may explain: backend; torch
  version, commit and build (CPU, CUDA, ROCm) and GPUs; the devices tests ran on; Hypothesis
  profile, ``max_examples`` and the examples run; Hypothesis, pytest and Python versions; the
  deviations file and mode; an incomplete OLD run;
* the **verdict** line, then the changes: regressions (passed -> failed or error) grouped by
  invariant, each with its actual, expected and reproducer; fixed deviations (xfailed -> passed,
  xpassed, or strict mode's unexpected-pass failure) grouped by the deviations line to retire;
  deviations that fail differently; documentation changed (new doc drift entries, docstrings whose
  fingerprint changed while the quote is still found); API surface changed (methods, parameters
  and overloads added or removed between the two torches' inventories); other fixes; new and removed invariants;
  changed deviation reasons; other outcome changes; new and removed tests.

Exit status:

* 0: nothing regressed;
* 1: a regression (a test that passed in OLD fails or errors in NEW);
* 2: usage error, or an input cannot be read or is not a report of this schema version (the
  message names the file and what is wrong);
* 3: NEW cannot be trusted: incomplete (``run.complete`` false), crashed (pytest's exit status
  other than 0 or 1, or a test took its xdist worker down), no rows, or mostly skipped (more than
  half of its rows skipped while OLD had at most half). The verdict line says which, never "no
  regressions", and the changes are still listed. 3 wins over 1.

Inputs are parsed as JSON only.
"""
from __future__ import annotations

import posixpath
import re
import sys
import textwrap

from reports import render, schema
from reports.render import NO_INVARIANT, md_cell, md_code, md_inline

USAGE = "usage: python -m reports.compare OLD.json NEW.json"
OK, REGRESSED, UNUSABLE, UNTRUSTED = 0, 1, 2, 3
PYTEST_EXIT = {2: "INTERRUPTED", 3: "INTERNAL_ERROR", 4: "USAGE_ERROR", 5: "NO_TESTS_COLLECTED"}
# A ConformanceError message (conformance/check.py): "  actual:   ...", "  expected: ..." lines.
_FIELD = re.compile(r"^  (actual|expected): +(.*)$", re.MULTILINE)


class InputError(Exception):
    pass


def load(path: str) -> dict:
    try:
        return schema.read(path)
    except schema.ReadError as exc:
        raise InputError(f"{path}: {exc}") from None


# --- reading rows ---------------------------------------------------------------------------

def _dev(row) -> str | None:
    return row["deviation"]["reason"] if row and row.get("deviation") else None


def _message(row) -> str:
    return ((row or {}).get("failure") or {}).get("message") or ""


def _first_line(row) -> str:
    return (_message(row).splitlines() or [""])[0]


def fields(message: str) -> dict[str, str]:
    """``actual`` and ``expected`` of a ConformanceError message (absent for other failures)."""
    return {m.group(1): m.group(2).strip() for m in _FIELD.finditer(message or "")}


# --- the sections ---------------------------------------------------------------------------

def _is_fixed_deviation(old, new) -> bool:
    return old["outcome"] == "xfailed" and (new["outcome"] in schema.PASSING or render.unexpected_pass(new))


def _fails_differently(old, new) -> bool:
    if old["outcome"] != "xfailed" or new["outcome"] != "xfailed":
        return False
    return _first_line(old) != _first_line(new) or fields(_message(old)).get("actual") != fields(
        _message(new)).get("actual")


def _is_regression(old, new) -> bool:
    return old["outcome"] in schema.PASSING and new["outcome"] in schema.FAILING and not render.unexpected_pass(new)


def diff(old: dict, new: dict) -> dict[str, list]:
    """Sections of the comparison, each a list of (test or invariant, old row, new row)."""
    before = {r["test"]: r for r in old["rows"]}
    after = {r["test"]: r for r in new["rows"]}
    pairs = [(t, before[t], after[t]) for t in sorted(before.keys() & after.keys())]
    regressions = [p for p in pairs if _is_regression(p[1], p[2])]
    retired = [p for p in pairs if _is_fixed_deviation(p[1], p[2])]
    fixes = [p for p in pairs if p[1]["outcome"] in schema.FAILING and p[2]["outcome"] in schema.PASSING]
    deviations = [(t, before.get(t), after.get(t)) for t in sorted(before.keys() | after.keys())
                  if _dev(before.get(t)) != _dev(after.get(t))]
    flagged = {p[0] for p in regressions + retired + fixes + deviations}
    invariants = ({r["invariant"] for r in old["rows"]} - {None}, {r["invariant"] for r in new["rows"]} - {None})
    return {
        "regressions": regressions,
        "fixed deviations": retired,
        "deviations that fail differently": [p for p in pairs if _fails_differently(p[1], p[2])],
        "fixes": fixes,
        "new invariants": sorted((i, None, None) for i in invariants[1] - invariants[0]),
        "removed invariants": sorted((i, None, None) for i in invariants[0] - invariants[1]),
        "changed deviations": deviations,
        "other outcome changes": [p for p in pairs if p[1]["outcome"] != p[2]["outcome"] and p[0] not in flagged],
        "new tests": [(t, None, after[t]) for t in sorted(after.keys() - before.keys())],
        "removed tests": [(t, before[t], None) for t in sorted(before.keys() - after.keys())],
    }


def _fingerprints(doc) -> dict:
    return doc.get("fingerprints") or render.doc_drift(doc).get("fingerprints") or {}


def documentation_changes(old: dict, new: dict) -> list[tuple[str, str]]:
    """(invariant, what changed): doc drift entries new in NEW, then docstrings whose fingerprint
    differs while the quote is still found."""
    before, after = render.doc_drift(old), render.doc_drift(new)
    seen = {(d["invariant"], d.get("status")) for d in before.get("drift", [])}
    out = [(d["invariant"], f"{d.get('status') or 'drift'}: {d.get('detail') or d.get('quote') or ''}")
           for d in after.get("drift", []) if (d["invariant"], d.get("status")) not in seen]
    if after.get("error"):
        out.append(("(doc drift check)", f"failed in NEW: {after['error']}"))
    drifted = {d["invariant"] for d in after.get("drift", [])}
    old_fp, new_fp = _fingerprints(old), _fingerprints(new)
    out += [(i, "docstring changed, quote still found") for i in sorted(old_fp.keys() & new_fp.keys())
            if old_fp[i] != new_fp[i] and i not in drifted]
    return out


# --- the set-up -----------------------------------------------------------------------------

def _get(doc, *path):
    value = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _build(doc) -> str:
    torch = doc["run"]["torch"]
    return f"CUDA {torch['cuda']}" if torch.get("cuda") else f"ROCm {torch['rocm']}" if torch.get("rocm") else "CPU"


def _accelerators(doc) -> str:
    found = _get(doc, "run", "torch", "accelerators") or []
    return ", ".join(f"{a.get('name')} (driver {a.get('driver')})" if isinstance(a, dict) else str(a)
                     for a in found) or "none"


def _commit(doc):
    return (_get(doc, "run", "torch", "version"), _get(doc, "run", "torch", "git"))


SETUP = (  # label, value of a report, what a difference may explain
    ("backend", lambda d: d["run"]["backend"],
     "another implementation under test: changes may come from the backend, not from torch"),
    ("torch version", lambda d: _get(d, "run", "torch", "version"), "the release under comparison"),
    ("torch commit", _commit, "same version, another commit (a nightly or local build)"),
    ("torch build", _build, "a build without CUDA/ROCm skips every test on those devices"),
    ("accelerators", _accelerators, "other GPUs or driver: device-move results may differ"),
    ("profile", lambda d: _get(d, "run", "hypothesis", "profile"),
     "another Hypothesis profile draws other examples: a change may be sampling, not behaviour"),
    ("max_examples", lambda d: _get(d, "run", "hypothesis", "max_examples"),
     "more examples find more failures; fewer can hide them"),
    ("examples run", lambda d: sum(r["examples"] or 0 for r in d["rows"]),
     "Hypothesis examples that ran in all (rows[].examples): fewer in NEW can hide failures"),
    ("hypothesis", lambda d: _get(d, "run", "packages", "hypothesis"),
     "another Hypothesis may draw other examples under the same profile"),
    ("pytest", lambda d: _get(d, "run", "packages", "pytest"), "another pytest: collection and reporting may differ"),
    ("python", lambda d: _get(d, "run", "python"), "another interpreter: copying and pickling may behave differently"),
    ("deviations file", lambda d: _get(d, "run", "options", "deviations") or "(the backend's own)",
     "xfailed/xpassed changes may come from the file, not from the code"),
    ("deviations mode", lambda d: _get(d, "run", "options", "deviations_mode"),
     "strict fails an unexpected pass, lenient only reports it, skip does not run known deviations"),
)


def _show(value) -> str:
    if isinstance(value, tuple):  # (version, commit): the commit
        value = value[1]
    return md_inline(value) if value not in (None, "") else "(none)"


def setup_differences(old: dict, new: dict) -> list[str]:
    """One Markdown line per set-up item that differs, with what it may explain."""
    out = []
    for label, value, note in SETUP:
        a, b = value(old), value(new)
        if a == b or (label == "torch commit" and a[0] != b[0]):
            continue
        out.append(f"- **{label}**: {_show(a)} → {_show(b)}: {note}")
    out += _device_differences(old, new)
    if not old["run"]["complete"]:
        reason = md_cell(old["run"].get("incomplete_reason") or "no reason recorded")
        out.append(f"- **OLD incomplete** ({reason}): tests it lacks show as new tests")
    return out


def _device_differences(old, new) -> list[str]:
    before, after = render.devices_present(old), render.devices_present(new)
    out = []
    for device in sorted(before ^ after):
        side, doc = ("NEW", new) if device in before else ("OLD", old)
        reason = render.absent_devices(doc).get(device)
        how = f"skipped in {side} ({md_cell(reason)})" if reason else f"not in {side}'s tests"
        out.append(f"- **devices differ**: tests on {md_inline(device)} are {how}")
    return out


# --- the verdict ----------------------------------------------------------------------------

def _skipped(doc) -> int:
    return sum(r["outcome"] == "skipped" for r in doc["rows"])


def _crash(doc) -> str | None:
    status = doc["run"].get("exit_status")
    if isinstance(status, int) and status not in (0, 1):
        return f"pytest exit status {status} ({PYTEST_EXIT.get(status, 'unknown')})"
    dead = [r["test"] for r in doc["rows"] if (r["failure"] or {}).get("phase") == "worker crash"]
    if dead:
        more = f" and {len(dead) - 1} more" if len(dead) > 1 else ""
        return f"a worker died running {md_inline(dead[0])}{more}"
    return None


def untrusted(old: dict, new: dict) -> str | None:
    """The verdict when NEW cannot be trusted (exit status 3), else None."""
    run, rows = new["run"], new["rows"]
    if not run["complete"]:
        return f"**INCOMPLETE NEW RUN**: {md_cell(run.get('incomplete_reason') or 'no reason recorded')}"
    if not rows:
        return "**EMPTY NEW RUN**: it has no rows"
    crash = _crash(new)
    if crash:
        return f"**NEW RUN CRASHED**: {crash}"
    if 2 * _skipped(new) > len(rows) and 2 * _skipped(old) <= len(old["rows"]):
        return (f"**MOSTLY SKIPPED NEW RUN**: {_skipped(new)} of {len(rows)} rows skipped "
                f"(OLD: {_skipped(old)} of {len(old['rows'])})")
    return None


def exit_status(old: dict, new: dict) -> int:
    if untrusted(old, new):
        return UNTRUSTED
    return REGRESSED if diff(old, new)["regressions"] else OK


def _verdict(old, new, sections) -> str:
    regressions = len(sections["regressions"])
    problem = untrusted(old, new)
    if problem:
        return problem + (f"; {regressions} regression(s) among the tests it ran" if regressions else "")
    return "**REGRESSED**" if regressions else "**no regressions**"


# --- Markdown -------------------------------------------------------------------------------

def _label(doc, path) -> str:
    run = doc["run"]
    incomplete = "" if run["complete"] else " **(incomplete report)**"
    torch = md_cell(run["torch"].get("version"))
    return f"{md_inline(path)}: torch {torch}, backend {md_cell(run['backend'])}{incomplete}"


def _line(name, old, new) -> str:
    parts = [md_inline(name)]
    if old is not None or new is not None:
        parts.append(f"{old['outcome'] if old else '(absent)'} → {new['outcome'] if new else '(absent)'}")
    if new and new.get("failure") and new["outcome"] in schema.FAILING:
        parts.append(md_cell(_first_line(new)))
    if _dev(old) != _dev(new):
        parts.append(f"deviation: {md_cell(_dev(old) or '(none)')} → {md_cell(_dev(new) or '(none)')}")
    return "- " + ": ".join(parts[:2]) + "".join(f" · {p}" for p in parts[2:])


def _indent(text: str) -> list[str]:
    return [textwrap.indent(text, "  ")]


def _regression(name, old, new) -> list[str]:
    """The regression's line, its actual/expected, and its reproducer in a fence."""
    failure = new.get("failure") or {}
    found = fields(failure.get("message") or "")
    out = [_line(name, old, new)] + [f"  - {key}: {md_inline(found[key])}" for key in ("actual", "expected")
                                     if key in found]
    if failure.get("reproducer"):
        out += [""] + _indent(md_code(failure["reproducer"], "python"))
    elif not found and len(_message(new).splitlines()) > 1:
        out += [""] + _indent(md_code(_message(new)))
    return out + [""]


def _different(name, old, new) -> list[str]:
    def side(row):
        actual = fields(_message(row)).get("actual")
        return md_cell(_first_line(row)) + (f" · actual {md_inline(actual)}" if actual is not None else "")

    return [f"- {md_inline(name)}", f"  - old: {side(old)}", f"  - new: {side(new)}"]


def _by_invariant(items, show) -> list[str]:
    groups: dict[str, list] = {}
    for item in items:
        row = item[2] or item[1]
        groups.setdefault(row["invariant"] or NO_INVARIANT, []).append(item)
    out = []
    for invariant in sorted(groups):
        out += [f"### {md_inline(invariant)} ({len(groups[invariant])})", ""]
        for item in groups[invariant]:
            lines = show(*item)
            out += lines if isinstance(lines, list) else [lines]
        if out[-1]:
            out.append("")
    return out


def _deviation_where(old, new) -> tuple[str, dict, bool]:
    """(file:line, the deviation object, whether NEW still has the line) of a fixed deviation."""
    for row, current in ((new, True), (old, False)):
        if row.get("deviation"):
            return render.deviation_line(row) or "(line unknown)", row["deviation"], current
    return "(line unknown)", {}, False


def _evidence(where: str, dev: dict) -> str:
    """The evidence script's path: the deviation names it relative to its deviations file."""
    evidence = dev.get("evidence") or "(unknown)"
    file = where.rpartition(":")[0]
    return posixpath.join(posixpath.dirname(file), evidence) if file and dev.get("evidence") else evidence


def _retired(items) -> list[str]:
    groups: dict[str, list] = {}
    for name, old, new in items:
        where, dev, current = _deviation_where(old, new)
        groups.setdefault(where, [dev, current, []])[2].append((name, old, new))
    out = []
    for where, (dev, current, tests) in sorted(groups.items(), key=lambda item: render.line_order(item[0])):
        verb = "retire" if current else "already gone from NEW's deviations file:"
        out.append(f"- {verb} {md_inline(where)} ({md_inline(dev.get('pattern') or '(unknown pattern)')}), "
                   f"evidence {md_inline(_evidence(where, dev))}")
        for name, old, new in tests:
            verdict = render.evidence_verdict(new)
            note = f" · unexpected pass: {md_cell(verdict)}" if verdict else ""
            out.append(f"  - {md_inline(name)}: {old['outcome']} → {new['outcome']}{note}")
    return out + [""]


SHOW = {"regressions": _regression, "deviations that fail differently": _different}


def _section(title, items) -> list[str]:
    head = [f"## {title.capitalize()} ({len(items)})", ""]
    if title == "fixed deviations":
        return head + _retired(items)
    if title.endswith("invariants"):
        return head + [_line(*item) for item in items] + [""]
    return head + _by_invariant(items, SHOW.get(title, _line))


def markdown(old: dict, new: dict, old_path: str, new_path: str) -> str:
    sections = diff(old, new)
    counts = ", ".join(f"{len(v)} {k}" for k, v in sections.items() if v) or "nothing changed"
    out = ["# nnconform comparison", "", f"- old: {_label(old, old_path)}", f"- new: {_label(new, new_path)}", ""]
    setup = setup_differences(old, new)
    if setup:
        out += [f"## Set-up differences ({len(setup)})", ""] + setup + [""]
    out += [_verdict(old, new, sections), "", f"Changes: {counts}.", ""]
    for title, items in sections.items():
        if items:
            out += _section(title, items)
        if title == "deviations that fail differently":
            out += _documentation(old, new) + _api_surface(old, new)
    return "\n".join(out)


def api_changes(old: dict, new: dict) -> list[str]:
    """What the API surface gained (``+``) or lost (``-``) between the two torch versions: methods,
    parameters and overloads of the inventory each report carries (``api_coverage.inventory``),
    with NEW's gaps for the added ones (a new parameter is uncovered until a property draws it)."""
    inventories = [(doc.get("api_coverage") or {}).get("inventory") for doc in (old, new)]
    if not all(isinstance(i, dict) for i in inventories):
        return []
    from conformance import api

    try:
        lines = api.diff(api.load(inventories[0]), api.load(inventories[1]))
    except (ValueError, TypeError, KeyError) as exc:
        return [f"(the API inventories cannot be compared: {exc})"]
    gaps = set((new.get("api_coverage") or {}).get("gaps") or [])
    return [line + (" · not exercised in NEW" if line.startswith("+ ") and _gap_for(line, gaps) else "")
            for line in lines]


def _gap_for(line: str, gaps: set) -> bool:
    """Whether an added entry or parameter (``+ key: parameter p`` or ``+ key(...)``) is among NEW's gaps."""
    body = line[2:]
    key, _, rest = body.partition(": ")
    if rest.startswith("parameter "):
        return f"{key}: parameter {rest.split()[1]}" in gaps
    return f"{body.split('(')[0]}: never called" in gaps


def _api_surface(old, new) -> list[str]:
    changes = api_changes(old, new)
    if not changes:
        return []
    return [f"## API surface changed ({len(changes)})", ""] + [f"- {md_cell(c)}" for c in changes] + [""]


def _documentation(old, new) -> list[str]:
    changes = documentation_changes(old, new)
    if not changes:
        return []
    unrecorded = not render.doc_drift(old) and render.doc_drift(new).get("drift")
    note = ["OLD has no doc drift record: every drift entry of NEW is listed.", ""] if unrecorded else []
    return ([f"## Documentation changed ({len(changes)})", ""] + note
            + [f"- {md_inline(i)}: {md_cell(what)}" for i, what in changes] + [""])


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(USAGE, file=sys.stderr)
        return UNUSABLE
    try:
        old, new = load(args[0]), load(args[1])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return UNUSABLE
    print(markdown(old, new, args[0], args[1]))
    return exit_status(old, new)


if __name__ == "__main__":
    sys.exit(main())
