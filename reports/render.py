"""Render a report document (the JSON, as a dict) as Markdown, standalone HTML, terminal lines.

Pure functions of the document, so a saved ``report.json`` can be rendered again:
``python -m reports.render report.json [OUT_DIR]``.

Every name, message and snippet comes from the run and may hold markup (a test id, a module or
key name, an exception message): the HTML escapes all of it, and the Markdown escapes table
cells and picks code fences longer than any backtick run inside. The HTML loads nothing (a
Content-Security-Policy forbids scripts and network) and needs no script: failures expand with
``<details>``.
"""
from __future__ import annotations

import html as _html
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from reports.schema import OUTCOMES, SEVERITY

NO_INVARIANT = "(no invariant)"
NO_DEVICE = "cpu (implicit)"  # tests not parametrized by device build on the default device, the CPU
SYMBOL = {"passed": "✓", "failed": "✗", "error": "E", "skipped": "s", "xfailed": "x", "xpassed": "X"}


# --- shared -----------------------------------------------------------------------------------

def worst(outcomes) -> str:
    present = set(outcomes)
    return next(o for o in SEVERITY if o in present)


def by_area_tier(rows) -> list[tuple[str, str, Counter]]:
    groups: dict[tuple[str, str], Counter] = {}
    for row in rows:
        key = (row["area"] or NO_INVARIANT, row["tier"] or "-")
        groups.setdefault(key, Counter())[row["outcome"]] += 1
    return [(area, tier, groups[(area, tier)]) for area, tier in sorted(groups)]


def columns(doc) -> list[tuple[str, str]]:
    """Matrix columns: (backend, device) pairs seen in the rows."""
    return sorted({(r["backend"], d) for r in doc["rows"] for d in (r["devices"] or [NO_DEVICE])})


def headline(doc) -> str:
    run, torch = doc["run"], doc["run"]["torch"]
    git = f" (git {torch['git'][:10]})" if torch.get("git") else ""
    cuda = f", CUDA {torch['cuda']}" if torch.get("cuda") else ""
    rocm = f", ROCm {torch['rocm']}" if torch.get("rocm") else ""
    profile = (run.get("hypothesis") or {}).get("profile")
    label = run.get("backend_label") or run["backend"]
    return (f"torch {torch.get('version')}{git}{cuda}{rocm} · backend {label} · profile {profile} · "
            f"{len(doc['rows'])} tests · {run['start']}")


def status(doc) -> str:
    run = doc["run"]
    return "complete" if run["complete"] else f"INCOMPLETE: {run.get('incomplete_reason') or 'unknown reason'}"


def totals(doc) -> str:
    counts = Counter(r["outcome"] for r in doc["rows"])
    return ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o]) or "no tests"


def _problems(doc):
    return [r for r in doc["rows"] if r["outcome"] in ("failed", "error")]


# --- shared: known deviations that passed, devices, doc drift ----------------------------------

UNEXPECTED_PASS = "unexpected pass of a known deviation: "  # how conformance/plugin.py fails one (strict mode)
_CLAIMED_AT = re.compile(r"unexpected pass of a known deviation: (.+?:\d+) claims ")
_VERDICT = re.compile(r"but this test passed; (.+?)\. \(evidence: ")
NOT_PRESENT = "device not present: "  # conformance/devices.py's skip reason for an absent device


def _message(row) -> str:
    return (row.get("failure") or {}).get("message") or ""


def unexpected_pass(row) -> bool:
    """A known deviation that passed: ``xpassed`` (lenient), or failed for it by strict mode."""
    return row["outcome"] == "xpassed" or (row["outcome"] == "failed" and _message(row).startswith(UNEXPECTED_PASS))


def deviation_line(row) -> str | None:
    """``file:line`` of the deviations line that marks ``row``: its ``deviation.where``, else the
    line a strict-mode unexpected-pass message names."""
    where = (row.get("deviation") or {}).get("where")
    found = _CLAIMED_AT.match(_message(row))
    return where or (found.group(1) if found else None)


def evidence_verdict(row) -> str | None:
    """What the evidence script said of a strict-mode unexpected pass (``fixed upstream: ...``)."""
    found = _VERDICT.search(_message(row))
    return found.group(1) if found else None


def unexpected_passes(doc) -> list[tuple[str, list[dict]]]:
    """Rows that passed although a deviations line claims they fail, grouped by that line."""
    groups: dict[str, list[dict]] = {}
    for row in doc["rows"]:
        if unexpected_pass(row):
            key = deviation_line(row) or (row.get("deviation") or {}).get("pattern") or "(line unknown)"
            groups.setdefault(key, []).append(row)
    return sorted(groups.items(), key=lambda item: line_order(item[0]))


def line_order(where: str) -> tuple[str, int]:
    """Sort key of ``file:line``: by file, then line number (``eager.txt:3`` before ``eager.txt:12``)."""
    file, _, line = where.rpartition(":")
    return (file, int(line)) if line.isdigit() else (where, 0)


def _parts(device: str) -> list[str]:
    return device.split("->")  # a pair row names "cpu->cuda"


def devices_present(doc) -> set[str]:
    """Devices some test ran on (not skipped)."""
    return {p for r in doc["rows"] if r["outcome"] != "skipped" for d in r["devices"] for p in _parts(d)}


def absent_devices(doc) -> dict[str, str]:
    """Devices the run named (in its rows or ``--device``) that no test ran on, with why."""
    present, absent = devices_present(doc), {}
    for row in doc["rows"]:
        for part in (p for d in row["devices"] for p in _parts(d) if p not in present):
            absent.setdefault(part, row.get("skip_reason") or row["outcome"])
    option = ((doc["run"].get("options") or {}).get("device")) or ""
    for name in filter(None, (n.strip() for n in option.split(","))):
        if not any(p == name or p.startswith(name + ":") for p in present):
            absent.setdefault(name, "asked for with --device; no test ran on it")
    return dict(sorted(absent.items()))


def skip_reasons(doc) -> list[tuple[str, int]]:
    counts = Counter(r.get("skip_reason") or "(no reason given)" for r in doc["rows"] if r["outcome"] == "skipped")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def doc_drift(doc) -> dict:
    """The report's doc drift record, ``{}`` when it has none (older reports, runs without the suite)."""
    return doc.get("doc_drift") or {}


# --- terminal ---------------------------------------------------------------------------------

def terminal_lines(doc) -> list[str]:
    header = ("area", "tier", *OUTCOMES)
    table = [header] + [(a, t, *(str(c[o]) for o in OUTCOMES)) for a, t, c in by_area_tier(doc["rows"])]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [f"{totals(doc)} ({status(doc)})"]
    for r in table:
        cells = (c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        lines.append("  ".join(cells))
    for row in _problems(doc):
        lines.append(f"{row['outcome'].upper():7} {row['test']} [{row['invariant'] or NO_INVARIANT}]")
    return lines


# --- Markdown ---------------------------------------------------------------------------------

def md_cell(text) -> str:
    """Table cell text: one line, pipes escaped, markup shown as text.

    HTML is escaped, and so are brackets (and the backslash that could undo that): a link or an
    image (``![x](https://...)``, ``[x][ref]``) in a run's text stays text, never a live remote
    image in ``report.md`` or a CI step summary.
    """
    text = _html.escape(" ".join(str(text).split()), quote=False)
    for char in "\\[]|":
        text = text.replace(char, "\\" + char)
    return text


def md_code(text: str, lang: str = "") -> str:
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def md_inline(text, table: bool = False) -> str:
    """A code span; in a table cell its pipes are escaped too (GFM splits cells on them)."""
    text = " ".join(str(text).split())
    if table:
        text = text.replace("|", "\\|")
    fence = "`" * (1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown(doc) -> str:
    out = ["# nnconform conformance report", "", md_cell(headline(doc)), "",
           f"**{md_cell(status(doc))}**: {md_cell(totals(doc))}", ""]
    out += _md_unexpected_passes(doc)
    out += ["## Summary by area and tier", "", "| area | tier | " + " | ".join(OUTCOMES) + " |",
            "|---|---|" + "---:|" * len(OUTCOMES)]
    for area, tier, c in by_area_tier(doc["rows"]):
        out.append(f"| {md_cell(area)} | {md_cell(tier)} | " + " | ".join(str(c[o]) for o in OUTCOMES) + " |")
    problems = _problems(doc)
    if problems:
        out += ["", "## Failures", ""]
        for row in problems:
            out += _md_failure(doc, row)
    deviations = [r for r in doc["rows"] if r["deviation"]]
    if deviations:
        out += ["", "## Known deviations", "", "| test | outcome | line | reason | evidence |", "|---|---|---|---|---|"]
        for r in deviations:
            d = r["deviation"]
            cells = (md_inline(r["test"], table=True), r["outcome"], md_cell(deviation_line(r) or ""),
                     md_cell(d["reason"]), md_cell(d["evidence"] or ""))
            out.append("| " + " | ".join(cells) + " |")
    out += _md_doc_drift(doc)
    out += _md_api_coverage(doc)
    return "\n".join(out) + "\n"


def _md_unexpected_passes(doc) -> list[str]:
    groups = unexpected_passes(doc)
    if not groups:
        return []
    tests = sum(len(rows) for _, rows in groups)
    out = [f"## Fixed deviations / unexpected passes ({tests} tests, {len(groups)} deviations lines)", "",
           "Each deviations line below claims its tests fail; they passed. Retire or narrow the line.", ""]
    for where, rows in groups:
        dev, verdict = rows[0].get("deviation") or {}, evidence_verdict(rows[0])
        out += [f"### {md_inline(where)}", "", f"- pattern: {md_inline(dev.get('pattern') or '(unknown)')}",
                f"- reason: {md_cell(dev.get('reason') or '(unknown)')}",
                f"- evidence: {md_inline(dev.get('evidence') or '(unknown)')}"
                + (f": {md_cell(verdict)}" if verdict else ""),
                "- passed unexpectedly:"]
        out += [f"  - {md_inline(r['test'])} ({r['outcome']})" for r in rows]
        out.append("")
    return out


def _md_doc_drift(doc) -> list[str]:
    drift = doc_drift(doc)
    if drift.get("error"):
        return ["", "## Documentation drift", "", f"The doc drift check failed: {md_cell(drift['error'])}"]
    if not drift.get("drift"):
        return []
    out = ["", "## Documentation drift", "",
           f"{len(drift['drift'])} invariants quote documentation the installed torch no longer has "
           f"({drift.get('checked', '?')} checked, {drift.get('unchecked', '?')} without a quote).", "",
           "| invariant | status | documented object | quote | detail |", "|---|---|---|---|---|"]
    for d in drift["drift"]:
        cells = (md_inline(d["invariant"], table=True), md_cell(d.get("status") or ""), md_cell(d.get("ref") or ""),
                 md_cell(d.get("quote") or ""), md_cell(d.get("detail") or ""))
        out.append("| " + " | ".join(cells) + " |")
    return out


def _coverage_line(cov: dict) -> str:
    t = cov["totals"]
    parts = [f"{t[k]['covered']}/{t[k]['total'] - t[k]['out_of_scope']} {k}" for k in ("methods", "overloads", "parameters")]
    return (f"API coverage by this run's steps: {', '.join(parts)} of the in-scope inventory exercised "
            f"({t['methods']['out_of_scope']} methods out of scope; details: `python -m conformance.coverage --api`).")


def _md_api_coverage(doc) -> list[str]:
    cov = doc.get("api_coverage") or {}
    if cov.get("error"):
        return ["", "## API coverage", "", f"The API coverage summary failed: {md_cell(cov['error'])}"]
    if not cov.get("totals"):
        return []
    out = ["", "## API coverage", "", _coverage_line(cov)]
    if cov.get("gaps"):
        out += ["", f"Never exercised ({len(cov['gaps'])}):", ""] + [f"- {md_cell(g)}" for g in cov["gaps"]]
    return out


def _html_api_coverage(doc) -> str:
    cov = doc.get("api_coverage") or {}
    if cov.get("error"):
        return f'<h2>API coverage</h2><p id="api-coverage">The API coverage summary failed: {e(cov["error"])}</p>'
    if not cov.get("totals"):
        return ""
    gaps = "".join(f"<li><code>{e(g)}</code></li>" for g in cov.get("gaps") or [])
    return (f'<h2>API coverage</h2><p id="api-coverage">{e(_coverage_line(cov))}</p>'
            + (f"<p>Never exercised ({len(cov['gaps'])}):</p><ul>{gaps}</ul>" if gaps else ""))


def _md_failure(doc, row) -> list[str]:
    failure = row["failure"] or {}
    inv = doc["invariants"].get(row["invariant"] or "", {})
    out = [f"### {row['outcome']}: {md_inline(row['test'])}", ""]
    if row["invariant"]:
        out.append(f"Invariant {md_inline(row['invariant'])} ({md_cell(row['tier'])}, {md_cell(row['area'])}).")
    if failure.get("doc"):
        link = f" ({md_cell(inv['url'])})" if inv.get("url") else ""
        out.append(f"Documentation: {md_cell(failure['doc'])}{link}")
    out += ["", md_code(failure.get("message") or "")]
    if failure.get("reproducer"):
        out += ["", "Reproducer (what ran):", "", md_code(failure["reproducer"], "python")]
    return out + [""]


# --- HTML -------------------------------------------------------------------------------------

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; } tr.area th { background: #e4e9f2; }
td.cell { text-align: center; min-width: 5em; } td.cell a { color: inherit; }
.passed { background: #c8ecc8; } .failed { background: #f5b5b5; } .error { background: #e57e7e; }
.xfailed { background: #fbe3a6; } .xpassed { background: #bcd4f6; } .skipped { background: #e6e6e6; }
.none { background: #fff; color: #aaa; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
details { margin: .4em 0; border-left: 4px solid #ccc; padding-left: .6em; }
details.failed, details.error { border-left-color: #c33; } details.xfailed { border-left-color: #d9a400; }
summary { cursor: pointer; } .muted { color: #666; } .banner { padding: .5em; font-weight: bold; }
.banner.failed { background: #d9534f; color: #fff; }
.banner.incomplete { background: #c9a0dc; border: 2px dashed #6a3d9a; }
section.retire { border-left: 4px solid #3b6fc4; padding-left: .6em; margin: .6em 0; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def e(text) -> str:
    return _html.escape("" if text is None else str(text), quote=True)


def _link(url, text) -> str:
    if not (isinstance(url, str) and url.startswith("https://")):
        return e(text)
    return f'<a href="{e(quote(url, safe=":/#?=&.-_~%"))}" rel="noreferrer">{e(text)}</a>'


def html(doc) -> str:
    rows = doc["rows"]
    anchors = {r["test"]: f"t{i}" for i, r in enumerate(rows)}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        "<title>nnconform conformance report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>nnconform conformance report</h1>", f'<p class="muted">{e(headline(doc))}</p>',
        f'<p id="status" class="banner {banner_class(doc)}">{e(status(doc))}: {e(totals(doc))}</p>',
        _html_unexpected_passes(doc, anchors), _absent_devices(doc), _legend(), _matrix(doc, anchors),
        _failure_details(doc, anchors), _skip_reasons(doc), _html_doc_drift(doc), _html_api_coverage(doc), _run_table(doc), "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def banner_class(doc) -> str:
    """Green for a clean complete run, red for a complete run with failures or errors, violet if incomplete."""
    if not doc["run"]["complete"]:
        return "incomplete"
    return "failed" if _problems(doc) else "passed"


def _html_unexpected_passes(doc, anchors) -> str:
    groups = unexpected_passes(doc)
    if not groups:
        return ""
    out = ['<h2 id="unexpected">Fixed deviations / unexpected passes</h2>',
           "<p>Each deviations line below claims its tests fail; they passed. Retire or narrow the line.</p>"]
    for where, rows in groups:
        dev, verdict = rows[0].get("deviation") or {}, evidence_verdict(rows[0])
        tests = "".join(f'<li><code>{e(r["test"])}</code> ({_outcome_link(r, anchors)})</li>' for r in rows)
        out.append(f'<section class="retire"><h3><code>{e(where)}</code></h3><table>'
                   f'<tr><th>pattern</th><td><code>{e(dev.get("pattern"))}</code></td></tr>'
                   f'<tr><th>reason</th><td>{e(dev.get("reason"))}</td></tr>'
                   f'<tr><th>evidence</th><td><code>{e(dev.get("evidence"))}</code>'
                   f'{f": {e(verdict)}" if verdict else ""}</td></tr></table>'
                   f"<p>Passed unexpectedly:</p><ul>{tests}</ul></section>")
    return "\n".join(out)


def _outcome_link(row, anchors) -> str:
    """A strict-mode failure links to its details; an xpassed row has none."""
    if row["outcome"] != "failed":
        return e(row["outcome"])
    return f'<a href="#{anchors[row["test"]]}">{e(row["outcome"])}</a>'


def _absent_devices(doc) -> str:
    absent = absent_devices(doc)
    if not absent:
        return ""
    items = "".join(f"<li><code>{e(d)}</code>: {e(reason)}</li>" for d, reason in absent.items())
    return f'<div id="absent-devices"><p>Devices not present (no test ran on them):</p><ul>{items}</ul></div>'


def _skip_reasons(doc) -> str:
    reasons = skip_reasons(doc)
    if not reasons:
        return ""
    body = "".join(f"<tr><td>{e(reason)}</td><td>{count}</td></tr>" for reason, count in reasons)
    total = sum(count for _, count in reasons)
    return (f'<h2>Skipped ({total})</h2><table id="skips"><tr><th>reason</th><th>tests</th></tr>{body}</table>')


def _html_doc_drift(doc) -> str:
    drift = doc_drift(doc)
    if drift.get("error"):
        return f'<h2>Documentation drift</h2><p id="doc-drift">The doc drift check failed: {e(drift["error"])}</p>'
    if not drift.get("drift"):
        return ""
    body = "".join(f'<tr><td><code>{e(d["invariant"])}</code></td><td>{e(d.get("status"))}</td>'
                   f'<td><code>{e(d.get("ref"))}</code></td><td>{e(d.get("quote"))}</td>'
                   f'<td>{e(d.get("detail"))}</td></tr>' for d in drift["drift"])
    return (f"<h2>Documentation drift</h2><p>{len(drift['drift'])} invariants quote documentation the installed "
            f"torch no longer has.</p><table id=\"doc-drift\"><tr><th>invariant</th><th>status</th>"
            f"<th>documented object</th><th>quote</th><th>detail</th></tr>{body}</table>")


def _legend() -> str:
    items = "".join(f'<td class="cell {o}">{SYMBOL[o]} {o}</td>' for o in SEVERITY)
    return f'<table id="legend"><tr><th>legend</th>{items}<td class="cell none">· not run</td></tr></table>'


def _matrix(doc, anchors) -> str:
    cols = columns(doc)
    several = len({b for b, _ in cols}) > 1
    heads = "".join(f"<th>{e(f'{b} / {d}' if several else d)}</th>" for b, d in cols)
    cells: dict[tuple, list] = {}
    for r in doc["rows"]:
        for d in r["devices"] or [NO_DEVICE]:
            cells.setdefault((r["invariant"], r["backend"], d), []).append(r)
    out = ["<h2>Invariants × devices</h2>",
           f'<table id="matrix"><thead><tr><th>invariant</th><th>tier</th>{heads}</tr></thead><tbody>']
    invs = sorted({r["invariant"] for r in doc["rows"]}, key=lambda i: (_area(doc, i), i or ""))
    area = object()
    for inv in invs:
        if _area(doc, inv) != area:
            area = _area(doc, inv)
            out.append(f'<tr class="area"><th colspan="{2 + len(cols)}">{e(area)}</th></tr>')
        meta = doc["invariants"].get(inv or "", {})
        title = _link(meta.get("url"), inv or NO_INVARIANT)
        out.append(f'<tr class="inv" title="{e(meta.get("doc"))}"><td>{title}</td><td>{e(meta.get("tier", "-"))}</td>')
        out += [_cell(cells.get((inv, b, d), []), anchors) for b, d in cols]
        out.append("</tr>")
    return "\n".join(out + ["</tbody></table>"])


def _area(doc, inv) -> str:
    return doc["invariants"].get(inv or "", {}).get("area") or NO_INVARIANT


def _cell(group, anchors) -> str:
    if not group:
        return '<td class="cell none">·</td>'
    outcome = worst(r["outcome"] for r in group)
    bad = [r for r in group if r["outcome"] == outcome]
    tests = "\n".join(f"{r['outcome']}: {r['test']}" for r in group)
    text = f"{SYMBOL[outcome]} {len(bad)}/{len(group)}" if len(group) > 1 else SYMBOL[outcome]
    if outcome in ("failed", "error", "xfailed"):
        text = f'<a href="#{anchors[bad[0]["test"]]}">{e(text)}</a>'
    else:
        text = e(text)
    return f'<td class="cell {outcome}" title="{e(tests)}">{text}</td>'


def _failure_details(doc, anchors) -> str:
    shown = [r for r in doc["rows"] if r["outcome"] in ("failed", "error", "xfailed")]
    if not shown:
        return "<h2>Failures</h2><p>None.</p>"
    out = ["<h2>Failures and known deviations</h2>"]
    for r in shown:
        f, d = r["failure"] or {}, r["deviation"]
        meta = doc["invariants"].get(r["invariant"] or "", {})
        out.append(f'<details id="{anchors[r["test"]]}" class="{r["outcome"]}"><summary><b>{e(r["outcome"])}</b> '
                   f'<code>{e(r["test"])}</code> '
                   f'<span class="muted">{e(r["invariant"] or NO_INVARIANT)}</span></summary>')
        if f.get("doc"):
            out.append(f'<p>Documentation: {_link(meta.get("url"), f["doc"])}</p>')
        if d:
            evidence = f'<span class="muted">(evidence: {e(d["evidence"])})</span>'
            line = f" (<code>{e(deviation_line(r))}</code>)" if deviation_line(r) else ""
            out.append(f"<p>Known deviation{line}: {e(d['reason'])} {evidence}</p>")
        out.append(f'<pre class="message">{e(f.get("message"))}</pre>')
        if f.get("reproducer"):
            out.append(f'<p>Reproducer (what ran):</p><pre class="repro"><code>{e(f["reproducer"])}</code></pre>')
        if f.get("example"):
            out.append(f'<p>Hypothesis:</p><pre>{e(f["example"])}</pre>')
        out.append("</details>")
    return "\n".join(out)


def _run_table(doc) -> str:
    run = doc["run"]
    facts = {k: v for k, v in run.items() if k not in ("unfinished",)}
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts.items())
    tests = "".join(f'<tr><td><code>{e(r["test"])}</code></td><td class="{e(r["outcome"])}">{e(r["outcome"])}</td>'
                    f'<td>{e(r["invariant"])}</td><td>{e(", ".join(r["devices"]) or NO_DEVICE)}</td>'
                    f'<td>{e(r["examples"])}</td></tr>' for r in doc["rows"])
    return (f"<details><summary>Run</summary><table>{body}</table></details>"
            f"<details><summary>All tests ({len(doc['rows'])})</summary><table id=\"tests\">"
            f"<tr><th>test</th><th>outcome</th><th>invariant</th><th>devices</th><th>examples</th></tr>{tests}</table></details>")


def main(argv=None) -> int:
    from reports import output, schema

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or not all(a.strip() for a in args):
        print("usage: python -m reports.render REPORT.json [OUT_DIR]", file=sys.stderr)
        return 2
    source = Path(args[0])
    try:
        doc = schema.read(source)
    except schema.ReadError as exc:
        print(f"{source}: {exc}", file=sys.stderr)
        return 2
    folder = Path(args[1]) if len(args) == 2 else source.parent
    try:
        output.write_atomic(folder / "report.md", markdown(doc))
        output.write_atomic(folder / "report.html", html(doc))
    except OSError as exc:
        print(f"{folder}: cannot write report.md/report.html there ({type(exc).__name__}: {exc.strerror or exc})",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
