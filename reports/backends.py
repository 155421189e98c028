"""One view across backends: invariant x backend, with per-backend counts.

``python -m reports.backends A/report.json B/report.json ... [--out DIR]`` prints Markdown and,
with ``--out``, writes ``backends.md`` and a standalone ``backends.html`` there. Exit status 2
on unreadable input (one line naming the file), else 0: the per-backend runs decide pass/fail.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from reports.render import SYMBOL, e, md_cell, worst
from reports.schema import OUTCOMES


def load(paths: list[str]) -> list[dict]:
    docs = []
    for path in paths:
        try:
            docs.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"reports.backends: cannot read {path}: {exc}") from None
    return docs


# Per-backend totals: the outcomes, with skips and expected failures split by why.
TOTALS = ("passed", "failed", "error", "xpassed", "deviation", "design difference", "no counterpart",
          "capability skip", "other skip")


def kind(row: dict) -> str:
    """The total a row counts under (``TOTALS``)."""
    outcome = row["outcome"]
    if outcome == "xfailed":
        return "design difference" if (row.get("deviation") or {}).get("design") else "deviation"
    if outcome == "skipped":
        reason = row.get("skip_reason") or ""
        if "no counterpart in" in reason:
            return "no counterpart"
        return "capability skip" if "lacks capability" in reason else "other skip"
    return outcome


def table(docs: list[dict]) -> tuple[list[str], dict, dict]:
    """(backends, {invariant: {backend: Counter}}, {backend: totals Counter})."""
    backends, cells, totals = [], {}, {}
    for doc in docs:
        name = doc["run"]["backend"]
        backends.append(name)
        total = totals.setdefault(name, Counter())
        for row in doc["rows"]:
            inv = row["invariant"] or "(no invariant)"
            cells.setdefault(inv, {}).setdefault(name, Counter())[row["outcome"]] += 1
            total[kind(row)] += 1
        total["complete"] = doc["run"]["complete"]
        total["label"] = doc["run"].get("backend_label") or name
    return backends, cells, totals


def markdown(docs: list[dict]) -> str:
    backends, cells, totals = table(docs)
    out = ["# nnconform: invariant × backend", "",
           "| backend | under test | " + " | ".join(TOTALS) + " | complete |",
           "|---|---|" + "---|" * (len(TOTALS) + 1)]
    for b in backends:
        t = totals[b]
        out.append(f"| {md_cell(b)} | {md_cell(t['label'])} | " + " | ".join(str(t[o]) for o in TOTALS)
                   + f" | {'yes' if t['complete'] else 'NO'} |")
    out += ["", "| invariant | " + " | ".join(map(md_cell, backends)) + " |", "|---|" + "---|" * len(backends)]
    for inv in sorted(cells):
        row = []
        for b in backends:
            c = cells[inv].get(b)
            row.append(f"{SYMBOL[worst(c)]} " + " ".join(f"{o}:{c[o]}" for o in OUTCOMES if c[o]) if c else "–")
        out.append(f"| {md_cell(inv)} | " + " | ".join(row) + " |")
    out += ["", "Legend: " + ", ".join(f"{SYMBOL[o]} {o}" for o in OUTCOMES) + " (a cell shows its worst outcome, then counts).",
            "Totals: `deviation` and `design difference` split the expected failures by their deviations line "
            "(a `design` line is a framework's documented design difference); `no counterpart` counts skips of a "
            "step a framework profile cannot map, `capability skip` skips for a capability the backend lacks."]
    return "\n".join(out) + "\n"


def html(docs: list[dict]) -> str:
    backends, cells, totals = table(docs)
    head = "".join(f"<th>{e(b)}</th>" for b in backends)
    body = []
    for inv in sorted(cells):
        tds = []
        for b in backends:
            c = cells[inv].get(b)
            if not c:
                tds.append("<td>–</td>")
                continue
            title = ", ".join(f"{o}: {c[o]}" for o in OUTCOMES if c[o])
            tds.append(f'<td class="{worst(c)}" title="{e(title)}">{SYMBOL[worst(c)]} {e(title)}</td>')
        body.append(f"<tr><th>{e(inv)}</th>{''.join(tds)}</tr>")
    counts = "".join(
        f"<tr><th>{e(b)}</th><td>{e(totals[b]['label'])}</td>" + "".join(f"<td>{totals[b][o]}</td>" for o in TOTALS)
        + "</tr>" for b in backends)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>nnconform: invariant × backend</title><style>
body {{ font: 14px sans-serif; margin: 1em; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }} .passed {{ background: #c8ecc8; }}
.failed, .error {{ background: #f4b6b6; }} .xfailed {{ background: #fbe3a6; }} .xpassed {{ background: #bcd4f6; }}
.skipped {{ background: #e6e6e6; }}</style></head><body>
<h1>nnconform: invariant × backend</h1>
<table><tr><th>backend</th><th>under test</th>{''.join(f'<th>{e(o)}</th>' for o in TOTALS)}</tr>{counts}</table>
<table><tr><th>invariant</th>{head}</tr>{''.join(body)}</table></body></html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.backends", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="report.json files, one per backend")
    parser.add_argument("--out", default=None, help="folder for backends.md and backends.html")
    args = parser.parse_args(argv)
    try:
        docs = load(args.reports)
        text = markdown(docs)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    except (KeyError, TypeError) as exc:
        print(f"reports.backends: not an nnconform report ({exc})", file=sys.stderr)
        return 2
    print(text, end="")
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "backends.md").write_text(text)
        (folder / "backends.html").write_text(html(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
