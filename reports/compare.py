"""Compare two conformance reports (two torch releases, two backends, yesterday and today).

    python -m reports.compare OLD.json NEW.json

Prints Markdown: regressions (passed -> failed or error), fixes, new and removed invariants,
changed deviations, other outcome changes, new and removed tests. Exit status: 0 when nothing
regressed, 1 on a regression, 2 when an input cannot be read or is not a report of this schema
(the message names the file and what is wrong). Inputs are parsed as JSON only.
"""
from __future__ import annotations

import sys

from reports import schema
from reports.render import md_cell, md_inline

USAGE = "usage: python -m reports.compare OLD.json NEW.json"


class InputError(Exception):
    pass


def load(path: str) -> dict:
    try:
        return schema.read(path)
    except schema.ReadError as exc:
        raise InputError(f"{path}: {exc}") from None


def _dev(row) -> str | None:
    return row["deviation"]["reason"] if row and row.get("deviation") else None


def diff(old: dict, new: dict) -> dict[str, list]:
    """Sections of the comparison, each a list of (test or invariant, old row, new row)."""
    before = {r["test"]: r for r in old["rows"]}
    after = {r["test"]: r for r in new["rows"]}
    common = sorted(before.keys() & after.keys())
    pairs = [(t, before[t], after[t]) for t in common]
    regressions = [p for p in pairs if p[1]["outcome"] in schema.PASSING and p[2]["outcome"] in schema.FAILING]
    fixes = [p for p in pairs if p[1]["outcome"] in schema.FAILING + ("xfailed",) and p[2]["outcome"] in schema.PASSING]
    deviations = [(t, before.get(t), after.get(t)) for t in sorted(before.keys() | after.keys())
                  if _dev(before.get(t)) != _dev(after.get(t))]
    flagged = {p[0] for p in regressions + fixes + deviations}
    invariants = ({r["invariant"] for r in old["rows"]} - {None}, {r["invariant"] for r in new["rows"]} - {None})
    return {
        "regressions": regressions,
        "fixes": fixes,
        "new invariants": sorted((i, None, None) for i in invariants[1] - invariants[0]),
        "removed invariants": sorted((i, None, None) for i in invariants[0] - invariants[1]),
        "changed deviations": deviations,
        "other outcome changes": [p for p in pairs if p[1]["outcome"] != p[2]["outcome"] and p[0] not in flagged],
        "new tests": [(t, None, after[t]) for t in sorted(after.keys() - before.keys())],
        "removed tests": [(t, before[t], None) for t in sorted(before.keys() - after.keys())],
    }


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
        parts.append(md_cell(new["failure"]["message"].splitlines()[0] if new["failure"]["message"] else ""))
    if _dev(old) != _dev(new):
        parts.append(f"deviation: {md_cell(_dev(old) or '(none)')} → {md_cell(_dev(new) or '(none)')}")
    return "- " + ": ".join(parts[:2]) + "".join(f" · {p}" for p in parts[2:])


def markdown(old: dict, new: dict, old_path: str, new_path: str) -> str:
    sections = diff(old, new)
    counts = ", ".join(f"{len(v)} {k}" for k, v in sections.items())
    out = ["# nnconform comparison", "", f"- old: {_label(old, old_path)}", f"- new: {_label(new, new_path)}", "",
           f"**{'REGRESSED' if sections['regressions'] else 'no regressions'}**: {counts}", ""]
    for title, items in sections.items():
        if items:
            out += [f"## {title.capitalize()} ({len(items)})", ""] + [_line(*item) for item in items] + [""]
    return "\n".join(out)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        old, new = load(args[0]), load(args[1])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(old, new, args[0], args[1]))
    return 1 if diff(old, new)["regressions"] else 0


if __name__ == "__main__":
    sys.exit(main())
