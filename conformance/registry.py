"""The invariant registry: every conformance test names the invariant it checks.

An invariant has a stable id, a tier (``documented``: the docs state it; ``reference``:
long-standing behaviour or a structural law the docs leave implicit), an area, the
documentation sentence it rests on and the documented object it is about. Entries live in
``conformance/catalog/``: ``spec.py`` (generated from the spec) and the suite's own additions.
A test without a registered invariant fails collection (see ``conformance.plugin``).
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

import pytest

TIERS = ("documented", "reference")


@dataclass(frozen=True)
class Invariant:
    id: str
    tier: str
    area: str
    doc: str  # the documentation sentence, quoted, or the law it follows from
    ref: str  # the documented object, e.g. ``torch.nn.Module.state_dict``

    def url(self, torch_version: str) -> str:
        """Documentation link for the torch version under test (``2.13.0+cpu`` -> ``2.13``)."""
        release = ".".join(re.findall(r"\d+", torch_version)[:2]) or "stable"
        page = self.ref
        parts = self.ref.split(".")
        if parts[-1][:1].islower() and len(parts) > 2 and parts[-2][:1].isupper():
            page = ".".join(parts[:-1])  # a method: its class page, anchored
        return f"https://docs.pytorch.org/docs/{release}/generated/{page}.html#{self.ref}"


def _load() -> dict[str, Invariant]:
    from conformance import catalog

    found: dict[str, Invariant] = {}
    for info in pkgutil.iter_modules(catalog.__path__):
        for inv in importlib.import_module(f"conformance.catalog.{info.name}").INVARIANTS:
            if inv.id in found:
                raise ValueError(f"invariant {inv.id!r} is registered twice (conformance/catalog/{info.name}.py)")
            if inv.tier not in TIERS:
                raise ValueError(f"invariant {inv.id!r} has tier {inv.tier!r}; use one of {TIERS}")
            found[inv.id] = inv
    return found


REGISTRY: dict[str, Invariant] = _load()


def invariant(ident: str):
    """Mark a test as checking ``ident``; collection fails if the id is not registered."""
    return pytest.mark.invariant(ident)


def lookup(ident: str) -> Invariant | None:
    return REGISTRY.get(ident)
