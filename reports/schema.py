"""The report's JSON schema (documented in ``reports/schema.md``): names, version, validation.

Validation is hand-written and small on purpose: the comparison command reads files that may
come from anywhere, so it checks shape and types before touching a field, and it only ever
parses JSON (nothing is evaluated).
"""
from __future__ import annotations

import json

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
# Fields a reader may do without (older writers) but that must have their type when present.
_RUN_OPTIONAL = {"hypothesis": (dict, type(None)), "devices": list, "exit_status": (int, type(None)),
                 "python": _OPTIONAL_STR, "packages": dict, "options": dict}
_TORCH_OPTIONAL = {"version": _OPTIONAL_STR, "git": _OPTIONAL_STR, "cuda": _OPTIONAL_STR, "rocm": _OPTIONAL_STR,
                   "accelerators": list}
_HYPOTHESIS_OPTIONAL = {"profile": _OPTIONAL_STR, "max_examples": (int, type(None))}
_OPTIONS_OPTIONAL = {"device": _OPTIONAL_STR, "deviations": _OPTIONAL_STR, "deviations_mode": _OPTIONAL_STR}
_DRIFT_OPTIONAL = {"error": str, "drift": list, "fingerprints": dict, "checked": int, "unchecked": int}
_DRIFT_ENTRY = {"invariant": str}
_DRIFT_ENTRY_OPTIONAL = {"ref": _OPTIONAL_STR, "status": _OPTIONAL_STR, "quote": _OPTIONAL_STR, "detail": _OPTIONAL_STR}
_INVARIANT_OPTIONAL = {"tier": _OPTIONAL_STR, "area": _OPTIONAL_STR, "doc": _OPTIONAL_STR, "ref": _OPTIONAL_STR,
                       "url": _OPTIONAL_STR}
_ROW_OPTIONAL = {"skip_reason": _OPTIONAL_STR}
_DEVIATION_OPTIONAL = {"where": _OPTIONAL_STR, "design": bool}
_FAILURE_OPTIONAL = {"phase": _OPTIONAL_STR, "example": _OPTIONAL_STR}

MAX_BYTES = 512 * 2**20  # a larger file is not a report this tool reads (and /dev/zero never ends)
_CHUNK = 2**20
_JSON_STARTS = b'{["-0123456789tfn'


class SchemaError(ValueError):
    """The document is not an nnconform report of this schema version."""


class ReadError(ValueError):
    """A report file cannot be read, is not JSON, or is not a report (the message says which)."""


def _check_fields(obj, fields: dict, where: str) -> None:
    if not isinstance(obj, dict):
        raise SchemaError(f"{where} must be an object, got {type(obj).__name__}")
    for name, kind in fields.items():
        if name not in obj:
            raise SchemaError(f"{where} lacks the field {name!r}")
        if not isinstance(obj[name], kind) or (kind is not bool and isinstance(obj[name], bool)):
            raise SchemaError(f"{where}.{name} has the wrong type ({type(obj[name]).__name__})")


def _check_optional(obj: dict, fields: dict, where: str) -> None:
    for name, kind in fields.items():
        if name in obj and (not isinstance(obj[name], kind) or (kind is not bool and isinstance(obj[name], bool))):
            raise SchemaError(f"{where}.{name} has the wrong type ({type(obj[name]).__name__})")


def validate(doc) -> dict:
    """Return ``doc`` if it is a report of this schema version, else raise ``SchemaError``."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SchemaError(f"not an nnconform report (expected \"schema\": \"{SCHEMA}\" at the top level)")
    if doc.get("schema_version") != VERSION:
        raise SchemaError(f"schema_version is {doc.get('schema_version')!r}; this tool reads version {VERSION}")
    _check_fields(doc.get("run"), _RUN_FIELDS, "run")
    run = doc["run"]
    _check_optional(run, _RUN_OPTIONAL, "run")
    _check_optional(run["torch"], _TORCH_OPTIONAL, "run.torch")
    if isinstance(run.get("hypothesis"), dict):
        _check_optional(run["hypothesis"], _HYPOTHESIS_OPTIONAL, "run.hypothesis")
    if "options" in run:
        _check_optional(run["options"], _OPTIONS_OPTIONAL, "run.options")
    if "packages" in run and not all(isinstance(v, (str, type(None))) for v in run["packages"].values()):
        raise SchemaError("run.packages must map names to version strings or null")
    _check_documentation(doc)
    if not isinstance(doc.get("invariants"), dict):
        raise SchemaError("invariants must be an object keyed by invariant id")
    for ident, meta in doc["invariants"].items():
        if not isinstance(meta, dict):
            raise SchemaError(f"invariants[{ident!r}] must be an object, got {type(meta).__name__}")
        _check_optional(meta, _INVARIANT_OPTIONAL, f"invariants[{ident!r}]")
    rows = doc.get("rows")
    if not isinstance(rows, list):
        raise SchemaError("rows must be a list")
    seen = set()
    for i, row in enumerate(rows):
        _check_fields(row, _ROW_FIELDS, f"rows[{i}]")
        _check_optional(row, _ROW_OPTIONAL, f"rows[{i}]")
        if row["failure"] is not None:
            _check_fields(row["failure"], _FAILURE_FIELDS, f"rows[{i}].failure")
            _check_optional(row["failure"], _FAILURE_OPTIONAL, f"rows[{i}].failure")
        if row["deviation"] is not None:
            _check_fields(row["deviation"], _DEVIATION_FIELDS, f"rows[{i}].deviation")
            _check_optional(row["deviation"], _DEVIATION_OPTIONAL, f"rows[{i}].deviation")
        if not all(isinstance(d, str) for d in row["devices"]):
            raise SchemaError(f"rows[{i}].devices must be a list of strings")
        if row["outcome"] not in OUTCOMES:
            raise SchemaError(f"rows[{i}].outcome is {row['outcome']!r}; expected one of {', '.join(OUTCOMES)}")
        if row["test"] in seen:
            raise SchemaError(f"rows[{i}].test {row['test']!r} appears twice")
        seen.add(row["test"])
    return doc


def _check_fingerprints(value, where: str) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SchemaError(f"{where} must map invariant ids to strings")


def _check_documentation(doc: dict) -> None:
    """``doc_drift`` (null, or the check's result, or ``{"error": ...}``) and ``fingerprints``."""
    drift = doc.get("doc_drift")
    if drift is not None:
        if not isinstance(drift, dict):
            raise SchemaError(f"doc_drift must be an object or null, got {type(drift).__name__}")
        _check_optional(drift, _DRIFT_OPTIONAL, "doc_drift")
        for i, entry in enumerate(drift.get("drift", [])):
            _check_fields(entry, _DRIFT_ENTRY, f"doc_drift.drift[{i}]")
            _check_optional(entry, _DRIFT_ENTRY_OPTIONAL, f"doc_drift.drift[{i}]")
        if "fingerprints" in drift:
            _check_fingerprints(drift["fingerprints"], "doc_drift.fingerprints")
    if "fingerprints" in doc:
        _check_fingerprints(doc["fingerprints"], "fingerprints")
    _check_api_coverage(doc.get("api_coverage"))


def _check_api_coverage(cov) -> None:
    """``api_coverage``: null, ``{"error": str}``, or totals (methods/overloads/parameters, each
    counts by status) and gaps (strings)."""
    if cov is None:
        return
    if not isinstance(cov, dict):
        raise SchemaError(f"api_coverage must be an object or null, got {type(cov).__name__}")
    if "error" in cov:
        if not isinstance(cov["error"], str):
            raise SchemaError("api_coverage.error must be a string")
        return
    totals, gaps = cov.get("totals"), cov.get("gaps")
    keys = ("covered", "out_of_scope", "missing", "total")
    if not isinstance(totals, dict) or not all(
            isinstance(totals.get(k), dict) and all(type(totals[k].get(n)) is int for n in keys)
            for k in ("methods", "overloads", "parameters")):
        raise SchemaError("api_coverage.totals must give methods, overloads and parameters, each with integer "
                          "covered, out_of_scope, missing and total")
    if not isinstance(gaps, list) or not all(isinstance(g, str) for g in gaps):
        raise SchemaError("api_coverage.gaps must be a list of strings")


def without_timings(doc: dict) -> dict:
    """A copy of ``doc`` with the timing fields removed: what two identical runs share."""
    run = {k: v for k, v in doc["run"].items() if k not in TIMING_FIELDS["run"]}
    rows = [{k: v for k, v in row.items() if k not in TIMING_FIELDS["row"]} for row in doc["rows"]]
    return {**doc, "run": run, "rows": rows}


def read(path) -> dict:
    """Read, parse and validate a report file; ``ReadError`` says what is wrong with it.

    Reads in chunks and refuses early what cannot be JSON (a first byte no JSON value starts with,
    as from ``/dev/zero``) or is larger than ``MAX_BYTES``, so an endless or huge input is an error
    message, not a ``MemoryError``. A pipe (``<(...)``) reads like a file.
    """
    data, started = bytearray(), False
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                data += chunk
                if not started and data.strip():
                    first = data.lstrip()[:1]
                    if first not in (b"\xef",) and first[0] not in _JSON_STARTS:  # \xef: a UTF-8 byte order mark
                        raise ReadError(f"not valid JSON (it starts with the byte 0x{first[0]:02x})")
                    started = True
                if len(data) > MAX_BYTES:
                    raise ReadError(f"larger than {MAX_BYTES:,} bytes: not a report this tool reads")
    except OSError as exc:
        raise ReadError(f"cannot read the file ({exc.strerror or exc})") from None
    except MemoryError:
        raise ReadError("cannot read the file (out of memory)") from None
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"cannot read the file (not UTF-8: {exc})") from None
    try:
        return validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ReadError(f"not valid JSON ({exc})") from None
    except (RecursionError, MemoryError):
        raise ReadError("not valid JSON (nested too deeply or too large)") from None
    except SchemaError as exc:
        raise ReadError(f"wrong schema: {exc}") from None
