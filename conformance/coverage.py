"""Which registered invariants have conformance tests: ``python -m conformance.coverage``.

Prints a Markdown table per area. ``NOT_COVERED`` names the documented invariants that have no
test yet, with the reason; the README repeats them, and a project test keeps both honest.
"""
from __future__ import annotations

import contextlib
import io
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


if __name__ == "__main__":
    print(markdown())
