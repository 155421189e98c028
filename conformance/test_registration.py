"""Registration: ``register_buffer``, ``register_parameter``, ``add_module``/``register_module``
and assignment before ``Module.__init__`` (spec section 7, ``reg.*``).

Each property draws a graph, a node of it, a name (one the node already uses, a fresh one, or a
rejected one: malformed, or used by something else) and a value, then checks the outcome against
a small pure model of the checks torch pins, in the order they run, and that the whole graph
afterwards matches the reference model of the edited blueprint.

The blueprint edits and graph views it shares with ``test_attributes.py`` live in ``edits.py``.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance.check import expect_error, expect_no_error, expect_true
from conformance.edits import (
    FRESH_NAMES,
    VALUES,
    Frozen,
    draw_node,
    edit,
    existing_kind,
    expect_view,
    grown,
    new_ref,
)
from conformance.handle import script
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import blueprints

GRAPHS = blueprints()

# -- the pure model of register_buffer / register_parameter / add_module ---------------------
WHAT = {"register_buffer": "buffer", "register_parameter": "parameter",
        "add_module": "module", "register_module": "module"}
KIND = {"buffer": "buffer", "parameter": "param", "module": "child"}
ACCEPTED = {"buffer": ("Tensor", "Parameter", "None"), "parameter": ("Parameter", "None"), "module": ("Module", "None")}


def register_error(method: str, name, existing: str | None, value: str):
    """``(exception type, message)`` the call must raise, or None, checking in torch's order:
    for modules the value first, then the name; for tensors the name, then the value."""
    what, typename = WHAT[method], VALUES[value].typename
    if what == "module" and value not in ACCEPTED[what]:
        return TypeError, f"{typename} is not a Module subclass"
    if not isinstance(name, str):
        return TypeError, f"{what} name should be a string. Got {type(name).__name__}"
    dotted = f'module name can\'t contain ".", got: {name}' if what == "module" else f'{what} name can\'t contain "."'
    name_checks = [
        ("." in name, (KeyError, dotted)),
        (name == "", (KeyError, f'{what} name can\'t be empty string ""')),
        (existing not in (None, KIND[what]), (KeyError, f"attribute '{name}' already exists")),
    ]
    if what == "module":  # add_module looks for a clash before it looks at the name's form
        name_checks = name_checks[2:] + name_checks[:2]
    for failed, error in name_checks:
        if failed:
            return error
    if value not in ACCEPTED[what]:
        wanted = "torch Tensor or None" if what == "buffer" else "torch.nn.Parameter or None"
        return TypeError, f"cannot assign '{typename}' object to {what} '{name}' ({wanted} required)"
    return None


REGISTER_VALUES = ("Tensor", "Parameter", "Module", "None", "list")
REJECTED_NAMES = {"dotted": ("a.b",), "empty": ("",), "not a str": (5,), "torch": ("training", "forward")}


def _register(h, node: int, method: str, name, value: str, persistent: bool):
    """Call ``method`` and check its outcome against ``register_error`` and the edited model."""
    bp, before = h.blueprint, Frozen(h)
    flag = f", persistent={persistent}" if method == "register_buffer" else ""
    target = h.node_ref(node)
    step = f"value = {VALUES[value].source}\n{target}.{method}(name, value{flag})"
    bp2, error = grown(bp), register_error(method, name, existing_kind(bp, node, name), value)
    if error is not None:
        expect_error(h, step, error, name=name)
        expect_view(h, before, bp2, "a failed registration changed the graph")
        return
    result, kind = expect_no_error(h, step, name=name), KIND[WHAT[method]]
    stored, obj = expect_no_error(h, f"getattr({target}, name)"), h.namespace["value"]
    expect_true(result is None and stored is obj, h, actual=(result, type(stored).__name__),
                expected=(None, type(obj).__name__),
                problem="the registered object should be readable as an attribute under its name")
    expect_view(h, before, edit(bp2, node, name, kind, new_ref(bp2, kind, value), persistent),
                "the graph after registration differs from the model (same name keeps its slot, a new name goes last)")


def _draw_value(data, method: str) -> str:
    fits = data.draw(st.booleans(), label="value of an accepted type")
    accepted = ACCEPTED[WHAT[method]]
    return data.draw(st.sampled_from([v for v in REGISTER_VALUES if (v in accepted) == fits]), label="value")


def _methods():
    ids = {"register_buffer": "reg.buffer_errors", "register_parameter": "reg.parameter_errors",
           "add_module": "reg.add_module_errors", "register_module": "reg.add_module_errors"}
    return pytest.mark.parametrize("method", [pytest.param(m, marks=invariant(i), id=m) for m, i in ids.items()])


@_methods()
@needs("register")
@given(data=st.data())
def test_register(data, backend, method):
    """A name of the same kind (replaced in its slot) or a fresh one (added last), any value."""
    h = draw_graph(data, backend, GRAPHS)
    bp, kind = h.blueprint, KIND[WHAT[method]]
    same = [(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots if s.kind == kind]
    if data.draw(st.booleans(), label="a name of the same kind"):
        assume(same)
        node, name = data.draw(st.sampled_from(same), label="node and name")
    else:
        node, name = draw_node(data, h), data.draw(st.sampled_from(FRESH_NAMES), label="name")
    value = _draw_value(data, method)
    persistent = data.draw(st.booleans(), label="persistent") if method == "register_buffer" else True
    _register(h, node, method, name, value, persistent)


@_methods()
@needs("register")
@given(data=st.data())
def test_register_rejected_names(data, backend, method):
    """Names in use by something else, or malformed, with any value: which check fails first."""
    h = draw_graph(data, backend, GRAPHS)
    bp, kind = h.blueprint, KIND[WHAT[method]]
    clashes = [(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots if s.kind != kind]
    group = data.draw(st.sampled_from(list(REJECTED_NAMES) + (["clash"] if clashes else [])), label="name group")
    if group == "clash":
        node, name = data.draw(st.sampled_from(clashes), label="node and name")
    else:
        node, name = draw_node(data, h), data.draw(st.sampled_from(REJECTED_NAMES[group]), label="name")
    _register(h, node, method, name, _draw_value(data, method), True)


# -- before Module.__init__ ------------------------------------------------------------------
BEFORE_INIT = [  # (id, statement run before super().__init__(), pinned AttributeError message; None: allowed)
    ("parameter", "self.p = nn.Parameter(torch.ones(2))", "cannot assign parameters before Module.__init__() call"),
    ("module", "self.c = nn.Module()", "cannot assign module before Module.__init__() call"),
    ("register_buffer", "self.register_buffer('b', torch.ones(2))",
     "cannot assign buffer before Module.__init__() call"),
    ("Buffer", "self.b = nn.Buffer(torch.ones(2))", "cannot assign buffer before Module.__init__() call"),
    ("register_parameter", "self.register_parameter('p', None)",
     "cannot assign parameter before Module.__init__() call"),
    ("add_module", "self.add_module('c', nn.Module())", ""),  # the docs ask for __init__ first; only the type is pinned
    ("plain_tensor", "self.t = torch.ones(2)", None),
]


def _early_class(statement: str) -> str:
    return f"class Early(nn.Module):\n    def __init__(self):\n        {statement}\n        super().__init__()\n"


@invariant("reg.before_init")
@pytest.mark.parametrize(("statement", "message"), [c[1:] for c in BEFORE_INIT], ids=[c[0] for c in BEFORE_INIT])
def test_assignment_before_init(statement, message):
    # Stays a fixed example of eager torch: it is about constructing the module, before a wrap could exist.
    h = script(_early_class(statement))  # our own table
    if message is None:  # a plain attribute needs no registry and survives __init__
        h.run("root = Early()")
        attr, own, buffers = h.run("root.t, vars(root).get('t'), list(root.named_buffers())")
        expect_true(isinstance(attr, torch.Tensor) and own is attr and not buffers, h,
                    actual=(type(attr).__name__, type(own).__name__, buffers),
                    expected="'t' kept as a plain attribute: (Tensor, the same Tensor in vars, no buffers)")
        return
    expect_error(h, "root = Early()", (AttributeError, message))


@invariant("reg.before_init")
@pytest.mark.parametrize("call", ["nn.Module(1)", "nn.Module(a=1)"], ids=["positional", "keyword"])
def test_module_init_takes_no_arguments(call):
    # Stays a fixed example of eager torch: it is about constructing the module, before a wrap could exist.
    expect_error(script(""), f"root = {call}", (TypeError, ""))
