"""Doc drift: do the registry's quoted documentation sentences still appear in the installed torch?

``check(registry=None) -> dict`` returns::

    {"checked": int,            # invariants with at least one quoted fragment that was compared
     "unchecked": int,          # invariants with no quote to compare (laws, "Not documented.")
     "drift": [                 # one entry per invariant whose quote no longer matches, sorted by id
        {"invariant": str, "ref": str,         # the id and the documented object
         "status": "changed" | "vanished" | "unresolvable",
         #   changed: the object's docstring exists but a quoted fragment is not in it
         #   vanished: the object has no docstring any more
         #   unresolvable: the documented object cannot be imported from the installed torch
         "quote": str,                          # the first fragment not found
         "detail": str},                        # one line for people: what was looked for, where
     ],
     "fingerprints": {str: str}}  # invariant id -> sha1 (12 hex) of the normalised docstrings it
                                  # quotes: compare two reports to see a docstring that changed
                                  # while every quote still matches (an added sentence)

How an invariant's ``doc`` is read (the forms the catalog uses):

* Quoted fragments are the text between double quotes; everything outside them (laws,
  parenthesised remarks, "(`float`, `half` ... use the same wording)") is never compared.
  A quote that itself contains a quoted word (``It then "chains" outputs``) is recognised by
  its apparent end falling on a space, and read as one fragment.
* ``NAME: "..."`` attributes the following fragments to NAME (``modules()``,
  ``load_state_dict, Returns``, ``Sequential.extend example``, ``Class doc``, ``Tensor.to``);
  a fragment with no ``NAME:`` right before it keeps the previous attribution, the first one
  defaults to ``ref``. NAME is looked up as: ``ref`` itself (NAME is its tail), an attribute of
  ``ref`` or of its enclosing class/modules (``cpu`` next to ``torch.nn.Module.cuda``), then
  ``torch.nn.NAME``, ``torch.NAME`` and NAME as a full path. ``Class doc`` is ``ref``'s class.
* Attributions to the project's own texts (``design.md ...:``, ``spec ...:``) are not torch
  documentation: those fragments are skipped.
* An ellipsis (``…``) splits a fragment into parts that must each appear.
* Docstrings are read from ``__doc__`` (not inherited), indentation stripped
  (``inspect.cleandoc``); both sides have whitespace runs collapsed to one space.

An invariant is *checked* when its ``doc`` has at least one fragment attributed to torch
documentation (whether or not it still matches), else *unchecked*; ``checked + unchecked`` is
the registry's size. An unchecked invariant's ``ref`` is still resolved, and reported as
``unresolvable`` (with an empty quote) when it is gone.

Command line: ``python -m conformance.docdrift [--json] [--baseline OLD.json]``; exit 0 when
there is no drift, 1 when there is, 2 on a usage error. ``--baseline`` (a previous ``--json``
output) also lists the invariants whose quoted docstrings changed although the quotes match
(informational: it does not change the exit status).

Pure and fast: torch is imported lazily, nothing is executed but imports and attribute reads,
and CUDA is never initialised.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import importlib
import inspect
import json
import re
import sys

ELLIPSIS = "\u2026"
_NON_TORCH = re.compile(r"design\.md|^spec\b")
_ATTRIBUTION = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:\(\))?(?:,?\s+(?P<suffix>Returns|example|doc))?$")
_BOUNDARY = re.compile(r"\((?!\))|(?<!\()\)|;|\.\s")  # ( ) ; ". " but not the () of ``modules():``
_ROLE = re.compile(r":[\w.:-]+:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")  # :class:`~a.B`, :meth:`text <target>`
_LITERAL = re.compile(r"``(.+?)``")

# Documented objects whose documentation is not a docstring of the object in torch, so the
# installed torch cannot confirm the quote: their fragments are not compared.
OFF_DOCSTRING = {
    "torch.device": "documented on the tensor_attributes page (docs/source/tensor_attributes.rst), "
                    "torch.device has no docstring",
}


def normalise(text: str) -> str:
    """Render inline RST markup as Sphinx prints it (``:class:`~a.B``` -> ``B``, ````x```` -> ``x``,
    an escaped space ``\\ `` -> nothing), collapse whitespace runs to one space, strip the ends.
    Applied to both sides, so a quote transcribed with or without the markup matches."""
    text = " ".join(text.split())
    text = _ROLE.sub(lambda m: m[2].strip().rsplit(".", 1)[-1] if m[1] else m[2].strip(), text)
    text = _LITERAL.sub(r"\1", text).replace("\\ ", "")
    return " ".join(text.split())


def docstring(obj) -> str | None:
    """The object's own docstring, indentation stripped and whitespace collapsed; None if it has none."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return None
    return normalise(inspect.cleandoc(doc))


# --- reading the catalog's doc strings -------------------------------------------------------

def fragments(doc: str) -> list[tuple[str | None, str]]:
    """``[(attribution, fragment), ...]`` in order; attribution None means "the previous one"
    (or ``ref`` for the first); an attribution to a project text is returned as it is written
    and recognised by :func:`is_project_text`."""
    pieces = doc.split('"')
    if len(pieces) % 2 == 0:  # an unmatched quote: read up to the last pair
        pieces = pieces[:-1]
    outside, inside = pieces[0::2], pieces[1::2]
    found: list[tuple[str | None, str]] = []
    i = 0
    while i < len(inside):
        attribution = _attribution(outside[i])
        text = inside[i]
        # An apparent end on a space is the opening quote of a quoted word inside the fragment.
        while text[-1:].isspace() and i + 1 < len(inside):
            text = f'{text}"{outside[i + 1]}"{inside[i + 1]}'
            i += 1
        found.append((attribution, text))
        i += 1
    return found


def _attribution(before: str) -> str | None:
    """``NAME`` when the text before a quote ends in ``NAME:``, else None."""
    before = before.rstrip()
    if not before.endswith(":"):
        return None
    return _BOUNDARY.split(before[:-1])[-1].strip()


def is_project_text(attribution: str) -> bool:
    return bool(_NON_TORCH.search(attribution))


# --- resolving documented objects ------------------------------------------------------------

class Unresolvable(LookupError):
    pass


def resolve(path: str):
    """Import ``a.b.C.meth``: the longest importable module prefix, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # any failure to import: try a shorter prefix
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError as exc:
            raise Unresolvable(f"{path}: {exc}") from None
        return obj
    raise Unresolvable(f"{path}: no importable module")


def _attr_path(obj, dotted: str):
    for attr in dotted.split("."):
        obj = getattr(obj, attr)
    return obj


def locate(name: str, ref: str, ref_obj) -> tuple[str, object]:
    """Find the object a ``NAME:`` attribution denotes, next to ``ref``; ``(path, obj)``."""
    match = _ATTRIBUTION.match(name)
    if match is None:
        raise Unresolvable(f"attribution {name!r} is not a name")
    name, suffix = match["name"], match["suffix"]
    if name == "Class" and suffix == "doc":
        if inspect.isclass(ref_obj):
            return ref, ref_obj
        owner = ref.rsplit(".", 1)[0]
        return owner, resolve(owner)
    if ref == name or ref.endswith("." + name):
        return ref, ref_obj
    parts = ref.split(".")
    scopes = [".".join(parts[:cut]) for cut in range(len(parts), 0, -1)] + ["torch.nn", "torch"]
    for scope in dict.fromkeys(scopes):
        try:
            holder = ref_obj if scope == ref else resolve(scope)
            return f"{scope}.{name}", _attr_path(holder, name)
        except (AttributeError, Unresolvable):
            continue
    try:
        return name, resolve(name)
    except Unresolvable:
        raise Unresolvable(f"{name!r} is not an attribute of {ref} or of any scope around it") from None


# --- the check --------------------------------------------------------------------------------

def _entry(inv, status: str, quote: str, detail: str) -> dict:
    return {"invariant": inv.id, "ref": inv.ref, "status": status, "quote": quote, "detail": detail}


def _closest(part: str, doc: str) -> str:
    match = difflib.SequenceMatcher(None, part, doc, autojunk=False).find_longest_match(0, len(part), 0, len(doc))
    return f"longest run found: {match.size}/{len(part)} chars, up to {part[match.a + match.size:][:40]!r}"


def check_invariant(inv) -> tuple[bool, dict | None, str | None]:
    """``(checked, drift entry or None, fingerprint or None)`` for one invariant."""
    quoted = [q for q in _attributed(fragments(inv.doc), inv.ref) if q[0] is not None]
    try:
        ref_obj = resolve(inv.ref)
    except Unresolvable as exc:
        first = quoted[0][1] if quoted else ""
        return bool(quoted), _entry(inv, "unresolvable", first, f"cannot import {exc}"), None
    docs: dict[str, str] = {}
    compared = False
    for who, text, continued in quoted:
        try:
            path, obj = locate(who, inv.ref, ref_obj)
        except Unresolvable as exc:
            return True, _entry(inv, "unresolvable", text, f"{who}: {exc}"), None
        if path in OFF_DOCSTRING:
            continue
        compared = True
        doc = docstring(obj)
        if doc is None:
            return True, _entry(inv, "vanished", text, f"{path} has no docstring"), None
        docs.setdefault(path, doc)
        missing = _missing(text, doc)
        if missing is not None and continued and path != inv.ref:
            # A fragment with no ``NAME:`` of its own may also be the documented object's words
            # (``to: "..." Parameter: "..." "Returns: Module: self"``).
            ref_doc = docstring(ref_obj)
            if ref_doc is not None and _missing(text, ref_doc) is None:
                docs.setdefault(inv.ref, ref_doc)
                missing = None
        if missing is not None:
            return True, _entry(inv, "changed", text,
                                f"{missing!r} is not in the docstring of {path} ({_closest(missing, doc)})"), None
    fingerprint = None
    if docs:
        fingerprint = hashlib.sha1("\n".join(docs.values()).encode()).hexdigest()[:12]
    return compared, None, fingerprint


def _missing(text: str, doc: str) -> str | None:
    """The first ellipsis-separated part of a fragment that is not in ``doc`` (normalised), or None."""
    for part in (normalise(p) for p in text.split(ELLIPSIS)):
        if part and part not in doc:
            return part
    return None


def _attributed(found, ref: str):
    """``(attribution, fragment, continued)``: attribution None for a project text (not compared),
    continued when the fragment has no ``NAME:`` of its own."""
    current: str | None = ref.rsplit(".", 1)[-1]
    for attribution, text in found:
        if attribution is not None:
            current = None if is_project_text(attribution) else attribution
        yield current, text, attribution is None


def check(registry=None) -> dict:
    """Compare every invariant's quoted fragments with the installed torch's docstrings."""
    if registry is None:
        from conformance.registry import REGISTRY as registry
    result = {"checked": 0, "unchecked": 0, "drift": [], "fingerprints": {}}
    for ident in sorted(registry):
        checked, entry, fingerprint = check_invariant(registry[ident])
        result["checked" if checked else "unchecked"] += 1
        if entry is not None:
            result["drift"].append(entry)
        if fingerprint is not None:
            result["fingerprints"][ident] = fingerprint
    return result


def docstring_changes(old: dict, new: dict) -> list[str]:
    """Invariants checked in both reports whose quoted docstrings differ (quotes may still match)."""
    before, after = old.get("fingerprints", {}), new.get("fingerprints", {})
    return sorted(ident for ident in before.keys() & after.keys() if before[ident] != after[ident])


# --- command line -----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block: a usage error
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv=None) -> int:
    parser = _Parser(prog="python -m conformance.docdrift",
                     description="Check that the registry's quoted documentation still appears in torch.")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--baseline", metavar="FILE",
                        help="a previous --json output: also list docstrings that changed while quotes match")
    args = parser.parse_args(argv)
    baseline = None
    if args.baseline is not None:
        try:
            with open(args.baseline, encoding="utf-8") as fh:
                baseline = json.load(fh)
            if not isinstance(baseline, dict) or not isinstance(baseline.get("fingerprints", {}), dict):
                raise ValueError("not a docdrift --json report")
        except (OSError, ValueError) as exc:
            parser.error(f"--baseline {args.baseline}: {exc}")
    result = check()
    changed = docstring_changes(baseline, result) if baseline is not None else None
    if args.json:
        out = dict(result)
        if changed is not None:
            out["docstring_changed"] = changed
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(_render(result, changed))
    return 1 if result["drift"] else 0


def _render(result: dict, changed: list[str] | None) -> str:
    import torch

    drift = result["drift"]
    lines = [f"doc drift, torch {torch.__version__}: {result['checked']} invariants checked, "
             f"{result['unchecked']} without a quote, {len(drift)} drifted"]
    for entry in drift:
        lines.append(f"  {entry['status']:<12} {entry['invariant']}  ({entry['ref']})")
        if entry["quote"]:
            lines.append(f"      quote:  \"{entry['quote']}\"")
        lines.append(f"      detail: {entry['detail']}")
    if changed is not None:
        lines.append(f"docstrings changed since the baseline, quotes still matching: {len(changed)}")
        lines.extend(f"  {ident}" for ident in changed)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
