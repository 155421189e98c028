"""Hypothesis strategies that draw blueprints whose built-in layers keep their own state.

Public API, in the style of ``hypothesis.extra``: keyword-only arguments, each taking a value or
a strategy for it, checked when the strategy is built (fixed values) or drawn (strategies).

Note [own-state blueprints]
~~~~~~~~~~~~~~~~~~~~~~~~~~~
``blueprints()`` draws layers whose members the builder replaces with the blueprint's tensors.
Here every layer is built by its plain constructor call and left as made. Its node's slots name
what the constructor registers (``strategies.layers.OWN_STATE_LAYERS``), all with
``via="own"``: a parameter or buffer slot's tensor spec describes the constructor's tensor
(shape, dtype: the default float32 or the int64 counter, requires_grad), whose values are the
constructor's; a slot whose ``ref`` is None is a member the constructor registers as None; a
child slot names a node the constructor makes (MultiheadAttention's ``out_proj``, a
TransformerEncoderLayer's sublayers), itself an own-state node with its own ``via="own"`` slots.
The generic reference model (``conformance.model``) reads these slots like any others, so names,
orders and sharing need nothing new; ``conformance.model_layers`` adds what the constructors and
their documentation say about values, dtypes and modes.

The layers hang under a small graph of holders: a plain ``Module`` root, optionally a
``ModuleList``/``ModuleDict``/``Module`` holding some of them, and optionally one layer under a
second name (sharing). Constructor-made children are never shared outside their layer.
"""
from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies.blueprint import Blueprint, Node, Slot, TensorSpec
from strategies.layers import OWN_STATE_LAYERS, own_members

OWN_STATE_KINDS = tuple(OWN_STATE_LAYERS)
HOLDER_KINDS = ("Module", "ModuleList", "ModuleDict")  # no Sequential: it would chain the layers' calls
OWN = "own"


def is_own(node: Node) -> bool:
    """Whether a node is an own-state layer that holds members (Note [own-state blueprints])."""
    return any(s.via == OWN for s in node.slots)


def inner_nodes(bp: Blueprint) -> dict[int, tuple[int, str]]:
    """{node made by its parent's constructor: (parent, name)}."""
    return {s.ref: (i, s.name) for i, n in enumerate(bp.nodes) for s in n.slots
            if s.kind == "child" and s.via == OWN and s.ref is not None}


def own_nodes(bp: Blueprint) -> list[int]:
    """Own-state layer nodes built by a constructor call of their own (not made by a parent layer)."""
    inner = inner_nodes(bp)
    return [i for i, n in enumerate(bp.nodes) if i not in inner and is_own(n)]


def own_tensors(bp: Blueprint) -> set[int]:
    """Tensors the constructors make (bound from the layer after it is built, never rendered)."""
    return {s.ref for n in bp.nodes for s in n.slots if s.via == OWN and s.kind != "child" and s.ref is not None}


# Argument checks and draws in the style of strategies.graphs (kept here: that module is free to change).
def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name}={value!r}: pass an int from {low} to {high}, or a strategy for one")
    return value


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r}: pass True or False, or a strategy for one")
    return value


def _resolve(draw, value, check):
    return check(draw(value) if isinstance(value, st.SearchStrategy) else value)


def _chance(draw, one_in: int) -> bool:
    """True about once in ``one_in`` draws; shrinks to False."""
    return draw(st.integers(0, one_in - 1)) == one_in - 1


def _check_kinds(value) -> tuple[str, ...]:
    kinds = tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else None
    if not kinds or any(k not in OWN_STATE_LAYERS for k in kinds):
        raise InvalidArgument(f"layers={value!r}: pass a non-empty collection of layer kinds from {OWN_STATE_KINDS}")
    return kinds


def own_state_blueprints(
    *, layers=OWN_STATE_KINDS, max_layers=2, holders=True, sharing=True
) -> st.SearchStrategy[Blueprint]:
    """Graphs of at most ``max_layers`` own-state layers of the kinds ``layers`` (see
    ``OWN_STATE_KINDS``) under a plain ``Module`` root. ``holders`` lets a container or plain
    module hold some of them; ``sharing`` lets one layer appear under a second name."""
    fixed = {
        "layers": _check_kinds,
        "max_layers": lambda v: _check_int("max_layers", v, 1, 6),
        "holders": lambda v: _check_bool("holders", v),
        "sharing": lambda v: _check_bool("sharing", v),
    }
    args = dict(layers=layers, max_layers=max_layers, holders=holders, sharing=sharing)
    for name, value in args.items():
        if not isinstance(value, st.SearchStrategy):
            fixed[name](value)
    return _own_state_blueprints(args, fixed)


@st.composite
def _own_state_blueprints(draw, args, checks):
    opts = {name: _resolve(draw, value, checks[name]) for name, value in args.items()}
    return _Drawer(draw).blueprint(**opts)


@st.composite
def _layer_kwargs(draw, kind: str) -> dict:
    spec = OWN_STATE_LAYERS[kind]
    drawn = {name: draw(st.sampled_from(values)) for name, values in spec.params}
    return spec.kwargs(drawn)


class _Drawer:
    def __init__(self, draw):
        self.draw = draw
        self.nodes: list[Node] = []
        self.tensors: list[TensorSpec] = []

    def blueprint(self, *, layers, max_layers, holders, sharing) -> Blueprint:
        count = self.draw(st.integers(1, max_layers))
        tops = [self.layer(kind, self.draw(_layer_kwargs(kind)))
                for kind in [self.draw(st.sampled_from(layers)) for _ in range(count)]]
        placed = list(tops)
        if holders and _chance(self.draw, 2):
            kind = self.draw(st.sampled_from(HOLDER_KINDS))
            held = self.draw(st.lists(st.sampled_from(tops), min_size=1, max_size=len(tops), unique=True))
            self.nodes.append(self.holder(kind, held))
            placed = [t for t in tops if t not in held] + [len(self.nodes) - 1]
        if sharing and _chance(self.draw, 3):
            placed.append(self.draw(st.sampled_from(tops)))
        self.nodes.append(self.holder("Module", placed))
        return Blueprint(tuple(self.nodes), tuple(self.tensors))

    def holder(self, kind: str, refs: list[int]) -> Node:
        if kind == "ModuleList":
            return Node(kind, tuple(Slot("child", str(j), r) for j, r in enumerate(refs)))
        if kind == "ModuleDict":
            return Node(kind, tuple(Slot("child", f"k{j}", r) for j, r in enumerate(refs)))
        return Node(kind, tuple(Slot("child", f"m{j}", r, via=self.draw(st.sampled_from(("register", "setattr"))))
                                for j, r in enumerate(refs)))

    def layer(self, kind: str, kwargs: dict) -> int:
        """Append the nodes of one own-state layer (constructor-made children first); its index."""
        slots = []
        for m in own_members(kind, kwargs):
            if m.kind == "child":
                child_kind, child_kwargs = m.child
                slots.append(Slot("child", m.name, self.layer(child_kind, dict(child_kwargs)), via=OWN))
            elif m.shape is None:
                slots.append(Slot(m.kind, m.name, None, via=OWN))
            else:
                floating = m.dtype != "int64"
                self.tensors.append(TensorSpec(m.shape, m.dtype, requires_grad=m.kind == "param" and floating,
                                               seed=len(self.tensors)))
                slots.append(Slot(m.kind, m.name, len(self.tensors) - 1, via=OWN))
        self.nodes.append(Node(kind, tuple(slots), tuple(kwargs.items())))
        return len(self.nodes) - 1
