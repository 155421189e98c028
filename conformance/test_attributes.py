"""Attributes and access: assignment and deletion of names (the ``setattr`` matrix), ``dir``,
``repr``, ``get_submodule``/``get_parameter``/``get_buffer`` and ``set_submodule`` (spec section 7,
``attr.*`` and ``access.*``).

Targets are drawn from generated graphs: a node, then one of its own names, a name torch itself
uses (``training``, ``forward``) or a missing one. Expected outcomes come from small pure models
below; the graph afterwards must match the reference model of the edited blueprint
(``conformance.test_registration`` holds the edits and the views).
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn

from conformance import model
from conformance.check import expect_equal, expect_error, expect_no_error, expect_true
from conformance.edits import (
    VALUES,
    attempt,
    draw_graph,
    draw_node,
    edit,
    expect_view,
    grown,
    make,
    new_ref,
    slot_named,
)
from conformance.registry import invariant
from strategies.blueprint import Blueprint, Slot

REGISTRIES = {"param": "_parameters", "buffer": "_buffers", "child": "_modules", "plain": "__dict__"}
MISSING = "nope"
SMALL = {"max_nodes": 3}  # for properties of one node, where a larger graph adds only drawing time


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


def registry_state(module: nn.Module, name: str) -> tuple[list[str], bool]:
    """Which registries hold ``name`` and whether it is marked non-persistent."""
    where = [r for r in REGISTRIES.values() if name in getattr(module, r)]
    return where, name in module._non_persistent_buffers_set


TARGETS = ("param", "buffer", "child", "plain", "new")  # what the assigned name held before


@invariant("attr.setattr_matrix")
@pytest.mark.parametrize("held", TARGETS)
@given(data=st.data())
def test_setattr_matrix(data, backend, held):
    """Any value onto a name holding ``held``: the error or the registry the model gives, and
    the whole graph afterwards as the model edits it."""
    g = draw_graph(data, backend)
    bp = g.blueprint
    if held == "new":
        node, name = draw_node(data, g), "fresh"
    else:
        names = [(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots if s.kind == held]
        names += [(i, "training") for i in bp.reachable()] if held == "plain" else []
        assume(names)
        node, name = data.draw(st.sampled_from(names), label="node and name")
    value = data.draw(st.sampled_from(list(VALUES)), label="value")
    old = slot_named(bp, node, name) or (Slot("plain", name, None) if name == "training" else None)
    target, obj, bp2 = g.node(node), make(value), grown(bp)
    action = f"setattr(n{node}, {name!r}, {VALUES[value].source})"
    outcome = setattr_outcome(name, old, value)
    if not isinstance(outcome[0], str):
        expect_error(outcome, lambda: setattr(target, name, obj), call=action, graph=g)
        kind, persistent = old.kind, old.persistent
    else:
        expect_no_error(lambda: setattr(target, name, obj), call=action, graph=g)
        kind, persistent = outcome
        stored = expect_no_error(lambda: getattr(target, name), call=f"{action}\nprint(getattr(n{node}, {name!r}))", graph=g)
        same = type(stored) is torch.Tensor if value.startswith("Buffer") else stored is obj
        expect_true(same, call=f"{action}\nprint(getattr(n{node}, {name!r}))", actual=type(stored).__name__,
                    expected="the assigned object (for nn.Buffer: a plain torch.Tensor)", graph=g)
        bp2 = edit(bp2, node, name, kind, new_ref(bp2, kind, value), persistent)
    show = f"print([r for r in {list(REGISTRIES.values())} if {name!r} in getattr(n{node}, r)], " \
           f"{name!r} in n{node}._non_persistent_buffers_set)"
    expect_equal(registry_state(target, name), ([REGISTRIES[kind]], kind == "buffer" and not persistent),
                 call=attempt(action) + show, graph=g, problem="the name ended in the wrong registry")
    expect_view(g, bp2, action, "after the assignment the graph differs from the model")


@invariant("attr.parameter_replaces_plain_attr_even_training")
@given(data=st.data())
def test_parameter_replaces_training_flag(data, backend):
    g = draw_graph(data, backend, **SMALL)
    node = draw_node(data, g)
    target, p = g.node(node), nn.Parameter(torch.ones(2))
    action = f"n{node}.training = nn.Parameter(torch.ones(2))"
    expect_no_error(lambda: setattr(target, "training", p), call=action, graph=g)
    expect_equal((registry_state(target, "training"), target.training is p), ((["_parameters"], False), True),
                 call=f"{action}\nprint('training' in vars(n{node}), n{node}._parameters['training'])", graph=g,
                 problem="a Parameter should replace the plain attribute 'training'")
    expect_error((TypeError, "cannot assign 'bool' as parameter 'training' (torch.nn.Parameter or None expected)"),
                 lambda: target.eval(), call=f"{action}\nn{node}.eval()", graph=g)


@invariant("attr.plain_tensor_and_Buffer")
@given(data=st.data())
def test_plain_tensor_vs_buffer(data, backend):
    g = draw_graph(data, backend, **SMALL)
    node = draw_node(data, g)
    value = data.draw(st.sampled_from(["Tensor", "Buffer", "Buffer(persistent=False)"]), label="value")
    target, obj, bp2 = g.node(node), make(value), grown(g.blueprint)
    action = f"n{node}.fresh = {VALUES[value].source}"
    expect_no_error(lambda: setattr(target, "fresh", obj), call=action, graph=g)
    if value == "Tensor":
        expect_true(vars(target).get("fresh") is obj, call=f"{action}\nprint(vars(n{node})['fresh'])",
                    actual=sorted(vars(target)), expected="'fresh' in __dict__", graph=g)
    else:
        bp2 = edit(bp2, node, "fresh", "buffer", new_ref(bp2, "buffer", value), value == "Buffer")
        expect_true(type(target.fresh) is torch.Tensor, call=f"{action}\nprint(type(n{node}.fresh))",
                    actual=type(target.fresh), expected=torch.Tensor, graph=g)
    expect_view(g, bp2, action, "a plain tensor is not registered; an nn.Buffer is, with its persistence")


# -- reassignment, deletion, missing names ---------------------------------------------------
SAME_KIND = {"param": "Parameter", "buffer": "Buffer", "child": "Module"}


def _draw_slot(data, g, kinds):
    """A node and one of its slots of ``kinds``, the group drawn first so that each turns up:
    one group per kind, and one more for non-persistent buffers (rare in generated graphs, so
    that group is asked for directly half of the time)."""
    bp, groups = g.blueprint, {}
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
@given(data=st.data())
def test_reassign_keeps_slot_del_moves_last(data, backend):
    g = draw_graph(data, backend)
    node, slot = _draw_slot(data, g, SAME_KIND)
    delete = data.draw(st.booleans(), label="del first")
    value = SAME_KIND[slot.kind]
    action = f"setattr(n{node}, {slot.name!r}, {VALUES[value].source})"
    action = f"delattr(n{node}, {slot.name!r}); {action}" if delete else action
    target, bp2 = g.node(node), grown(g.blueprint)
    if delete:
        expect_no_error(lambda: delattr(target, slot.name), call=action, graph=g)
        bp2 = edit(bp2, node, slot.name, None)
    expect_no_error(lambda: setattr(target, slot.name, make(value)), call=action, graph=g)
    bp2 = edit(bp2, node, slot.name, slot.kind, new_ref(bp2, slot.kind, value), True)
    expect_view(g, bp2, action, "reassignment keeps the slot; del then assignment moves the name last")


@invariant("attr.reassign_order_and_delattr")
@given(data=st.data())
def test_delattr_removes_name(data, backend):
    g = draw_graph(data, backend)
    node, slot = _draw_slot(data, g, REGISTRIES)
    target, action = g.node(node), f"delattr(n{node}, {slot.name!r})"
    expect_no_error(lambda: delattr(target, slot.name), call=action, graph=g)
    expect_equal(registry_state(target, slot.name), ([], False), graph=g,
                 problem="del should leave no trace of the name",
                 call=f"{action}\nprint(vars(n{node}).get({slot.name!r}), n{node}._non_persistent_buffers_set)")
    message = f"'{g.blueprint.nodes[node].kind}' object has no attribute '{slot.name}'"
    expect_error((AttributeError, message), lambda: getattr(target, slot.name), graph=g,
                 call=f"{action}\ngetattr(n{node}, {slot.name!r})")
    expect_view(g, edit(grown(g.blueprint), node, slot.name, None), action, "del should remove exactly that name")


@invariant("attr.reassign_order_and_delattr")
@given(data=st.data())
def test_missing_name_attribute_error(data, backend):
    g = draw_graph(data, backend, **SMALL)
    node = draw_node(data, g)
    target, message = g.node(node), f"'{g.blueprint.nodes[node].kind}' object has no attribute '{MISSING}'"
    expect_error((AttributeError, message), lambda: getattr(target, MISSING), call=f"n{node}.{MISSING}", graph=g)
    expect_error((AttributeError, message), lambda: delattr(target, MISSING), call=f"del n{node}.{MISSING}", graph=g)


# -- class attribute names -------------------------------------------------------------------
CLASS_NAMES = ("forward", "eval", "dump_patches", "call_super_init", "T_destination")
CLASS_NAME_CALLS = {
    "setattr": "setattr({m}, {name!r}, nn.Parameter(torch.ones(2)))",
    "register_parameter": "{m}.register_parameter({name!r}, nn.Parameter(torch.ones(2)))",
}


@invariant("attr.class_attr_names_rejected")
@given(data=st.data())
def test_class_attribute_names_rejected(data, backend):
    g = draw_graph(data, backend, **SMALL)
    node = draw_node(data, g)
    name = data.draw(st.sampled_from(CLASS_NAMES), label="name")
    how = data.draw(st.sampled_from(["setattr", "register_parameter"]), label="how")
    target, p = g.node(node), nn.Parameter(torch.ones(2))
    action = CLASS_NAME_CALLS[how].format(m=f"n{node}", name=name)
    call = (lambda: setattr(target, name, p)) if how == "setattr" else (lambda: target.register_parameter(name, p))
    expect_error((KeyError, f"attribute '{name}' already exists"), call, call=action, graph=g)
    expect_view(g, grown(g.blueprint), action, "a rejected name changed the graph")


CLASS_NAMES_SOURCE = (
    "class WithClassNames(nn.Module):\n    w = 5\n\n    @property\n    def q(self):\n        return 1\n\n"
)


@invariant("attr.class_attr_names_rejected")
@pytest.mark.parametrize("name", ["w", "q"], ids=["class_attribute", "property"])
@pytest.mark.parametrize("how", ["setattr", "register_parameter"])
def test_custom_class_names_rejected(name, how):
    namespace = {"nn": nn}
    exec(CLASS_NAMES_SOURCE, namespace)  # noqa: S102 - a class with a class attribute and a property
    m, p = namespace["WithClassNames"](), nn.Parameter(torch.ones(2))
    call = (lambda: setattr(m, name, p)) if how == "setattr" else (lambda: m.register_parameter(name, p))
    text = CLASS_NAMES_SOURCE + "m = WithClassNames()\n" + CLASS_NAME_CALLS[how].format(m="m", name=name)
    expect_error((KeyError, f"attribute '{name}' already exists"), call, call=text)


# -- dir and repr ----------------------------------------------------------------------------
@invariant("attr.dir")
@given(data=st.data())
def test_dir_lists_member_names(data, backend):
    g = draw_graph(data, backend, **SMALL)
    digits = [i for i in g.blueprint.reachable() if any(s.name[0].isdigit() for s in g.blueprint.nodes[i].slots)]
    if data.draw(st.booleans(), label="a node with names starting with a digit"):
        assume(digits)
        node = data.draw(st.sampled_from(digits), label="node")
    else:
        node = draw_node(data, g)
    listed = dir(g.node(node))
    names = {s.name for s in g.blueprint.nodes[node].slots}
    shown_names = sorted(n for n in names if not n[0].isdigit())
    hidden = sorted(n for n in names if n[0].isdigit())
    # Sorting is the builtin dir()'s own doing, so only membership is Module's to get right.
    expect_equal(([n for n in shown_names if n not in listed], [n for n in hidden if n in listed]), ([], []),
                 call=f"print(dir(n{node}))", graph=g,
                 problem="dir() should list member names and leave out names starting with a digit "
                         "(shown: member names missing, digit names listed)")


REPR_KINDS = ("Module", "Sequential", "ModuleDict", "ExtraState")  # no extra_repr of their own
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
    g = draw_graph(data, backend, kinds=REPR_KINDS, max_nodes=4, max_slots=3)
    extra = data.draw(st.sampled_from(["", "k=1", "line1\nline2"]), label="extra_repr")
    attach = data.draw(st.booleans(), label="root as child 'c'")
    namespace = {"nn": nn}
    exec(WRAPPER, namespace)  # noqa: S102 - a module whose extra_repr returns what the test chose
    wrapper = namespace["R"](extra)
    if attach:
        wrapper.c = g.root
    children = [("c", model_repr(g.blueprint, g.blueprint.root))] if attach else []
    call = WRAPPER + f"r = R({extra!r})\n" + ("r.c = root\n" if attach else "") + "print(repr(r))"
    expect_equal(repr(wrapper), expected_repr("R", extra, children), call=call, graph=g)


# -- get_submodule, get_parameter, get_buffer, set_submodule --------------------------------
def _draw_target(data, g, parent_missing: bool = False):
    """A module path of the graph, its node, and one more atom, the group drawn first: a member
    name of that module by kind (``None`` entries apart), a missing name, a non-module attribute
    torch defines or (``parent_missing``) a name below a missing module."""
    bp = g.blueprint
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
    g = draw_graph(data, backend)
    path, node, atom = _draw_target(data, g)
    deeper = data.draw(st.booleans(), label="one more atom")
    target = model.join(path, atom) + (f".{MISSING}" if deeper else "")
    call = f"root.get_submodule({target!r})"
    error = _lookup_error(g.blueprint, node, atom, "module")
    if error is None:
        child = slot_named(g.blueprint, node, atom).ref
        if not deeper:
            found = expect_no_error(lambda: g.root.get_submodule(target), call=call, graph=g)
            expect_equal(g.label(found), f"n{child}", call=f"print({call})", graph=g)
            return
        error = _lookup_error(g.blueprint, child, MISSING, "module")
    expect_error((AttributeError, error), lambda: g.root.get_submodule(target), call=call, graph=g)


@invariant("access.get_parameter_get_buffer")
@pytest.mark.parametrize("getter", ["get_parameter", "get_buffer"])
@given(data=st.data())
def test_get_parameter_get_buffer_errors(data, backend, getter):
    g = draw_graph(data, backend)
    path, node, atom = _draw_target(data, g)
    target, fn = model.join(path, atom), getattr(g.root, getter)
    call = f"root.{getter}({target!r})"
    if getter == "get_parameter":  # the empty path names the module itself, never a parameter
        expect_error((AttributeError, ""), lambda: fn(""), call="root.get_parameter('')", graph=g)
    error = _lookup_error(g.blueprint, node, atom, getter[4:])
    if error is None:
        ref, found = slot_named(g.blueprint, node, atom).ref, expect_no_error(lambda: fn(target), call=call, graph=g)
        expect_equal(None if found is None else g.label(found), None if ref is None else f"t{ref}",
                     call=f"print({call})", graph=g, problem="should return the registered object itself")
        return
    expect_error((AttributeError, error), lambda: fn(target), call=call, graph=g)


@invariant("access.get_parameter_get_buffer")
def test_get_buffer_of_none_buffer():
    """Generated graphs seldom hold a buffer registered as None, so this one is fixed."""
    m = nn.Module()
    m.register_buffer("b", None)
    call = "m = nn.Module()\nm.register_buffer('b', None)\nprint(m.get_buffer('b'))"
    expect_equal(expect_no_error(lambda: m.get_buffer("b"), call=call), None, call=call)


@invariant("access.set_submodule")
@pytest.mark.parametrize("strict", [False, True], ids=["strict=False", "strict=True"])
@given(data=st.data())
def test_set_submodule(data, backend, strict):
    g = draw_graph(data, backend)
    path, node, atom = _draw_target(data, g, parent_missing=True)
    target, module, bp2 = model.join(path, atom), nn.Module(), grown(g.blueprint)
    action = f"root.set_submodule({target!r}, nn.Module(), strict={strict})"
    if atom == f"{MISSING}.sub":  # only the type is pinned for a missing parent
        error = ""
    elif strict and atom == MISSING:
        error = _lookup_error(g.blueprint, node, MISSING, "module")
    else:
        error = None if atom == MISSING else _lookup_error(g.blueprint, node, atom, "module")
    if error is not None:
        expect_error((AttributeError, error), lambda: g.root.set_submodule(target, module, strict=strict),
                     call=action, graph=g)
    else:
        result = expect_no_error(lambda: g.root.set_submodule(target, module, strict=strict), call=action, graph=g)
        expect_equal(result, None, call=f"print({action})", graph=g)
        bp2 = edit(bp2, node, atom, "child", 0)
    expect_view(g, bp2, action, "set_submodule should replace or (strict=False) create exactly that submodule")


@invariant("access.set_submodule")
@given(data=st.data())
def test_set_submodule_value_errors(data, backend):
    g = draw_graph(data, backend, **SMALL)
    path, _ = data.draw(st.sampled_from(model.named_modules(g.blueprint, remove_duplicate=False)), label="module path")
    value = data.draw(st.sampled_from(["Module", "int", "Tensor", "None"]), label="value")
    obj, action = make(value), f"root.set_submodule({path!r}, {VALUES[value].source})"
    assume(path == "" or value != "Module")
    message = ("Cannot set the submodule without a target name!" if path == ""
               else f"`module` is not an nn.Module, found {type(obj)}")
    expect_error((ValueError, message), lambda: g.root.set_submodule(path, obj), call=action, graph=g)
    expect_view(g, grown(g.blueprint), action, "a rejected set_submodule changed the graph")
