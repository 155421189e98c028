"""Which registered invariants have conformance tests: ``python -m conformance.coverage``.

Prints a Markdown table per area. ``NOT_COVERED`` names the documented invariants that have no
test yet, with the reason; the README repeats them, and a project test keeps both honest.

API surface coverage (docs/api-coverage.md):

* ``python -m conformance.coverage --api [FILE]``: the inventory of the installed torch
  (``conformance.api``) joined with what a run called (``FILE``, default
  ``reports/out/api-coverage.json``, written by the ``conformance.apicalls`` plugin): counts of
  methods, overloads and parameters covered / out of scope / missing, and per method the
  parameters and overloads never exercised; with ``--check``, exit 1 listing the in-scope gaps
  (0 when none, 2 when the record cannot be read);
* ``python -m conformance.coverage --api-diff OLD.json NEW.json``: what appeared or vanished
  between two inventories (``python -m conformance.api --json`` on each release).
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import conformance
from conformance.registry import REGISTRY

# Areas whose documented invariants must each have a test (all of the spec's areas).
COVERED_AREAS = ("traversal", "state_dict", "load_state_dict", "apply", "train_eval", "conversion",
                 "registration", "grad_and_copy", "containers", "hooks")

NOT_COVERED: dict[str, str] = {
    "traversal.cycles": "blueprints are acyclic by construction; the spec puts cyclic graphs out of scope",
}


def tests_by_invariant() -> dict[str, list[str]]:
    """Collect the suite (as pytest does, parametrized marks included): invariant -> test ids."""
    found: dict[str, list[str]] = defaultdict(list)

    class Collector:
        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, items):
            for item in items:
                marker = item.get_closest_marker("invariant")
                if marker:
                    found[marker.args[0]].append(item.nodeid)

    root = Path(conformance.__file__).parent
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", str(root)], plugins=[Collector()])
    if code != 0:
        raise RuntimeError(f"collecting {root} failed (exit {code}); run pytest --collect-only to see why")
    return found


def uncovered_documented(tested: dict[str, list[str]]) -> list[str]:
    """Documented invariants of the covered areas with neither a test nor a reason."""
    return [
        inv.id for inv in REGISTRY.values()
        if inv.area in COVERED_AREAS and inv.tier == "documented" and inv.id not in tested and inv.id not in NOT_COVERED
    ]


def markdown() -> str:
    tested = tests_by_invariant()
    rows = ["| invariant | tier | area | tests |", "|---|---|---|---|"]
    for inv in sorted(REGISTRY.values(), key=lambda i: (i.area, i.id)):
        tests = len(tested.get(inv.id, []))
        note = str(tests) if tests else f"none: {NOT_COVERED.get(inv.id, 'not covered yet')}"
        rows.append(f"| `{inv.id}` | {inv.tier} | {inv.area} | {note} |")
    return "\n".join(rows)


# -- API surface ------------------------------------------------------------------------------

DEFAULT_API_RECORD = Path("reports") / "out" / "api-coverage.json"


def _names(items) -> str:
    return ", ".join(f"`{i}`" for i in items)


def api_markdown(record: dict | None, entries=None) -> str:
    """The API coverage page: ``record`` is an ``api-coverage.json`` document (None: no run)."""
    from conformance import api, api_scope

    entries = api.inventory() if entries is None else entries
    measured = api.measure(entries, record["calls"] if record else [])
    totals = api.totals(measured)
    import torch

    lines = [f"# API coverage (torch {torch.__version__})", ""]
    if record is None:
        lines += ["No run record: every in-scope entry shows as missing. Run the suite with the recorder, "
                  "`python -m pytest conformance -p conformance.apicalls --report-dir DIR`, then "
                  "`python -m conformance.coverage --api DIR/api-coverage.json`.", ""]
    else:
        lines += [f"Run record: torch {record.get('torch')}, backend {record.get('backend')}, profile "
                  f"{record.get('profile')}; {record['tests']} conformance tests, {record['steps']} steps "
                  f"({record['distinct_steps']} distinct texts), {record['processes']} process(es) reporting"
                  + (f"; {record['analysis_errors']} steps not analysed (last: {record['last_error']})"
                     if record.get("analysis_errors") else "") + ".", ""]
        if record.get("torch") and record["torch"] != torch.__version__:
            lines += [f"**Warning**: the run used torch {record['torch']}, the inventory is torch "
                      f"{torch.__version__}'s.", ""]
    lines += ["| | covered | out of scope | missing | total |", "|---|---|---|---|---|"]
    for what, t in totals.items():
        lines.append(f"| {what} | {t['covered']} | {t['out_of_scope']} | {t['missing']} | {t['total']} |")
    stale = sorted(set(api_scope.OUT_OF_SCOPE) - {e.key for e in entries})
    if stale:
        lines += ["", f"Out-of-scope lines naming no inventory entry (stale): {_names(stale)}"]
    owners: dict[str, list] = defaultdict(list)
    for m in measured:
        owners[m.entry.owner].append(m)
    for owner, ms in owners.items():
        lines += ["", f"## {owner}", "",
                  "| entry | status | calls | parameters never exercised | overloads never exercised |",
                  "|---|---|---|---|---|"]
        for m in ms:
            status = f"out of scope: {m.reason}" if m.status == "out_of_scope" else m.status
            params = overloads = ""
            if m.status != "out_of_scope":
                params, overloads = _names(m.missing_params), _names(m.missing_overloads)
            doc_only = [p.name for p in m.entry.params if not p.accepted]
            if doc_only:
                params += f"{'; ' if params else ''}documented, not in the signature: {_names(doc_only)}"
            if m.unattributed:
                params += f"{'; ' if params else ''}({m.unattributed} calls unpack arguments)"
            lines.append(f"| `{m.entry.key}` | {status} | {m.calls} | {params} | {overloads} |")
    return "\n".join(lines)


def api_gaps(record: dict, entries=None) -> list[str]:
    """In-scope entries, parameters and overloads a run never exercised, one line each."""
    from conformance import api

    return api.gaps(api.measure(api.inventory() if entries is None else entries, record["calls"]))


def _read_json(path: str, what: str) -> dict:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{what} {path}: cannot read it: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m conformance.coverage",
                                     description="invariant coverage; --api: API surface coverage")
    parser.add_argument("--api", nargs="?", const=str(DEFAULT_API_RECORD), metavar="RECORD",
                        help=f"API coverage from a run's api-coverage.json (default {DEFAULT_API_RECORD})")
    parser.add_argument("--gaps", action="store_true", help="with --api: only the never-exercised lines")
    parser.add_argument("--check", nargs="?", const=True, metavar="RECORD",
                        help="with --api (RECORD here or there): exit 1 listing the in-scope entries, parameters and overloads "
                             "never exercised, 0 when none, 2 when the record cannot be read")
    parser.add_argument("--api-diff", nargs=2, metavar=("OLD", "NEW"),
                        help="what appeared or vanished between two `python -m conformance.api --json` dumps")
    args = parser.parse_args(argv)
    if args.api_diff:
        from conformance import api

        try:
            old, new = (api.load(_read_json(p, "--api-diff")) for p in args.api_diff)
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"--api-diff: {exc}") from None
        lines = api.diff(old, new)
        print("\n".join(lines) if lines else "no API changes")
        return 0
    if args.check:
        if isinstance(args.check, str):  # --api --check RECORD
            args.api = args.check
        if args.api is None:
            parser.error("--check needs --api RECORD")
        try:
            record = json.loads(Path(args.api).read_text())
            if not isinstance(record, dict) or record.get("schema") != "nnconform.api-coverage":
                raise ValueError(f"not an api-coverage.json (schema {record.get('schema') if isinstance(record, dict) else None!r})")
            gaps = api_gaps(record)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"--api {args.api}: cannot check it: {exc}", file=sys.stderr)
            return 2
        if gaps:
            print(f"{len(gaps)} in-scope API gap(s) never exercised by the run ({args.api}):")
            print("\n".join(f"  {g}" for g in gaps))
            return 1
        print(f"no in-scope API gaps ({args.api})")
        return 0
    if args.api is not None:
        record = None
        if Path(args.api).is_file() or args.api != str(DEFAULT_API_RECORD):
            record = _read_json(args.api, "--api")
            if record.get("schema") != "nnconform.api-coverage":
                raise SystemExit(f"--api {args.api}: not an api-coverage.json (schema {record.get('schema')!r})")
        if args.gaps:
            if record is None:
                raise SystemExit(f"--gaps needs a run record; {args.api} does not exist")
            print("\n".join(api_gaps(record)))
        else:
            print(api_markdown(record))
        return 0
    print(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
