"""Drawing, referencing and labelling helpers shared by the container tests and the container machines.

Note [containers under test]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A container test draws a graph holding a container node (``draw_container``) and works on that
node through ``root``: the first step binds it as ``c`` (``open_container``), and every value a
step hands the container (``n3``, ``t5``) is first bound through ``root`` as well (``bind``), so
no step ever reads an object the build happened to create (the build's ``n*``/``t*`` names are
removed from the step namespace). Steps mutate the graph, and afterwards the blueprint's paths no
longer say which object is where, so items are labelled by the objects the graph held *as built*:
``h.lab(obj)`` looks the object up in a snapshot taken through ``root`` before the first step.
Messages name the class of ``c``, the container under test, rather than the root's.
"""
from __future__ import annotations

import functools
import re

from hypothesis import assume
from hypothesis import strategies as st

from conformance import model_containers as mc
from conformance.check import expect_equal
from conformance.handle import Handle
from conformance.harness import draw_graph
from strategies import blueprints

LEAVES = ("Linear",)  # one cheap leaf keeps drawing fast; traversal tests cover the others
DICT_KEYS = ("b", "a", "z", "c", "k0")
MODULE_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
CONTAINER_KINDS = (*MODULE_CONTAINERS, "ParameterList", "ParameterDict")


def holding(bp, kind, min_len=0) -> list[int]:
    """Indices of the ``kind`` nodes of ``bp`` with at least ``min_len`` entries."""
    return [j for j, n in enumerate(bp.nodes) if n.kind == kind and len(n.slots) >= min_len]


def _holds(kind, min_len):
    return lambda bp: bool(holding(bp, kind, min_len))


# The graphs the container tests draw, by (container kind, least number of entries): the kind, a
# plain Module to hold parameter containers, and one leaf kind; four nodes at most.
GRAPHS = {
    (kind, min_len): blueprints(
        kinds=(kind, *(() if kind in MODULE_CONTAINERS else ("Module",)), *LEAVES), max_nodes=4
    ).filter(_holds(kind, min_len))
    for kind in CONTAINER_KINDS
    for min_len in (0, 1, 2)
}

_BUILT_NAME = re.compile(r"[nt]\d+")


class _ContainerHandle:
    """Mixed into the backend's own handle class (see ``focus``): labels as built, messages
    naming the container bound as ``c``."""

    @property
    def cls(self) -> str:
        c = self.namespace.get("c")
        return type(c).__name__ if c is not None else type(self.root).__name__

    def lab(self, o):
        """The as-built label of ``o`` (``None`` stays ``None``)."""
        if o is None:
            return None
        found = self.built.get(id(o))
        return found[0] if found is not None else f"<unlabelled {type(o).__name__}>"


@functools.cache
def _container_class(base: type) -> type:
    return type(f"Container{base.__name__}", (_ContainerHandle, base), {"__module__": __name__})


def focus(h: Handle) -> Handle:
    """Turn a freshly built handle into a container handle (Note [containers under test])."""
    assert not h.steps, "focus() must come before the first step: labels are taken as built"
    built = {}
    for i in h.paths:
        built.setdefault(id(h.node(i)), (f"n{i}", h.node(i)))
    for t in h.tensor_paths:
        o = h.tensor(t)
        if o is not None:
            built.setdefault(id(o), (f"t{t}", o))  # the object is kept: its id stays unique
    for name in [k for k in h.namespace if _BUILT_NAME.fullmatch(k)]:
        del h.namespace[name]
    h.__class__ = _container_class(type(h))
    h.built, h.bound = built, set()
    return h


def draw_container(data, backend, kind, min_len=0):
    """A built graph holding a ``kind`` node with at least ``min_len`` entries, and that node's index."""
    h = focus(draw_graph(data, backend, GRAPHS[kind, min_len]))
    return h, data.draw(st.sampled_from(holding(h.blueprint, kind, min_len)), label="container")


def reference(h, label: str) -> str:
    """Source text reaching the as-built object of ``label`` through ``root``."""
    j = int(label[1:])
    if label[0] == "n":
        return h.node_ref(j)
    _kind, name = h.tensor_paths[j]
    owner, _, attr = name.rpartition(".")
    # Handle.ref writes root...<owner>.<attr>, not source for a parameter container's own names ('0', '0x').
    return h.ref(j) if attr.isidentifier() else f"root.get_parameter({h.names.live(name)!r})"


def is_label(v) -> bool:
    return isinstance(v, str) and _BUILT_NAME.fullmatch(v) is not None


def bind(h, labels, *, first: str = "") -> None:
    """One step binding each label not yet bound (``n3 = root.get_submodule('0')``), after the
    statements ``first``; only before any step that mutates the graph."""
    new = list(dict.fromkeys(v for v in labels if is_label(v) and v not in h.bound))
    lines = [first] if first else []
    lines += [f"{v} = {reference(h, v)}" for v in new]
    if lines:
        h.run("\n".join(lines))
        h.bound.update(new)


def open_container(h, i, labels=()) -> None:
    """Bind container node ``i`` as ``c``, and ``labels`` through ``root`` (one step)."""
    bind(h, labels, first=f"c = {h.node_ref(i)}")


def module_pool(bp, i) -> list[str]:
    """Modules that may go into node ``i`` without a cycle: every node that cannot reach it."""

    def reaches(j):
        return j == i or any(s.ref is not None and reaches(s.ref) for s in bp.nodes[j].slots_of("child"))

    return [f"n{j}" for j in range(len(bp.nodes)) if not reaches(j)]


def all_nodes(bp) -> list[str]:
    """Modules that may go into a new container."""
    return [f"n{j}" for j in range(len(bp.nodes))]


def param_pool(bp) -> list[str]:
    return [f"t{j}" for j in sorted(bp.param_ids())]


def code(labels) -> str:
    """Python source of a list of labels: ``[n1, None, n2]``."""
    return "[" + ", ".join("None" if x is None else x for x in labels) + "]"


def with_imports(step: str) -> str:
    """The reproducer header imports OrderedDict only for dict containers: import it when used."""
    return ("from collections import OrderedDict\n" if "OrderedDict(" in step else "") + step


def slice_text(sl: slice) -> str:
    return f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")


def items(pairs):
    return [v for _, v in pairs]


def draw_label(data, pool, what="module"):
    assume(pool)
    return data.draw(st.sampled_from(pool), label=what)


def draw_labels(data, pool, what="modules", max_size=3):
    return data.draw(st.lists(st.sampled_from(pool), max_size=max_size) if pool else st.just([]), label=what)


def expect_list(h, pairs, *, var="c", keys=True):
    """The list-like module container bound as ``var`` holds ``pairs``: its items in order, and its keys."""
    __tracebackhide__ = True
    expect_equal([h.lab(m) for m in h.run(f"list({var})")], items(pairs), h)
    expect_equal(h.run(f"len({var})"), len(pairs), h)
    if keys:
        expect_equal(h.run(f"list({var}._modules)"), [k for k, _ in pairs], h)


def expect_items(h, pairs, *, var="c"):
    """The dict container bound as ``var`` holds ``pairs`` (keys and as-built labels, in order)."""
    __tracebackhide__ = True
    expect_equal([(k, h.lab(v)) for k, v in h.run(f"list({var}.items())")], pairs, h)


SLICES = st.builds(
    slice, st.none() | st.integers(-4, 4), st.none() | st.integers(-4, 4), st.none() | st.integers(-3, 3).filter(bool)
)


def mapping(kind, pairs, container="ModuleDict") -> str:
    """Source of a mapping of ``kind`` holding ``pairs`` (labels, bound by the caller)."""
    text = "[" + ", ".join(f"({k!r}, {v})" for k, v in pairs) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in pairs) + "}"
    if kind == "pairs":
        return text
    if kind == "OrderedDict":
        return f"OrderedDict({text})"
    return f"nn.{container}({text})"


def expect_members(h, kind, pairs, *, var="c", state_dict=True):
    """The container bound as ``var`` (of ``kind``, holding ``pairs``) names its parameters, and its
    state_dict keys, as the container model says."""
    __tracebackhide__ = True
    named = h.run(f"list({var}.named_parameters())")
    expect_equal([(n, h.lab(p)) for n, p in named], mc.named_parameters(h.blueprint, kind, pairs), h)
    if state_dict:
        expect_equal(h.run(f"list({var}.state_dict())"), mc.state_dict_keys(h.blueprint, kind, pairs), h)
