"""Reference model for device moves: where each tensor of a blueprint must be, and with what.

Pure functions of the blueprint (no torch). A *location* is how a test reads a tensor back from the
live graph: ``(node, attribute name, what)``, ``what`` being ``'param'``, ``'buffer'``, ``'grad'``
(the ``.grad`` of the parameter under that name) or ``'plain'`` (an unregistered attribute).

The rules (``conformance/catalog/devices.py``): a move sends parameters, buffers and gradients to
the target and leaves plain attributes where they are; it keeps dtypes and ``requires_grad``;
``to(device, dtype)`` casts only floating-point parameters, buffers and gradients; a move keeps
every value; a state dict carries values of persistent entries only; construction under
``torch.device(X)`` creates every tensor on X.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from conformance.model import state_dict_entries
from strategies.blueprint import FLOAT_DTYPES, Blueprint

MOVED = ("param", "buffer", "grad")


@dataclass(frozen=True)
class Location:
    node: int
    name: str
    what: str  # 'param', 'buffer', 'grad', 'plain'
    tensor: int  # index into bp.tensors

    @property
    def label(self) -> str:
        return f"getattr(n{self.node}, {self.name!r})" + (".grad" if self.what == "grad" else "")


def locations(bp: Blueprint) -> list[Location]:
    """Every tensor reachable from the root, by the path a test reads it back with."""
    out = []
    for i in bp.reachable():
        for s in bp.nodes[i].slots:
            if s.ref is None or s.kind == "child":
                continue
            out.append(Location(i, s.name, s.kind, s.ref))
            if s.kind == "param" and bp.tensors[s.ref].grad:
                out.append(Location(i, s.name, "grad", s.ref))
    return out


def device_after_move(loc: Location, src: str, dst: str) -> str:
    return dst if loc.what in MOVED else src


def dtype_after_to(bp: Blueprint, loc: Location, dtype: str | None) -> str:
    """``to(device, dtype)``: floating members and their grads take ``dtype``; the rest keep theirs."""
    own = bp.tensors[loc.tensor].dtype
    return dtype if dtype and loc.what in MOVED and own in FLOAT_DTYPES else own


def requires_grad(bp: Blueprint, loc: Location) -> bool:
    return False if loc.what == "grad" else bp.tensors[loc.tensor].requires_grad


def value_seed(bp: Blueprint, loc: Location) -> int:
    """Values are ``_t(shape, dtype, seed)``; a grad uses ``seed + 1`` (see conformance/build.py)."""
    return bp.tensors[loc.tensor].seed + (1 if loc.what == "grad" else 0)


def reseeded(bp: Blueprint, offset: int = 100) -> Blueprint:
    """The same graph with other values in every tensor."""
    return replace(bp, tensors=tuple(replace(t, seed=t.seed + offset) for t in bp.tensors))


def loaded_tensors(bp: Blueprint) -> set[int]:
    """Tensors a ``load_state_dict(state_dict())`` writes: those under a key of the state dict."""
    return {held for _, (kind, held) in state_dict_entries(bp) if kind == "tensor"}


def tie_groups(bp: Blueprint, what: str) -> list[list[Location]]:
    """Locations of one kind naming the same tensor object, for each object named more than once."""
    groups: dict[int, list[Location]] = {}
    for loc in locations(bp):
        if loc.what == what:
            groups.setdefault(loc.tensor, []).append(loc)
    return [g for g in groups.values() if len({(l.node, l.name) for l in g}) > 1]
