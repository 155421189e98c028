"""One page across torch releases: invariant x release, and the known deviations per release.

``python -m reports.matrix A/report.json B/report.json ... --out DIR [--manifest matrix.json]``
writes ``index.md`` and a standalone ``index.html`` to DIR (and prints the Markdown). Reports are
given oldest first. Each release is labelled by its report's folder name (``torch-2.14.1``, as
``tools/matrix.py`` lays them out), or by the manifest ``tools/matrix.py`` writes, which also adds
entries that failed to install and the comparisons between consecutive entries. An
``evidence.json`` next to a report (``tools/evidence.py --json``) gives each deviations line's
evidence verdict on that release.

A cell of the invariant table counts its tests' outcomes (the symbol is the worst). A cell of the
deviations table is the suite's view of the line on that release: ``xfailed`` (its tests fail, as
claimed), ``xpassed`` (some passed: the claim no longer holds), ``failed`` (they fail otherwise),
``skipped``, or ``absent`` (no test of the run matched it), with the count of tests; then the
evidence script's verdict: ``present``, ``fixed`` or ``changed`` (``–`` where none ran).

Exit status 2 on unreadable input (one line naming the file), else 0: the per-release runs and
comparisons decide pass/fail.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from reports.render import SYMBOL, e, md_cell, md_inline, worst
from reports.schema import OUTCOMES

COUNTED = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
UNEXPECTED_PASS = "unexpected pass of a known deviation"
# The suite's view of a deviations line, worst first.
LINE_STATUS = ("xpassed", "failed", "xfailed", "passed", "skipped")
COMPARE_MEANING = {0: "no regressions", 1: "REGRESSED", 2: "bad input", 3: "new run incomplete, crashed or mostly skipped"}


class InputError(Exception):
    pass


def _read_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {what} {path}: {exc}") from None


def releases_from(paths: list[str], manifest: dict | None = None) -> list[dict]:
    """One record per release, in order: label, spec, torch, install, report (doc or None),
    evidence (doc or None), pytest exit."""
    out: list[dict] = []
    by_report = {}
    if manifest:
        for entry in manifest.get("entries", []):
            if entry.get("report"):
                by_report[str(Path(entry["report"]).resolve())] = entry
    used = set()
    for path in paths:
        doc = _read_json(Path(path), "report")
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not isinstance(doc.get("run"), dict):
            raise InputError(f"{path}: not an nnconform report (no 'run' object and 'rows' list)")
        entry = by_report.get(str(Path(path).resolve()), {})
        label = entry.get("slug") or Path(path).resolve().parent.name or str(path)
        base, n = label, 2
        while label in used:
            label, n = f"{base}#{n}", n + 1
        used.add(label)
        evidence_path = Path(entry.get("evidence") or Path(path).parent / "evidence.json")
        evidence = _read_json(evidence_path, "evidence file") if evidence_path.is_file() else None
        if evidence is not None and not isinstance(evidence, dict):
            raise InputError(f"{evidence_path}: not a tools/evidence.py --json document")
        out.append({"label": label, "spec": entry.get("spec"), "torch": (doc["run"].get("torch") or {}).get("version"),
                    "install": entry.get("install"), "pytest_exit": entry.get("pytest_exit", doc["run"].get("exit_status")),
                    "report": doc, "evidence": evidence, "path": str(path)})
    if manifest:  # entries without a report (failed installs, crashed runs), in manifest order
        order = [en.get("slug") for en in manifest.get("entries", [])]
        for entry in manifest.get("entries", []):
            if not entry.get("report") or str(Path(entry["report"]).resolve()) not in {str(Path(p).resolve()) for p in paths}:
                out.append({"label": entry.get("slug") or entry.get("spec"), "spec": entry.get("spec"),
                            "torch": entry.get("torch"), "install": entry.get("install"),
                            "install_detail": entry.get("install_detail"), "pytest_exit": entry.get("pytest_exit"),
                            "report": None, "evidence": None, "path": None})
        rank = {slug: i for i, slug in enumerate(order)}
        out.sort(key=lambda r: rank.get(r["label"], len(rank)))
    return out


def invariant_cells(releases: list[dict]) -> dict[str, dict[str, Counter]]:
    cells: dict[str, dict[str, Counter]] = {}
    for rel in releases:
        for row in (rel["report"] or {}).get("rows", []):
            inv = row.get("invariant") or "(no invariant)"
            cells.setdefault(inv, {}).setdefault(rel["label"], Counter())[row["outcome"]] += 1
    return cells


def _row_kind(row: dict) -> str:
    outcome = row["outcome"]
    message = ((row.get("failure") or {}).get("message") or "")
    if outcome == "xpassed" or (outcome == "failed" and message.startswith(UNEXPECTED_PASS)):
        return "xpassed"
    return "failed" if outcome == "error" else outcome


def deviation_lines(releases: list[dict]) -> tuple[list[dict], dict[str, dict[str, dict]]]:
    """(lines, {line key: {release label: cell}}). A line is keyed by its ``file:line`` where the
    report or an evidence file tells it, else by pattern and evidence."""
    lines: dict[str, dict] = {}
    index: dict[tuple, str] = {}
    for rel in releases:
        for ev in (rel["evidence"] or {}).get("lines", []):
            key = ev.get("where") or f"{ev.get('pattern')} ({ev.get('evidence')})"
            index[(ev.get("pattern"), ev.get("evidence"))] = key
            lines.setdefault(key, {"where": ev.get("where"), "pattern": ev.get("pattern"),
                                   "evidence": ev.get("evidence"), "reason": ev.get("reason")})
    cells: dict[str, dict[str, dict]] = {}
    for rel in releases:
        for row in (rel["report"] or {}).get("rows", []):
            dev = row.get("deviation")
            if not dev:
                continue
            key = (dev.get("where") or index.get((dev.get("pattern"), dev.get("evidence")))
                   or f"{dev.get('pattern') or dev.get('reason')} ({dev.get('evidence')})")
            lines.setdefault(key, {"where": dev.get("where"), "pattern": dev.get("pattern"),
                                   "evidence": dev.get("evidence"), "reason": dev.get("reason")})
            cell = cells.setdefault(key, {}).setdefault(rel["label"], {"tests": Counter()})
            cell["tests"][_row_kind(row)] += 1
        for ev in (rel["evidence"] or {}).get("lines", []):
            key = ev.get("where") or f"{ev.get('pattern')} ({ev.get('evidence')})"
            cell = cells.setdefault(key, {}).setdefault(rel["label"], {"tests": Counter()})
            cell["verdict"], cell["detail"] = ev.get("verdict"), ev.get("detail")
    for key, per in cells.items():
        for label, cell in per.items():
            tests = cell["tests"]
            status = next((s for s in LINE_STATUS if tests[s]), None)
            cell["status"] = status or "absent"
            cell["count"] = tests[status] if status else 0
    return [dict(lines[k], key=k) for k in sorted(lines, key=_line_order)], cells


def _line_order(key: str) -> tuple:
    file, _, line = key.rpartition(":")
    return (file, int(line), "") if line.isdigit() else ("~", 0, key)


def deviation_cell(rel: dict, cell: dict | None) -> tuple[str, str]:
    """(text, css class) of one deviations line on one release."""
    if rel["report"] is None and rel["evidence"] is None:
        return "not run", "none"
    if cell is None:
        cell = {"status": "absent", "count": 0}
    suite = "–" if rel["report"] is None else cell["status"] + (f" {cell['count']}" if cell["count"] else "")
    verdict = cell.get("verdict") or "–"
    css = {"xpassed": "xpassed", "failed": "failed"}.get(cell["status"]) or (
        "fixed" if verdict == "fixed" else "changed" if verdict == "changed" else cell["status"])
    return f"{suite} · {verdict}", css


def _cell_text(c: Counter | None) -> str:
    if not c:
        return "–"
    return f"{SYMBOL[worst(c)]} " + " ".join(f"{o}:{c[o]}" for o in OUTCOMES if c[o])


def _differs(per: dict, labels: list[str]) -> bool:
    return len({tuple(sorted(per.get(label, Counter()).items())) for label in labels}) > 1


def _release_row(rel: dict) -> list[str]:
    doc = rel["report"]
    summary = Counter(r["outcome"] for r in doc["rows"]) if doc else Counter()
    complete = "–" if doc is None else ("yes" if doc["run"].get("complete") else "NO")
    ev = rel["evidence"]
    evidence = ", ".join(f"{n} {v}" for v, n in (ev.get("counts") or {}).items() if n) if ev else "–"
    install = rel.get("install") or ("report" if doc else "–")
    return [rel["label"], rel.get("spec") or "–", rel.get("torch") or "–", install,
            "–" if rel.get("pytest_exit") is None else str(rel["pytest_exit"]),
            *(str(summary[o]) if doc else "–" for o in COUNTED), complete, evidence or "–"]


RELEASE_HEADER = ["release", "spec", "torch", "install", "pytest exit", *COUNTED, "complete", "evidence"]


def _title(manifest: dict | None) -> str:
    if not manifest:
        return ""
    return f"backend {manifest.get('backend')} · profile {manifest.get('profile')}" + (
        f" · torch pip args {manifest['pip_args']}" if manifest.get("pip_args") else "")


def markdown(releases: list[dict], manifest: dict | None = None) -> str:
    labels = [r["label"] for r in releases]
    ran = [r["label"] for r in releases if r["report"] is not None]
    cells = invariant_cells(releases)
    lines, dev_cells = deviation_lines(releases)
    out = ["# nnconform: release matrix", ""]
    if _title(manifest):
        out += [md_cell(_title(manifest)), ""]
    out += ["## Releases", "", "| " + " | ".join(RELEASE_HEADER) + " |", "|---" * len(RELEASE_HEADER) + "|"]
    out += ["| " + " | ".join(md_cell(c) for c in _release_row(r)) + " |" for r in releases]
    failed = [r for r in releases if r.get("install") == "failed"]
    for r in failed:
        out += ["", f"- {md_cell(r['label'])}: install failed: {md_cell((r.get('install_detail') or '').splitlines()[0] if r.get('install_detail') else '')}"]
    comparisons = (manifest or {}).get("comparisons") or []
    if comparisons:
        out += ["", "## Comparisons", "", "| old | new | exit | result | file |", "|---|---|---|---|---|"]
        for c in comparisons:
            meaning = c.get("meaning") or COMPARE_MEANING.get(c.get("exit"), f"exit {c.get('exit')}")
            out.append(f"| {md_cell(c['old'])} | {md_cell(c['new'])} | {c.get('exit')} | {md_cell(meaning)} | "
                       f"{md_inline(Path(c['file']).name, table=True)} |")
    head = "| invariant | " + " | ".join(map(md_cell, labels)) + " |"
    rule = "|---|" + "---|" * len(labels)
    differing = [inv for inv in sorted(cells) if _differs(cells[inv], ran)]
    out += ["", f"## Invariants whose outcomes differ between releases ({len(differing)})", ""]
    if differing:
        out += [head, rule] + [f"| {md_cell(inv)} | " + " | ".join(_cell_text(cells[inv].get(lb)) for lb in labels) + " |"
                               for inv in differing]
    else:
        out.append("None." if len(ran) > 1 else "Fewer than two releases have a report.")
    out += ["", f"## Known deviations × release ({len(lines)} lines)", "",
            "Each cell: the suite's view (xfailed, xpassed, failed, skipped or absent, with the number of tests) · "
            "the evidence script's verdict (present, fixed, changed; – where none ran).", ""]
    if lines:
        out += ["| line | pattern | evidence | " + " | ".join(map(md_cell, labels)) + " |",
                "|---|---|---|" + "---|" * len(labels)]
        for line in lines:
            row = [deviation_cell(rel, dev_cells.get(line["key"], {}).get(rel["label"]))[0] for rel in releases]
            out.append(f"| {md_inline(line['where'] or '?', table=True)} | {md_cell(line['pattern'] or '')} | "
                       f"{md_cell(line['evidence'] or '')} | " + " | ".join(map(md_cell, row)) + " |")
    else:
        out.append("No deviations line matched a test, and no evidence was run.")
    out += ["", f"## Every invariant × release ({len(cells)})", "", head, rule]
    out += [f"| {md_cell(inv)} | " + " | ".join(_cell_text(cells[inv].get(lb)) for lb in labels) + " |"
            for inv in sorted(cells)]
    out += ["", "Legend: " + ", ".join(f"{SYMBOL[o]} {o}" for o in OUTCOMES)
            + " (a cell shows its worst outcome, then counts; – no test)."]
    return "\n".join(out) + "\n"


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
table { border-collapse: collapse; margin-bottom: 1.5em; } th { background: #f3f3f3; }
.passed { background: #c8ecc8; } .failed, .error { background: #f4b6b6; } .xfailed { background: #fbe3a6; }
td.dev { white-space: nowrap; } .xpassed, .fixed { background: #bcd4f6; } .changed { background: #e7c6f5; } .skipped, .absent, .none { background: #e6e6e6; }
"""


def html(releases: list[dict], manifest: dict | None = None) -> str:
    labels = [r["label"] for r in releases]
    ran = [r["label"] for r in releases if r["report"] is not None]
    cells = invariant_cells(releases)
    lines, dev_cells = deviation_lines(releases)

    def table(header, rows):
        return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>" + "".join(rows) + "</table>")

    def inv_row(inv):
        tds = []
        for lb in labels:
            c = cells[inv].get(lb)
            tds.append(f'<td class="{worst(c)}">{e(_cell_text(c))}</td>' if c else "<td>–</td>")
        return f"<tr><th>{e(inv)}</th>{''.join(tds)}</tr>"

    parts = [f"<h1>nnconform: release matrix</h1><p>{e(_title(manifest))}</p>", "<h2>Releases</h2>",
             table(RELEASE_HEADER, ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in _release_row(r)) + "</tr>"
                                    for r in releases])]
    for r in releases:
        if r.get("install") == "failed":
            parts.append(f"<p><b>{e(r['label'])}</b>: install failed: <code>{e(r.get('install_detail') or '')}</code></p>")
    comparisons = (manifest or {}).get("comparisons") or []
    if comparisons:
        rows = []
        for c in comparisons:
            meaning = c.get("meaning") or COMPARE_MEANING.get(c.get("exit"), f"exit {c.get('exit')}")
            css = "passed" if c.get("exit") == 0 else "failed"
            rows.append(f"<tr><td>{e(c['old'])}</td><td>{e(c['new'])}</td><td class=\"{css}\">{e(c.get('exit'))}</td>"
                        f"<td>{e(meaning)}</td><td><code>{e(Path(c['file']).name)}</code></td></tr>")
        parts += ["<h2>Comparisons</h2>", table(["old", "new", "exit", "result", "file"], rows)]
    differing = [inv for inv in sorted(cells) if _differs(cells[inv], ran)]
    parts.append(f"<h2>Invariants whose outcomes differ between releases ({len(differing)})</h2>")
    parts.append(table(["invariant", *labels], [inv_row(i) for i in differing]) if differing else "<p>None.</p>")
    parts.append(f"<h2>Known deviations × release ({len(lines)} lines)</h2><p>Each cell: the suite's view "
                 "(xfailed, xpassed, failed, skipped or absent, with the number of tests) · the evidence script's "
                 "verdict (present, fixed, changed; – where none ran).</p>")
    rows = []
    for line in lines:
        tds = []
        for rel in releases:
            cell = dev_cells.get(line["key"], {}).get(rel["label"])
            text, css = deviation_cell(rel, cell)
            title = (cell or {}).get("detail") or ""
            tds.append(f'<td class="dev {e(css)}" title="{e(title)}">{e(text)}</td>')
        rows.append(f"<tr><td><code>{e(line['where'] or '?')}</code></td><td>{e(line['pattern'] or '')}</td>"
                    f"<td>{e(line['evidence'] or '')}</td>{''.join(tds)}</tr>")
    parts.append(table(["line", "pattern", "evidence", *labels], rows) if rows else "<p>None.</p>")
    parts.append(f"<h2>Every invariant × release ({len(cells)})</h2>")
    parts.append(table(["invariant", *labels], [inv_row(i) for i in sorted(cells)]))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>nnconform: release matrix</title><style>{CSS}</style></head><body>
{''.join(parts)}
</body></html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.matrix", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", help="report.json files, one per release, oldest first")
    parser.add_argument("--out", default=None, help="folder for index.md and index.html")
    parser.add_argument("--manifest", default=None, help="matrix.json written by tools/matrix.py")
    args = parser.parse_args(argv)
    try:
        manifest = _read_json(Path(args.manifest), "manifest") if args.manifest else None
        if manifest is not None and not isinstance(manifest, dict):
            raise InputError(f"{args.manifest}: not a tools/matrix.py manifest")
        if not args.reports and not manifest:
            raise InputError("give report.json files (or a --manifest)")
        releases = releases_from(args.reports, manifest)
        text = markdown(releases, manifest)
        page = html(releases, manifest)
    except InputError as exc:
        print(f"reports.matrix: {exc}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, AttributeError) as exc:
        print(f"reports.matrix: not an nnconform report or manifest ({exc!r})", file=sys.stderr)
        return 2
    print(text, end="")
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.md").write_text(text)
        (folder / "index.html").write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
