"""Hypothesis strategies that draw blueprints of module graphs.

Public API, in the style of ``hypothesis.extra``: keyword-only arguments, each taking a value or
a strategy for it, checked when the strategy is built (fixed values) or drawn (strategies).

Every random choice is drawn so that it shrinks towards the simpler graph: fewer nodes and
slots, no sharing, no ties, no ``None`` slots, float32 tensors.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cache

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies.blueprint import (
    BOOL_DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    MODULE_HOLDERS,
    PARAM_CONTAINERS,
    Blueprint,
    Node,
    Slot,
    TensorSpec,
)
from strategies.layers import LAYERS

NODE_KINDS = MODULE_HOLDERS + PARAM_CONTAINERS + tuple(LAYERS)
PARAM_DTYPES = FLOAT_DTYPES + ("int64",)
BUFFER_DTYPES = ("float32", "float64", "int64", "bool", "float16", "bfloat16", "int32", "uint8")
DICT_KEYS = ("b", "a", "z", "c", "k0", "x_y", "0x")


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name}={value!r}: pass an int from {low} to {high}, or a strategy for one")
    return value


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r}: pass True or False, or a strategy for one")
    return value


def _check_kinds(name: str, value) -> tuple[str, ...]:
    kinds = tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else None
    unknown = [k for k in kinds or () if k not in NODE_KINDS]
    if not kinds or unknown:
        raise InvalidArgument(f"{name}={value!r}: pass a non-empty collection of node kinds from {NODE_KINDS}")
    if not set(kinds) & set(MODULE_HOLDERS):
        raise InvalidArgument(f"{name}={value!r}: include at least one of {MODULE_HOLDERS} to hold children")
    return kinds


def _resolve(draw, value, check):
    return check(draw(value) if isinstance(value, st.SearchStrategy) else value)


def _chance(draw, one_in: int) -> bool:
    """True about once in ``one_in`` draws; shrinks to False."""
    return draw(st.integers(0, one_in - 1)) == one_in - 1


def tensor_specs(*, role: str = "param", shape=None, dtypes=None, seed: int = 0) -> st.SearchStrategy[TensorSpec]:
    """Specs of one tensor: a parameter (``role='param'``) or a buffer or plain attribute."""
    shape = tuple(shape) if shape is not None else None
    dtypes = tuple(dtypes) if dtypes else None
    return _tensor_specs(role, shape, dtypes).map(lambda spec: replace(spec, seed=seed))


@cache
def _tensor_specs(role: str, shape, dtypes) -> st.SearchStrategy[TensorSpec]:
    """Cached: graphs draw many tensors, and building a strategy per tensor dominated drawing."""
    if role not in ("param", "buffer"):
        raise InvalidArgument(f"role={role!r}: pass 'param' or 'buffer'")
    dtypes = dtypes or (PARAM_DTYPES if role == "param" else BUFFER_DTYPES)
    bad = [d for d in dtypes if d not in FLOAT_DTYPES + INT_DTYPES + BOOL_DTYPES]
    if bad:
        raise InvalidArgument(f"dtypes={dtypes!r}: unknown dtype names {bad}")
    shapes = st.just(shape) if shape is not None else st.lists(st.integers(0, 3), max_size=3).map(tuple)

    @st.composite
    def draw_spec(draw):
        dtype = draw(st.sampled_from(dtypes))
        floating = dtype in FLOAT_DTYPES
        if role == "param":
            requires_grad = floating and not _chance(draw, 3)
            grad = floating and _chance(draw, 2)
        else:
            requires_grad, grad = floating and _chance(draw, 8), False
        return TensorSpec(draw(shapes), dtype, requires_grad, grad)

    return draw_spec()


def blueprints(
    *, max_nodes=6, max_slots=4, kinds=NODE_KINDS, sharing=True, ties=True, none_slots=True
) -> st.SearchStrategy[Blueprint]:
    """Acyclic module graphs of at most ``max_nodes`` nodes with at most ``max_slots`` slots each.

    ``sharing`` lets a module appear under several parents or names, ``ties`` lets a parameter or
    buffer object appear under several names, ``none_slots`` registers ``None`` children,
    parameters and buffers. ``kinds`` restricts node kinds (see ``NODE_KINDS``).
    """
    fixed = {
        "max_nodes": lambda v: _check_int("max_nodes", v, 1, 30),
        "max_slots": lambda v: _check_int("max_slots", v, 0, 12),
        "kinds": lambda v: _check_kinds("kinds", v),
        "sharing": lambda v: _check_bool("sharing", v),
        "ties": lambda v: _check_bool("ties", v),
        "none_slots": lambda v: _check_bool("none_slots", v),
    }
    args = dict(max_nodes=max_nodes, max_slots=max_slots, kinds=kinds, sharing=sharing, ties=ties, none_slots=none_slots)
    for name, value in args.items():
        if not isinstance(value, st.SearchStrategy):
            fixed[name](value)
    return _blueprints(args, fixed)


@st.composite
def _blueprints(draw, args, checks):
    opts = {name: _resolve(draw, value, checks[name]) for name, value in args.items()}
    return _GraphDrawer(draw, **opts).blueprint()


class _GraphDrawer:
    """Draws nodes in topological order; the last node adopts every module not yet placed."""

    def __init__(self, draw, *, max_nodes, max_slots, kinds, sharing, ties, none_slots):
        self.draw, self.max_slots, self.kinds = draw, max_slots, kinds
        self.sharing, self.ties, self.none_slots = sharing, ties, none_slots
        self.count = draw(st.integers(1, max_nodes))
        self.nodes: list[Node] = []
        self.tensors: list[TensorSpec] = []
        self.orphans: list[int] = []  # nodes no slot refers to yet
        self.params: list[int] = []  # parameter tensors a later slot may tie to
        self.buffers: list[int] = []  # buffer tensors a later slot may share

    def blueprint(self) -> Blueprint:
        for index in range(self.count):
            node = self.node(is_root=index == self.count - 1)
            self.nodes.append(node)
            self.orphans.append(index)
        return Blueprint(tuple(self.nodes), tuple(self.tensors))

    # -- nodes --------------------------------------------------------------------------------
    def node(self, is_root: bool) -> Node:
        kinds = self.kinds
        if is_root and self.orphans:
            kinds = tuple(k for k in kinds if k in MODULE_HOLDERS)
        # Plain modules carry buffers, plain attributes and None slots: draw them twice as often.
        kind = self.draw(st.sampled_from(tuple(k for k in kinds if k in ("Module", "ExtraState")) + kinds))
        if kind in LAYERS:
            return self.layer(kind)
        count = self.draw(st.integers(0, self.max_slots))
        if kind in PARAM_CONTAINERS:
            slots = [Slot("param", "", self.param_ref()) for _ in range(count)]
            return Node(kind, self.keyed(kind == "ParameterDict", slots))
        if kind not in ("Module", "ExtraState"):
            # A container's slots are all children: without sharing, only unplaced nodes qualify.
            count = count if self.sharing and self.nodes else min(count, len(self.orphans))
        slots = [self.module_slot(kind, j) for j in range(count)]
        if is_root:  # adopt the rest, so that every node is reachable
            slots += [Slot("child", "", orphan) for orphan in list(self.orphans)]
            self.orphans.clear()
        if kind in ("Module", "ExtraState"):
            named = [s if s.name else Slot("child", f"m{j}", s.ref) for j, s in enumerate(slots)]
            args = (self.draw(st.integers(0, 9)),) if kind == "ExtraState" else ()
            return Node(kind, tuple(named), args)
        return Node(kind, self.keyed(kind == "ModuleDict", slots))

    def keyed(self, by_key: bool, slots: list[Slot]) -> tuple[Slot, ...]:
        if not by_key:
            return tuple(Slot(s.kind, str(j), s.ref) for j, s in enumerate(slots))
        pool = DICT_KEYS + tuple(f"k{j}" for j in range(1, len(slots) + 1))  # enough keys for a root that adopts many
        keys = self.draw(st.lists(st.sampled_from(pool), min_size=len(slots), max_size=len(slots), unique=True))
        return tuple(Slot(s.kind, k, s.ref) for k, s in zip(keys, slots))

    def layer(self, kind: str) -> Node:
        spec = LAYERS[kind]
        args = tuple(self.draw(st.integers(spec.min_size, 3)) for _ in spec.arg_names)
        bias = not (spec.has_bias_flag and _chance(self.draw, 4))
        slots = []
        for m in spec.members:
            if m.optional and not bias:
                ref = None
            elif m.kind == "param":
                ref = self.param_ref(m.shape(args))
            elif self.ties and self.buffers and _chance(self.draw, 4):
                ref = self.draw(st.sampled_from(self.buffers))
            else:
                dtypes = (m.dtype,) if m.dtype else ("float32", "float64")
                ref = self.new_tensor("buffer", m.shape(args), dtypes)
                self.buffers.append(ref)
            slots.append(Slot(m.kind, m.name, ref, via="member"))
        return Node(kind, tuple(slots), args + ((bias,) if spec.has_bias_flag else ()))

    # -- slots --------------------------------------------------------------------------------
    def module_slot(self, kind: str, j: int) -> Slot:
        if kind not in ("Module", "ExtraState"):
            return Slot("child", "", self.child_ref(allow_none=kind == "Sequential"))
        kinds = ("child", "param", "buffer", "plain") if self.can_take_child() else ("param", "buffer", "plain")
        slot_kind = self.draw(st.sampled_from(kinds))
        if slot_kind == "child":
            ref = self.child_ref(allow_none=True)
            return Slot("child", f"m{j}", ref, via=self.via(ref))
        if slot_kind == "param":
            return self.param_slot(f"p{j}")
        if slot_kind == "plain":
            shared = self.buffers and self.sharing and _chance(self.draw, 4)
            ref = self.draw(st.sampled_from(self.buffers)) if shared else self.new_tensor("buffer")
            return Slot("plain", f"x{j}", ref, via="setattr")
        return self.buffer_slot(f"b{j}")

    def param_slot(self, name: str) -> Slot:
        ref = None if self.none_slots and _chance(self.draw, 5) else self.param_ref()
        return Slot("param", name, ref, via=self.via(ref))

    def buffer_slot(self, name: str) -> Slot:
        persistent = not _chance(self.draw, 3)
        if self.none_slots and _chance(self.draw, 6):
            return Slot("buffer", name, None, persistent)
        if self.ties and self.buffers and _chance(self.draw, 2):
            return Slot("buffer", name, self.draw(st.sampled_from(self.buffers)), persistent)
        ref = self.new_tensor("buffer")
        via = self.via(ref)
        if via == "register":  # nn.Buffer(t) stores a new tensor object, so only these can be shared
            self.buffers.append(ref)
        return Slot("buffer", name, ref, persistent, via)

    def via(self, ref) -> str:
        # Registering None needs the explicit call: assigning None to a new name is a plain attribute.
        return "register" if ref is None or not _chance(self.draw, 2) else "setattr"

    def can_take_child(self) -> bool:
        return bool(self.orphans) or (self.sharing and bool(self.nodes))

    def child_ref(self, allow_none: bool) -> int | None:
        """An unplaced node, or (sharing) any earlier one; callers check can_take_child()."""
        if allow_none and self.none_slots and _chance(self.draw, 6):
            return None
        share = self.sharing and self.nodes and (not self.orphans or _chance(self.draw, 3))
        if share:
            return self.draw(st.sampled_from(range(len(self.nodes))))
        ref = self.draw(st.sampled_from(self.orphans))
        self.orphans.remove(ref)
        return ref

    # -- tensors ------------------------------------------------------------------------------
    def param_ref(self, shape=None) -> int:
        if self.ties and self.params and _chance(self.draw, 4):
            return self.draw(st.sampled_from(self.params))
        dtypes = FLOAT_DTYPES if shape is not None else None
        ref = self.new_tensor("param", shape, dtypes)
        self.params.append(ref)
        return ref

    def new_tensor(self, role: str, shape=None, dtypes=None) -> int:
        spec = self.draw(_tensor_specs(role, shape, tuple(dtypes) if dtypes else None))
        self.tensors.append(replace(spec, seed=len(self.tensors)))
        return len(self.tensors) - 1
