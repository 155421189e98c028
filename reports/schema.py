"""The report's JSON schema (documented in ``reports/schema.md``): names, version, validation.

Validation is hand-written and small on purpose: the comparison command reads files that may
come from anywhere, so it checks shape and types before touching a field, and it only ever
parses JSON (nothing is evaluated).
"""
from __future__ import annotations

SCHEMA = "nnconform-report"
VERSION = 1

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
# Worst first: a matrix cell shows the worst outcome among its tests.
SEVERITY = ("error", "failed", "xpassed", "xfailed", "passed", "skipped")
PASSING = ("passed", "xpassed")
FAILING = ("failed", "error")

# Fields whose values change from run to run even when nothing else does.
TIMING_FIELDS = {"run": ("start", "end", "duration"), "row": ("duration",)}

_RUN_FIELDS = {"complete": bool, "incomplete_reason": (str, type(None)), "backend": str, "torch": dict,
               "start": str}
_ROW_FIELDS = {
    "test": str, "invariant": (str, type(None)), "tier": (str, type(None)), "area": (str, type(None)),
    "backend": str, "devices": list, "outcome": str, "examples": (int, type(None)),
    "duration": (int, float), "failure": (dict, type(None)), "deviation": (dict, type(None)),
}
_OPTIONAL_STR = (str, type(None))
_FAILURE_FIELDS = {"message": _OPTIONAL_STR, "reproducer": _OPTIONAL_STR, "doc": _OPTIONAL_STR}
_DEVIATION_FIELDS = {"reason": str, "pattern": _OPTIONAL_STR, "evidence": _OPTIONAL_STR}


class SchemaError(ValueError):
    """The document is not an nnconform report of this schema version."""


def _check_fields(obj, fields: dict, where: str) -> None:
    if not isinstance(obj, dict):
        raise SchemaError(f"{where} must be an object, got {type(obj).__name__}")
    for name, kind in fields.items():
        if name not in obj:
            raise SchemaError(f"{where} lacks the field {name!r}")
        if not isinstance(obj[name], kind) or (kind is not bool and isinstance(obj[name], bool)):
            raise SchemaError(f"{where}.{name} has the wrong type ({type(obj[name]).__name__})")


def validate(doc) -> dict:
    """Return ``doc`` if it is a report of this schema version, else raise ``SchemaError``."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SchemaError(f"not an nnconform report (expected \"schema\": \"{SCHEMA}\" at the top level)")
    if doc.get("schema_version") != VERSION:
        raise SchemaError(f"schema_version is {doc.get('schema_version')!r}; this tool reads version {VERSION}")
    _check_fields(doc.get("run"), _RUN_FIELDS, "run")
    if not isinstance(doc.get("invariants"), dict):
        raise SchemaError("invariants must be an object keyed by invariant id")
    rows = doc.get("rows")
    if not isinstance(rows, list):
        raise SchemaError("rows must be a list")
    seen = set()
    for i, row in enumerate(rows):
        _check_fields(row, _ROW_FIELDS, f"rows[{i}]")
        if row["failure"] is not None:
            _check_fields(row["failure"], _FAILURE_FIELDS, f"rows[{i}].failure")
        if row["deviation"] is not None:
            _check_fields(row["deviation"], _DEVIATION_FIELDS, f"rows[{i}].deviation")
        if not all(isinstance(d, str) for d in row["devices"]):
            raise SchemaError(f"rows[{i}].devices must be a list of strings")
        if row["outcome"] not in OUTCOMES:
            raise SchemaError(f"rows[{i}].outcome is {row['outcome']!r}; expected one of {', '.join(OUTCOMES)}")
        if row["test"] in seen:
            raise SchemaError(f"rows[{i}].test {row['test']!r} appears twice")
        seen.add(row["test"])
    return doc


def without_timings(doc: dict) -> dict:
    """A copy of ``doc`` with the timing fields removed: what two identical runs share."""
    run = {k: v for k, v in doc["run"].items() if k not in TIMING_FIELDS["run"]}
    rows = [{k: v for k, v in row.items() if k not in TIMING_FIELDS["row"]} for row in doc["rows"]]
    return {**doc, "run": run, "rows": rows}
