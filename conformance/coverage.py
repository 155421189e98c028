"""Which registered invariants have conformance tests: ``python -m conformance.coverage``.

Prints a Markdown table per area. ``NOT_COVERED`` names the documented invariants that have no
test yet, with the reason; the README repeats them, and a project test keeps both honest.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

import conformance
from conformance.registry import REGISTRY

# Areas the core suite promises to cover (issue 2); hooks are outside that promise for now.
COVERED_AREAS = ("traversal", "state_dict", "load_state_dict", "apply", "train_eval", "conversion",
                 "registration", "grad_and_copy", "containers")

NOT_COVERED: dict[str, str] = {}


def tests_by_invariant() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for info in pkgutil.iter_modules(conformance.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"conformance.{info.name}")
        for name, obj in vars(module).items():
            if not name.startswith(("test_", "Test")):
                continue
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "invariant":
                    found[mark.args[0]].append(f"{info.name}.py::{name}")
    return found


def uncovered_documented() -> list[str]:
    tested = tests_by_invariant()
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
