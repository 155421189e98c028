"""Hypothesis strategies that draw blueprints of module graphs.

Public API, in the style of ``hypothesis.extra``: keyword-only arguments, each taking a value or
a strategy for it, checked when the strategy is built (fixed values) or drawn (strategies).

Every random choice is drawn so that it shrinks towards the simpler graph: fewer nodes and
slots, no sharing, no ties, no ``None`` slots, float32 tensors.
"""
from __future__ import annotations

import random
from dataclasses import replace
from functools import cache

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.internal.conjecture.utils import calc_label_from_name
from hypothesis.strategies._internal.strategies import SearchStrategy

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
KEY_POOL = ("b", "a", "z", "c", "k0", "x_y", "0x")  # ParameterDict/ModuleDict keys, first = simplest


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
    *, max_nodes=6, max_slots=4, kinds=NODE_KINDS, sharing=True, ties=True, none_slots=True, min_nodes=1
) -> st.SearchStrategy[Blueprint]:
    """Acyclic module graphs of ``min_nodes`` to ``max_nodes`` nodes with at most ``max_slots``
    slots each.

    ``sharing`` lets a module appear under several parents or names, ``ties`` lets a parameter or
    buffer object appear under several names, ``none_slots`` registers ``None`` children,
    parameters and buffers. ``kinds`` restricts node kinds (see ``NODE_KINDS``). Graphs of more
    than ``DIRECT_NODES`` nodes are expanded from a drawn seed (Note [choices drawn directly]).
    """
    fixed = {
        "max_nodes": lambda v: _check_int("max_nodes", v, 1, MAX_NODES),
        "min_nodes": lambda v: _check_int("min_nodes", v, 1, MAX_NODES),
        "max_slots": lambda v: _check_int("max_slots", v, 0, 12),
        "kinds": lambda v: _check_kinds("kinds", v),
        "sharing": lambda v: _check_bool("sharing", v),
        "ties": lambda v: _check_bool("ties", v),
        "none_slots": lambda v: _check_bool("none_slots", v),
    }
    args = dict(max_nodes=max_nodes, min_nodes=min_nodes, max_slots=max_slots, kinds=kinds, sharing=sharing,
                ties=ties, none_slots=none_slots)
    for name, value in args.items():
        if not isinstance(value, st.SearchStrategy):
            fixed[name](value)
    if not any(isinstance(v, st.SearchStrategy) for v in args.values()):
        args["kinds"] = tuple(args["kinds"])
        if min_nodes > max_nodes:
            raise InvalidArgument(f"min_nodes={min_nodes!r}: pass at most max_nodes={max_nodes!r}")
        return _fixed_blueprints(**args)  # the common case: one cached strategy per option set
    return _DrawnOptions(args, fixed)


def resized(strategy: st.SearchStrategy, nodes: int) -> st.SearchStrategy | None:
    """``strategy`` (a ``blueprints(...)`` strategy, possibly filtered) drawing graphs of exactly
    ``nodes`` nodes, its other options kept; None for any other strategy. The soak profile
    (``conformance.harness.draw_graph``) draws its big graphs through this."""
    _check_int("nodes", nodes, 1, MAX_NODES)
    if isinstance(strategy, _BlueprintStrategy):
        return _fixed_blueprints(**{**strategy.opts, "min_nodes": nodes, "max_nodes": nodes})
    if isinstance(strategy, _DrawnOptions):
        return _DrawnOptions({**strategy.args, "min_nodes": nodes, "max_nodes": nodes}, strategy.checks)
    inner = getattr(strategy, "filtered_strategy", None)  # st.filter: resize what it filters
    if inner is not None:
        sized = resized(inner, nodes)
        return None if sized is None else sized.filter(lambda bp: all(c(bp) for c in strategy.flat_conditions))
    return None


def restricted(strategy: st.SearchStrategy, *, kinds) -> st.SearchStrategy | None:
    """``strategy`` (a ``blueprints(...)`` strategy, possibly filtered, its options fixed or drawn)
    drawing only node kinds in ``kinds``, its other options kept; None when it cannot be narrowed
    (another strategy, or none of its kinds is left): a framework adapter then skips the test."""
    def keep(ks):
        return tuple(k for k in ks if k in kinds)

    if isinstance(strategy, _BlueprintStrategy):
        left = keep(strategy.opts["kinds"])
        return _fixed_blueprints(**{**strategy.opts, "kinds": left}) if left else None
    if isinstance(strategy, _DrawnOptions):
        drawn = strategy.args["kinds"]
        if isinstance(drawn, st.SearchStrategy):
            narrowed = drawn.map(keep).filter(bool)
        elif keep(drawn):
            narrowed = keep(drawn)
        else:
            return None
        return _DrawnOptions({**strategy.args, "kinds": narrowed}, strategy.checks)
    inner = getattr(strategy, "filtered_strategy", None)
    if inner is not None:
        narrowed = restricted(inner, kinds=kinds)
        return None if narrowed is None else narrowed.filter(lambda bp: all(c(bp) for c in strategy.flat_conditions))
    return None


MAX_NODES = 1000  # the soak profile draws graphs of 100 and 1,000 nodes
DIRECT_NODES = 200  # larger graphs take more choices than one Hypothesis example holds (8 KiB)
NODE_SPAN, SLOT_SPAN = calc_label_from_name("nnconform node"), calc_label_from_name("nnconform slot")


@cache
def _fixed_blueprints(**opts) -> st.SearchStrategy[Blueprint]:
    if opts["max_nodes"] > DIRECT_NODES:
        return st.integers(0, 2**32 - 1).map(lambda seed: _GraphDrawer(_Seeded(seed), **opts).blueprint())
    return _BlueprintStrategy(opts)


class _DrawnOptions(SearchStrategy):
    """``blueprints(...)`` with some options given as strategies: draws them, then the graph."""

    def __init__(self, args: dict, checks: dict):
        super().__init__()
        self.args, self.checks = args, checks

    def __repr__(self) -> str:
        return "blueprints(" + ", ".join(f"{k}={v!r}" for k, v in self.args.items()) + ")"

    def do_draw(self, data) -> Blueprint:
        opts = {name: _resolve(data.draw, value, self.checks[name]) for name, value in self.args.items()}
        if opts["min_nodes"] > opts["max_nodes"]:
            raise InvalidArgument(f"min_nodes={opts['min_nodes']!r}: pass at most max_nodes={opts['max_nodes']!r}")
        return data.draw(_fixed_blueprints(**{**opts, "kinds": tuple(opts["kinds"])}))


class _BlueprintStrategy(SearchStrategy):
    """Draws one blueprint with Hypothesis's choice primitives directly.

    Note [choices drawn directly]
    ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    Drawing each choice as ``draw(st.integers(...))`` (about 47 draws for a graph of 6 nodes)
    cost about 3 ms of CPU per blueprint, most of it the engine's bookkeeping per ``draw`` (a
    span, validation, the strategy's own wrapper), not the choice. The drawer makes its choices
    through ``ConjectureData.draw_integer`` (what ``st.integers`` and ``st.sampled_from`` call for
    ranges this small), one integer per tensor spec (read in mixed radix), and marks each node
    and each slot as a span, so the shrinker still sees the graph's structure: it deletes nodes
    and slots and lowers choices towards 0, which is always the simplest one (fewer nodes and
    slots, no sharing, no ties, no ``None``, float32, the first key). About 1.2 ms now.

    This is the one place the suite uses Hypothesis internals (``SearchStrategy``,
    ``ConjectureData``); hypothesis is pinned in ``requirements.txt``, and
    ``meta_tests/test_shrinking.py`` checks minimal examples, so an upgrade that changes them
    fails there first.

    Graphs of more than ``DIRECT_NODES`` nodes (the soak profile's 1,000) need more choices than
    one Hypothesis example may hold, so they are expanded from one drawn seed (``_Seeded``): they
    shrink only as far as the seed does, and their program is the reproducer.
    """

    def __init__(self, opts: dict):
        super().__init__()
        self.opts = opts

    def __repr__(self) -> str:
        return "blueprints(" + ", ".join(f"{k}={v!r}" for k, v in self.opts.items()) + ")"

    def do_draw(self, data) -> Blueprint:
        return _GraphDrawer(_Choices(data), **self.opts).blueprint()


class _Seeded:
    """The drawer's choices from a seeded PRNG (graphs beyond ``DIRECT_NODES`` nodes)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def chance(self, one_in: int) -> bool:
        return self.rng.randrange(one_in) == one_in - 1

    def unique(self, pool, k: int) -> list:
        return self.rng.sample(list(pool), k)

    def span(self, label: int) -> None:
        pass

    def end(self) -> None:
        pass


class _Choices:
    """The drawer's choices, each one ``data.draw_integer`` (Note [choices drawn directly])."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw_integer(lo, hi) if hi > lo else lo

    def pick(self, seq):
        return seq[self.data.draw_integer(0, len(seq) - 1)] if len(seq) > 1 else seq[0]

    def chance(self, one_in: int) -> bool:
        """True about once in ``one_in``; shrinks to False."""
        return self.data.draw_integer(0, one_in - 1) == one_in - 1

    def unique(self, pool, k: int) -> list:
        """``k`` distinct elements of ``pool``; shrinks to its first ``k``."""
        rest = list(pool)
        return [rest.pop(self.data.draw_integer(0, len(rest) - 1)) if len(rest) > 1 else rest.pop() for _ in range(k)]

    def span(self, label: int) -> None:
        self.data.start_span(label)

    def end(self) -> None:
        self.data.stop_span()


class _GraphDrawer:
    """Draws nodes in topological order; the last node adopts every module not yet placed."""

    def __init__(self, choices, *, max_nodes, min_nodes, max_slots, kinds, sharing, ties, none_slots):
        self.c, self.max_slots, self.kinds = choices, max_slots, tuple(kinds)
        self.sharing, self.ties, self.none_slots = sharing, ties, none_slots
        self.count = choices.integer(min_nodes, max_nodes)
        self.nodes: list[Node] = []
        self.tensors: list[TensorSpec] = []
        self.orphans: list[int] = []  # nodes no slot refers to yet
        self.params: list[int] = []  # parameter tensors a later slot may tie to
        self.buffers: list[int] = []  # buffer tensors a later slot may share
        # Plain modules carry buffers, plain attributes and None slots: drawn twice as often.
        self.weighted = tuple(k for k in self.kinds if k in ("Module", "ExtraState")) + self.kinds
        holders = tuple(k for k in self.kinds if k in MODULE_HOLDERS)
        self.root_kinds = tuple(k for k in holders if k in ("Module", "ExtraState")) + holders

    def blueprint(self) -> Blueprint:
        for index in range(self.count):
            self.c.span(NODE_SPAN)
            node = self.node(is_root=index == self.count - 1)
            self.c.end()
            self.nodes.append(node)
            self.orphans.append(index)
        return Blueprint(tuple(self.nodes), tuple(self.tensors))

    # -- nodes --------------------------------------------------------------------------------
    def node(self, is_root: bool) -> Node:
        c = self.c
        kind = c.pick(self.root_kinds if is_root and self.orphans else self.weighted)
        if kind in LAYERS:
            return self.layer(kind)
        count = c.integer(0, self.max_slots)
        args = (c.integer(0, 9),) if kind == "ExtraState" else ()
        if kind in PARAM_CONTAINERS:
            slots = []
            for _ in range(count):
                c.span(SLOT_SPAN)
                slots.append(Slot("param", "", self.param_ref()))
                c.end()
            return Node(kind, self.keyed(kind == "ParameterDict", slots))
        if kind not in ("Module", "ExtraState"):
            # A container's slots are all children: without sharing, only unplaced nodes qualify.
            count = count if self.sharing and self.nodes else min(count, len(self.orphans))
        slots = []
        for j in range(count):
            c.span(SLOT_SPAN)
            slots.append(self.module_slot(kind, j))
            c.end()
        if is_root:  # adopt the rest, so that every node is reachable
            slots += [Slot("child", "", orphan) for orphan in self.orphans]
            self.orphans.clear()
        if kind in ("Module", "ExtraState"):
            named = [s if s.name else Slot("child", f"m{j}", s.ref) for j, s in enumerate(slots)]
            return Node(kind, tuple(named), args)
        return Node(kind, self.keyed(kind == "ModuleDict", slots))

    def keyed(self, by_key: bool, slots: list[Slot]) -> tuple[Slot, ...]:
        if not by_key:
            return tuple(Slot(s.kind, str(j), s.ref) for j, s in enumerate(slots))
        pool = KEY_POOL + tuple(f"k{j}" for j in range(1, len(slots) + 1))  # enough keys for a root that adopts many
        keys = self.c.unique(pool, len(slots))
        return tuple(Slot(s.kind, k, s.ref) for k, s in zip(keys, slots))

    def layer(self, kind: str) -> Node:
        c, spec = self.c, LAYERS[kind]
        args = tuple(c.integer(spec.min_size, 3) for _ in spec.arg_names)
        bias = not (spec.has_bias_flag and c.chance(4))
        slots = []
        for m in spec.members:
            if m.optional and not bias:
                ref = None
            elif m.kind == "param":
                ref = self.param_ref(m.shape(args))
            elif self.ties and self.buffers and c.chance(4):
                ref = c.pick(self.buffers)
            else:
                dtypes = (m.dtype,) if m.dtype else ("float32", "float64")
                ref = self.new_tensor("buffer", m.shape(args), dtypes)
                self.buffers.append(ref)
            slots.append(Slot(m.kind, m.name, ref, via="member"))
        return Node(kind, tuple(slots), args + ((bias,) if spec.has_bias_flag else ()))

    # -- slots --------------------------------------------------------------------------------
    def module_slot(self, kind: str, j: int) -> Slot:
        c = self.c
        if kind not in ("Module", "ExtraState"):
            return Slot("child", "", self.child_ref(allow_none=kind == "Sequential"))
        slot_kind = c.pick(("child", "param", "buffer", "plain") if self.can_take_child() else ("param", "buffer", "plain"))
        if slot_kind == "child":
            ref = self.child_ref(allow_none=True)
            return Slot("child", f"m{j}", ref, via=self.via(ref))
        if slot_kind == "param":
            return self.param_slot(f"p{j}")
        if slot_kind == "plain":
            shared = self.buffers and self.sharing and c.chance(4)
            ref = c.pick(self.buffers) if shared else self.new_tensor("buffer")
            return Slot("plain", f"x{j}", ref, via="setattr")
        return self.buffer_slot(f"b{j}")

    def param_slot(self, name: str) -> Slot:
        ref = None if self.none_slots and self.c.chance(5) else self.param_ref()
        return Slot("param", name, ref, via=self.via(ref))

    def buffer_slot(self, name: str) -> Slot:
        c = self.c
        persistent = not c.chance(3)
        if self.none_slots and c.chance(6):
            return Slot("buffer", name, None, persistent)
        if self.ties and self.buffers and c.chance(2):
            return Slot("buffer", name, c.pick(self.buffers), persistent)
        ref = self.new_tensor("buffer")
        via = self.via(ref)
        if via == "register":  # nn.Buffer(t) stores a new tensor object, so only these can be shared
            self.buffers.append(ref)
        return Slot("buffer", name, ref, persistent, via)

    def via(self, ref) -> str:
        # Registering None needs the explicit call: assigning None to a new name is a plain attribute.
        return "register" if ref is None or not self.c.chance(2) else "setattr"

    def can_take_child(self) -> bool:
        return bool(self.orphans) or (self.sharing and bool(self.nodes))

    def child_ref(self, allow_none: bool) -> int | None:
        """An unplaced node, or (sharing) any earlier one; callers check can_take_child()."""
        c = self.c
        if allow_none and self.none_slots and c.chance(6):
            return None
        share = self.sharing and self.nodes and (not self.orphans or c.chance(3))
        if share:
            return c.integer(0, len(self.nodes) - 1)
        ref = c.pick(self.orphans)
        self.orphans.remove(ref)
        return ref

    # -- tensors ------------------------------------------------------------------------------
    def param_ref(self, shape=None) -> int:
        if self.ties and self.params and self.c.chance(4):
            return self.c.pick(self.params)
        ref = self.new_tensor("param", shape, FLOAT_DTYPES if shape is not None else None)
        self.params.append(ref)
        return ref

    def new_tensor(self, role: str, shape=None, dtypes=None) -> int:
        """A tensor spec with the distribution of ``tensor_specs(role=..., shape=..., dtypes=...)``,
        drawn as one integer read in mixed radix: from the most significant digit, the rank and the
        sizes (when ``shape`` is None), the dtype, then the ``requires_grad`` and ``.grad`` chances.
        0 is the simplest spec (a float32 scalar that requires grad, without ``.grad``), and lowering
        the integer simplifies the shape first."""
        dtypes = dtypes or (PARAM_DTYPES if role == "param" else BUFFER_DTYPES)
        flags = (3, 2) if role == "param" else (8, 1)
        radix = len(dtypes) * flags[0] * flags[1] * (256 if shape is None else 1)
        v = self.c.integer(0, radix - 1)
        v, grad_digit = divmod(v, flags[1])
        v, rg_digit = divmod(v, flags[0])
        v, d = divmod(v, len(dtypes))
        dtype = dtypes[d]
        if shape is None:  # rank 0-3, each size 0-3: four base-4 digits, the rank most significant
            rank, sizes = v >> 6, (v >> 4 & 3, v >> 2 & 3, v & 3)
            shape = sizes[:rank]
        floating = dtype in FLOAT_DTYPES
        if role == "param":
            requires_grad, grad = floating and rg_digit != 2, floating and grad_digit == 1
        else:
            requires_grad, grad = floating and rg_digit == 7, False
        self.tensors.append(TensorSpec(shape, dtype, requires_grad, grad, seed=len(self.tensors)))
        return len(self.tensors) - 1
