"""Attributes and access: assignment and deletion of names (the ``setattr`` matrix), ``dir``,
``repr``, ``get_submodule``/``get_parameter``/``get_buffer`` and ``set_submodule`` (spec section 7,
``attr.*`` and ``access.*``).

Targets are drawn from generated graphs: a node, then one of its own names, a name torch itself
uses (``training``, ``forward``) or a missing one. Expected outcomes come from small pure models
below; the graph afterwards must match the reference model of the edited blueprint
(``conformance.edits`` holds the edits and the views).
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance import model
from conformance.check import expect_equal, expect_error, expect_no_error, expect_true
from conformance.edits import (
    VALUES,
    Frozen,
    draw_node,
    edit,
    expect_view,
    grown,
    new_ref,
    slot_named,
)
from conformance.handle import script
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import blueprints
from strategies.blueprint import Blueprint, Slot

REGISTRIES = {"param": "_parameters", "buffer": "_buffers", "child": "_modules", "plain": "__dict__"}
MISSING = "nope"
GRAPHS = blueprints()
SMALL = blueprints(max_nodes=3)  # for properties of one node, where a larger graph adds only drawing time


# -- the setattr matrix ----------------------------------------------------------------------
def setattr_outcome(name: str, old: Slot | None, value: str):
    """``(kind, persistent)`` the name ends as, or ``(exception type, message)``. ``old`` is the
    node's slot of that name (a ``plain`` one for ``training``), None for an unused name."""
    existing, typename = old.kind if old else None, VALUES[value].typename
    if value == "Parameter":  # documented: a Parameter is always registered as one
        return "param", True
    if existing == "param":
        if value == "None":
            return "param", True
        return TypeError, f"cannot assign '{typename}' as parameter '{name}' (torch.nn.Parameter or None expected)"
    if value == "Module":
        return "child", True
    if existing == "child":
        if value == "None":
            return "child", True
        return TypeError, f"cannot assign '{typename}' as child module '{name}' (torch.nn.Module or None expected)"
    marked = value.startswith("Buffer")
    if marked or existing == "buffer":
        if not (marked or value in ("Tensor", "None")):
            wanted = "torch.nn.Buffer, torch.Tensor or None expected"
            return TypeError, f"cannot assign '{typename}' as buffer '{name}' ({wanted})"
        if existing == "plain":
            return KeyError, f"attribute '{name}' already exists"
        return "buffer", (value != "Buffer(persistent=False)") if marked else old.persistent
    return "plain", True  # documented: a plain Tensor is not registered


def registry_state(h, node: int, name: str) -> tuple[list[str], bool]:
    """Which registries of ``node`` hold ``name`` and whether it is marked non-persistent (a step)."""
    m = h.node_ref(node)
    return h.run(f"[r for r in {list(REGISTRIES.values())!r} if name in getattr({m}, r)], "
                 f"name in {m}._non_persistent_buffers_set", name=name)


TARGETS = ("param", "buffer", "child", "plain", "new")  # what the assigned name held before


@invariant("attr.setattr_matrix")
@pytest.mark.parametrize("held", TARGETS)
@needs("register")
@given(data=st.data())
def test_setattr_matrix(data, backend, held):
    """Any value onto a name holding ``held``: the error or the registry the model gives, and
    the whole graph afterwards as the model edits it."""
    h = draw_graph(data, backend, GRAPHS)
    bp = h.blueprint
    if held == "new":
        node, name = draw_node(data, h), "fresh"
    else:
        names = [(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots if s.kind == held]
        names += [(i, "training") for i in bp.reachable()] if held == "plain" else []
        assume(names)
        node, name = data.draw(st.sampled_from(names), label="node and name")
    value = data.draw(st.sampled_from(list(VALUES)), label="value")
    old = slot_named(bp, node, name) or (Slot("plain", name, None) if name == "training" else None)
    before, target, bp2 = Frozen(h), h.node_ref(node), grown(bp)
    outcome = setattr_outcome(name, old, value)
    if not isinstance(outcome[0], str):
        expect_error(h, f"setattr({target}, name, {VALUES[value].source})", outcome, name=name)
        kind, persistent = old.kind, old.persistent
    else:
        expect_no_error(h, f"value = {VALUES[value].source}\nsetattr({target}, name, value)", name=name)
        kind, persistent = outcome
        stored, obj = expect_no_error(h, f"getattr({target}, name)"), h.namespace["value"]
        same = type(stored) is torch.Tensor if value.startswith("Buffer") else stored is obj
        expect_true(same, h, actual=type(stored).__name__,
                    expected="the assigned object (for nn.Buffer: a plain torch.Tensor)")
        bp2 = edit(bp2, node, name, kind, new_ref(bp2, kind, value), persistent)
    expect_equal(registry_state(h, node, name), ([REGISTRIES[kind]], kind == "buffer" and not persistent),
                 h, problem="the name ended in the wrong registry")
    expect_view(h, before, bp2, "after the assignment the graph differs from the model")


@invariant("attr.parameter_replaces_plain_attr_even_training")
@needs("register")
@given(data=st.data())
def test_parameter_replaces_training_flag(data, backend):
    h = draw_graph(data, backend, SMALL)
    node = draw_node(data, h)
    target = h.node_ref(node)
    expect_no_error(h, f"value = nn.Parameter(torch.ones(2))\n{target}.training = value")
    state, stored = registry_state(h, node, "training"), h.run(f"{target}.training")
    expect_equal((state, stored is h.namespace["value"]), ((["_parameters"], False), True), h,
                 problem="a Parameter should replace the plain attribute 'training'")
    expect_error(h, f"{target}.eval()",
                 (TypeError, "cannot assign 'bool' as parameter 'training' (torch.nn.Parameter or None expected)"))


@invariant("attr.plain_tensor_and_Buffer")
@needs("register")
@given(data=st.data())
def test_plain_tensor_vs_buffer(data, backend):
    h = draw_graph(data, backend, SMALL)
    node = draw_node(data, h)
    value = data.draw(st.sampled_from(["Tensor", "Buffer", "Buffer(persistent=False)"]), label="value")
    before, target, bp2 = Frozen(h), h.node_ref(node), grown(h.blueprint)
    expect_no_error(h, f"value = {VALUES[value].source}\n{target}.fresh = value")
    if value == "Tensor":
        own = h.run(f"vars({target}).get('fresh')")
        expect_true(own is h.namespace["value"], h, actual=type(own).__name__,
                    expected="'fresh' in __dict__, holding the assigned tensor")
    else:
        bp2 = edit(bp2, node, "fresh", "buffer", new_ref(bp2, "buffer", value), value == "Buffer")
        kind = h.run(f"type({target}.fresh)")
        expect_true(kind is torch.Tensor, h, actual=kind, expected=torch.Tensor)
    expect_view(h, before, bp2, "a plain tensor is not registered; an nn.Buffer is, with its persistence")


# -- reassignment, deletion, missing names ---------------------------------------------------
SAME_KIND = {"param": "Parameter", "buffer": "Buffer", "child": "Module"}


def _draw_slot(data, h, kinds):
    """A node and one of its slots of ``kinds``, the group drawn first so that each turns up:
    one group per kind, and one more for non-persistent buffers (rare in generated graphs, so
    that group is asked for directly half of the time)."""
    bp, groups = h.blueprint, {}
    for i in bp.reachable():
        for s in bp.nodes[i].slots:
            if s.kind in kinds:
                groups.setdefault(s.kind if s.persistent else "non-persistent buffer", []).append((i, s))
    if "buffer" in kinds and data.draw(st.booleans(), label="a non-persistent buffer"):
        group = "non-persistent buffer"
        assume(group in groups)
    else:
        assume(groups)
        group = data.draw(st.sampled_from(sorted(groups)), label="slot group")
    return data.draw(st.sampled_from(groups[group]), label="node and slot")


@invariant("attr.reassign_order_and_delattr")
@needs("register")
@given(data=st.data())
def test_reassign_keeps_slot_del_moves_last(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    node, slot = _draw_slot(data, h, SAME_KIND)
    delete = data.draw(st.booleans(), label="del first")
    value = SAME_KIND[slot.kind]
    before, target, bp2 = Frozen(h), h.node_ref(node), grown(h.blueprint)
    if delete:
        expect_no_error(h, f"delattr({target}, name)", name=slot.name)
        bp2 = edit(bp2, node, slot.name, None)
    expect_no_error(h, f"setattr({target}, name, {VALUES[value].source})", name=slot.name)
    bp2 = edit(bp2, node, slot.name, slot.kind, new_ref(bp2, slot.kind, value), True)
    expect_view(h, before, bp2, "reassignment keeps the slot; del then assignment moves the name last")


@invariant("attr.reassign_order_and_delattr")
@needs("register")
@given(data=st.data())
def test_delattr_removes_name(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    node, slot = _draw_slot(data, h, REGISTRIES)
    before, target = Frozen(h), h.node_ref(node)
    expect_no_error(h, f"delattr({target}, name)", name=slot.name)
    expect_equal(registry_state(h, node, slot.name), ([], False), h, problem="del should leave no trace of the name")
    message = f"'{h.class_of(node)}' object has no attribute '{slot.name}'"
    expect_error(h, f"getattr({target}, name)", (AttributeError, message))
    expect_view(h, before, edit(grown(h.blueprint), node, slot.name, None), "del should remove exactly that name")


@invariant("attr.reassign_order_and_delattr")
@given(data=st.data())
def test_missing_name_attribute_error(data, backend):
    h = draw_graph(data, backend, SMALL)
    node = draw_node(data, h)
    target, message = h.node_ref(node), f"'{h.class_of(node)}' object has no attribute '{MISSING}'"
    expect_error(h, f"{target}.{MISSING}", (AttributeError, message))
    expect_error(h, f"del {target}.{MISSING}", (AttributeError, message))


# -- class attribute names -------------------------------------------------------------------
CLASS_NAMES = ("forward", "eval", "dump_patches", "call_super_init", "T_destination")
CLASS_NAME_CALLS = {
    "setattr": "setattr({m}, {name!r}, nn.Parameter(torch.ones(2)))",
    "register_parameter": "{m}.register_parameter({name!r}, nn.Parameter(torch.ones(2)))",
}


@invariant("attr.class_attr_names_rejected")
@needs("register")
@given(data=st.data())
def test_class_attribute_names_rejected(data, backend):
    h = draw_graph(data, backend, SMALL)
    node = draw_node(data, h)
    name = data.draw(st.sampled_from(CLASS_NAMES), label="name")
    how = data.draw(st.sampled_from(["setattr", "register_parameter"]), label="how")
    before = Frozen(h)
    expect_error(h, CLASS_NAME_CALLS[how].format(m=h.node_ref(node), name=name),
                 (KeyError, f"attribute '{name}' already exists"))
    expect_view(h, before, grown(h.blueprint), "a rejected name changed the graph")


CLASS_NAMES_SOURCE = (
    "class WithClassNames(nn.Module):\n    w = 5\n\n    @property\n    def q(self):\n        return 1\n\n"
)


@invariant("attr.class_attr_names_rejected")
@pytest.mark.parametrize("name", ["w", "q"], ids=["class_attribute", "property"])
@pytest.mark.parametrize("how", ["setattr", "register_parameter"])
@needs("register")
def test_custom_class_names_rejected(name, how, backend):
    # a class with a class attribute and a property
    h = script(CLASS_NAMES_SOURCE + "root = WithClassNames()", backend=backend)
    expect_error(h, CLASS_NAME_CALLS[how].format(m=h.node_ref(""), name=name),
                 (KeyError, f"attribute '{name}' already exists"))


# -- dir and repr ----------------------------------------------------------------------------
@invariant("attr.dir")
@given(data=st.data())
def test_dir_lists_member_names(data, backend):
    h = draw_graph(data, backend, SMALL)
    digits = [i for i in h.blueprint.reachable() if any(s.name[0].isdigit() for s in h.blueprint.nodes[i].slots)]
    if data.draw(st.booleans(), label="a node with names starting with a digit"):
        assume(digits)
        node = data.draw(st.sampled_from(digits), label="node")
    else:
        node = draw_node(data, h)
    listed = h.run(f"dir({h.node_ref(node)})")
    names = {s.name for s in h.blueprint.nodes[node].slots}
    shown_names = sorted(n for n in names if not n[0].isdigit())
    hidden = sorted(n for n in names if n[0].isdigit())
    # Sorting is the builtin dir()'s own doing, so only membership is Module's to get right.
    expect_equal(([n for n in shown_names if n not in listed], [n for n in hidden if n in listed]), ([], []), h,
                 problem="dir() should list member names and leave out names starting with a digit "
                         "(shown: member names missing, digit names listed)")


REPR_KINDS = ("Module", "Sequential", "ModuleDict", "ExtraState")  # no extra_repr of their own
REPR_GRAPHS = blueprints(kinds=REPR_KINDS, max_nodes=4, max_slots=3)
WRAPPER = (
    "class R(nn.Module):\n    def __init__(self, extra):\n        super().__init__()\n        self.extra = extra\n\n"
    "    def extra_repr(self):\n        return self.extra\n\n"
)


def expected_repr(name: str, extra: str, children: list[tuple[str, str]]) -> str:
    """``Name(extra)`` for one extra line and no children, else one indented line per extra line
    and per ``(key): child``, nested reprs indented by two more spaces."""
    lines = (extra.split("\n") if extra else []) + [f"({k}): " + r.replace("\n", "\n  ") for k, r in children]
    if not lines:
        return f"{name}()"
    if len(lines) == 1 and extra:
        return f"{name}({extra})"
    return f"{name}(\n  " + "\n  ".join(lines) + "\n)"


def model_repr(bp: Blueprint, i: int) -> str:
    children = [(s.name, "None" if s.ref is None else model_repr(bp, s.ref)) for s in bp.nodes[i].slots_of("child")]
    return expected_repr(bp.nodes[i].kind, "", children)


@invariant("attr.repr")
@given(data=st.data())
def test_repr_layout(data, backend):
    h = draw_graph(data, backend, REPR_GRAPHS)
    extra = data.draw(st.sampled_from(["", "k=1", "line1\nline2"]), label="extra_repr")
    attach = data.draw(st.booleans(), label="root as child 'c'")
    h.run(WRAPPER + "r = R(extra)" + (f"\nr.c = {h.node_ref(h.blueprint.root)}" if attach else ""), extra=extra)
    children = [("c", model_repr(h.blueprint, h.blueprint.root))] if attach else []
    expect_equal(h.run("repr(r)"), expected_repr("R", extra, children), h)


# -- get_submodule, get_parameter, get_buffer, set_submodule --------------------------------
def _draw_target(data, h, parent_missing: bool = False):
    """A module path of the graph, its node, and one more atom, the group drawn first: a member
    name of that module by kind (``None`` entries apart), a missing name, a non-module attribute
    torch defines or (``parent_missing``) a name below a missing module."""
    bp = h.blueprint
    paths, groups = model.named_modules(bp, remove_duplicate=False), {}
    for path, node in paths:
        for s in bp.nodes[node].slots:
            groups.setdefault(s.kind + (" None" if s.ref is None else ""), []).append((path, node, s.name))
    extra = {"missing": (MISSING,), "torch": ("forward", "training")}
    if parent_missing:
        extra["missing parent"] = (f"{MISSING}.sub",)
    group = data.draw(st.sampled_from(sorted(groups) + list(extra)), label="name group")
    if group in groups:
        return data.draw(st.sampled_from(groups[group]), label="path, node and name")
    path, node = data.draw(st.sampled_from(paths), label="module path")
    return path, node, data.draw(st.sampled_from(extra[group]), label="name")


def _live(h, target: str) -> str:
    """The name a lookup is given: a model path through the backend's name map. The empty target
    is the object called itself, as drawn."""
    return h.names.live(target) if target else target


NOT_A = {"module": "an nn.Module", "parameter": "an nn.Parameter", "buffer": "a buffer"}


def _lookup_error(bp: Blueprint, node: int, atom: str, wanted: str):
    """The AttributeError message for ``atom`` on ``node`` when it is not a ``wanted``
    ('module', 'parameter', 'buffer'), or None when it is one."""
    if atom == MISSING:
        return f"{bp.nodes[node].kind} has no attribute `{atom}`"
    slot = slot_named(bp, node, atom)
    kind = slot.kind if slot else "other"
    if wanted == "module" and kind == "child" and slot.ref is not None:
        return None
    if wanted == "parameter" and kind == "param" and slot.ref is not None:
        return None
    if wanted == "buffer" and kind == "buffer":
        return None  # a buffer registered as None reads back as None
    return f"`{atom}` is not " + NOT_A[wanted]


@invariant("access.get_submodule")
@given(data=st.data())
def test_get_submodule_errors(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    path, node, atom = _draw_target(data, h)
    deeper = data.draw(st.booleans(), label="one more atom")
    target = _live(h, model.join(path, atom) + (f".{MISSING}" if deeper else ""))
    error = _lookup_error(h.blueprint, node, atom, "module")
    if error is None:
        child = slot_named(h.blueprint, node, atom).ref
        if not deeper:
            found = expect_no_error(h, "root.get_submodule(target)", target=target)
            expect_equal(h.label(found), f"n{child}", h)
            return
        error = _lookup_error(h.blueprint, child, MISSING, "module")
    expect_error(h, "root.get_submodule(target)", (AttributeError, error), target=target)


@invariant("access.get_parameter_get_buffer")
@pytest.mark.parametrize("getter", ["get_parameter", "get_buffer"])
@given(data=st.data())
def test_get_parameter_get_buffer_errors(data, backend, getter):
    h = draw_graph(data, backend, GRAPHS)
    path, node, atom = _draw_target(data, h)
    target = _live(h, model.join(path, atom))
    if getter == "get_parameter":  # the empty path names the module itself, never a parameter
        expect_error(h, "root.get_parameter('')", (AttributeError, ""))
    error = _lookup_error(h.blueprint, node, atom, getter[4:])
    if error is None:
        ref = slot_named(h.blueprint, node, atom).ref
        found = expect_no_error(h, f"root.{getter}(target)", target=target)
        expect_equal(None if found is None else h.label(found), None if ref is None else f"t{ref}", h,
                     problem="should return the registered object itself")
        return
    expect_error(h, f"root.{getter}(target)", (AttributeError, error), target=target)


@invariant("access.get_parameter_get_buffer")
def test_get_buffer_of_none_buffer(backend):
    """Generated graphs seldom hold a buffer registered as None, so this one is fixed."""
    h = script("root = nn.Module()\nroot.register_buffer('b', None)", backend=backend)
    expect_equal(expect_no_error(h, "root.get_buffer(target)", target=h.names.live("b")), None, h)


@invariant("access.set_submodule")
@pytest.mark.parametrize("strict", [False, True], ids=["strict=False", "strict=True"])
@needs("register")
@given(data=st.data())
def test_set_submodule(data, backend, strict):
    h = draw_graph(data, backend, GRAPHS)
    path, node, atom = _draw_target(data, h, parent_missing=True)
    target, before, bp2 = _live(h, model.join(path, atom)), Frozen(h), grown(h.blueprint)
    step = f"root.set_submodule(target, nn.Module(), strict={strict})"
    if atom == f"{MISSING}.sub":  # only the type is pinned for a missing parent
        error = ""
    elif strict and atom == MISSING:
        error = _lookup_error(h.blueprint, node, MISSING, "module")
    else:
        error = None if atom == MISSING else _lookup_error(h.blueprint, node, atom, "module")
    if error is not None:
        expect_error(h, step, (AttributeError, error), target=target)
    else:
        result = expect_no_error(h, step, target=target)
        expect_equal(result, None, h)
        bp2 = edit(bp2, node, atom, "child", 0)
    expect_view(h, before, bp2, "set_submodule should replace or (strict=False) create exactly that submodule")


VALUE_TYPES = {"int": int, "Tensor": torch.Tensor, "None": type(None)}  # the types of VALUES[...].source


@invariant("access.set_submodule")
@needs("register")
@given(data=st.data())
def test_set_submodule_value_errors(data, backend):
    h = draw_graph(data, backend, SMALL)
    path, _ = data.draw(st.sampled_from(model.named_modules(h.blueprint, remove_duplicate=False)), label="module path")
    value = data.draw(st.sampled_from(["Module", "int", "Tensor", "None"]), label="value")
    assume(path == "" or value != "Module")
    before = Frozen(h)
    message = ("Cannot set the submodule without a target name!" if path == ""
               else f"`module` is not an nn.Module, found {VALUE_TYPES[value]}")
    expect_error(h, f"root.set_submodule(target, {VALUES[value].source})", (ValueError, message),
                 target=_live(h, path))
    expect_view(h, before, grown(h.blueprint), "a rejected set_submodule changed the graph")


# -- extra_repr default ----------------------------------------------------------------------
@invariant("attr.extra_repr_default")
@given(data=st.data())
def test_extra_repr_default_is_empty(data, backend):
    # Module-like kinds: their classes do not re-implement extra_repr (REPR_KINDS, ModuleList).
    h = draw_graph(data, backend, blueprints(kinds=REPR_KINDS + ("ModuleList",), max_nodes=4, max_slots=3))
    nodes = sorted(h.paths)
    actual = h.run(f"[m.extra_repr() for m in [{', '.join(h.node_ref(i) for i in nodes)}]]")
    expect_equal(actual, [""] * len(nodes), h)
