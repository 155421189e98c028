"""Blueprint edits and graph views shared by the registration and attribute tests.

An edit changes one slot of a blueprint the way an assignment or registration should change
the live graph: a slot keeps its place when its kind stays, else it moves to the end. A view is
the graph as the traversal APIs show it, computed from the model (``model_view``) or read from
the object under test by steps of the handle (``expect_view``), with the one object a test adds
labelled ``NEW``.

The objects a test adds are built inside its steps (``VALUES[...].source``), so the reproducer
shows them; labels are frozen before the first step (``Frozen``), since a test that replaces a
member would otherwise see the new object labelled by the path the old one had.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import strategies as st

from conformance import model
from conformance.check import expect_equal
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec

NEW = "new"  # label of the one object a test adds to the graph
FRESH_NAMES = ("fresh", "x-y", "a b")  # unused names; registration accepts any non-dotted string


@dataclass(frozen=True)
class Value:
    source: str  # Python source that makes it, run inside the test's step
    typename: str  # torch.typename(value), as error messages quote it


VALUES = {
    "Parameter": Value("nn.Parameter(torch.ones(2))", "torch.FloatTensor"),
    "Tensor": Value("torch.ones(2)", "torch.FloatTensor"),
    "Buffer": Value("nn.Buffer(torch.ones(2))", "torch.FloatTensor"),
    "Buffer(persistent=False)": Value("nn.Buffer(torch.ones(2), persistent=False)", "torch.FloatTensor"),
    "Module": Value("nn.Module()", "torch.nn.modules.module.Module"),
    "None": Value("None", "NoneType"),
    "int": Value("3", "int"),
    "list": Value("[1]", "list"),
}


# -- drawing ---------------------------------------------------------------------------------
def draw_node(data, h) -> int:
    return data.draw(st.sampled_from(h.blueprint.reachable()), label="node")


def slot_named(bp: Blueprint, node: int, name) -> Slot | None:
    return next((s for s in bp.nodes[node].slots if s.name == name), None)


def existing_kind(bp: Blueprint, node: int, name) -> str | None:
    """What ``name`` is on the node before the call: a slot kind, 'plain' ('training'), 'class'
    ('forward' and other names defined on the class) or None (unused)."""
    slot = slot_named(bp, node, name)
    if slot is not None:
        return slot.kind
    return {"training": "plain", "forward": "class"}.get(name)


# -- the edited blueprint: what the graph must look like afterwards --------------------------
def grown(bp: Blueprint) -> Blueprint:
    """``bp`` plus the objects a test may add: an empty module as node 0 (every other node moves
    up by one) and a tensor at the end. Both stay unreachable until an edit places them."""

    def shift(s: Slot) -> Slot:
        return replace(s, ref=s.ref + 1) if s.kind == "child" and s.ref is not None else s

    nodes = (Node("Module"),) + tuple(replace(n, slots=tuple(map(shift, n.slots))) for n in bp.nodes)
    return Blueprint(nodes, bp.tensors + (TensorSpec((2,), "float32"),))


def new_ref(bp2: Blueprint, kind: str, value: str) -> int | None:
    """The index in ``grown`` blueprint ``bp2`` of the object ``value`` names."""
    if value == "None" or kind == "plain":
        return None
    return 0 if kind == "child" else len(bp2.tensors) - 1


def edit(bp2: Blueprint, node: int, name: str, kind: str | None, ref=None, persistent=True) -> Blueprint:
    """``name`` of ``node`` (an index of the original blueprint) now holds ``ref`` as ``kind``;
    ``kind=None`` deletes it. The same kind keeps the slot's place, another kind moves it last."""
    i = node + 1  # node 0 of bp2 is the new module
    slots = list(bp2.nodes[i].slots)
    old = next((j for j, s in enumerate(slots) if s.name == name), None)
    new = Slot(kind, name, ref, persistent) if kind else None
    if old is not None and new is not None and slots[old].kind == kind:
        slots[old] = new
    else:
        if old is not None:
            del slots[old]
        if new is not None:
            slots.append(new)
    nodes = list(bp2.nodes)
    nodes[i] = replace(nodes[i], slots=tuple(slots))
    return Blueprint(tuple(nodes), bp2.tensors)


# -- views: the graph as the traversal APIs show it, from the model and from the live object -
VIEW_STEPS = {
    "named_modules": "list(root.named_modules(remove_duplicate=False))",
    "named_parameters": "list(root.named_parameters(remove_duplicate=False))",
    "named_buffers": "list(root.named_buffers(remove_duplicate=False))",
    "state_dict": "list(root.state_dict())",
}


def model_view(bp2: Blueprint) -> dict:
    last = len(bp2.tensors) - 1

    def module(i):
        return NEW if i == 0 else f"n{i - 1}"

    def tensor(t):
        return NEW if t == last else f"t{t}"

    return {
        "named_modules": [(n, module(i)) for n, i in model.named_modules(bp2, remove_duplicate=False)],
        "named_parameters": [(n, tensor(t)) for n, t in model.named_members(bp2, "param", remove_duplicate=False)],
        "named_buffers": [(n, tensor(t)) for n, t in model.named_members(bp2, "buffer", remove_duplicate=False)],
        "state_dict": model.state_dict_keys(bp2),
    }


class Frozen:
    """The handle's labels as they stand now (take it before the first step), for views after
    steps that add, replace or remove members. ``h.label`` looks objects up by the first model
    path, so after ``m.a = nn.Module()`` it would call the new module by the old one's label and
    the old one, still held at another path, unlabelled; here every object of the blueprint
    keeps its label and anything else is ``NEW``. The objects are kept alive, so their ids stay
    theirs."""

    def __init__(self, h):
        self.h = h
        self.labels = dict(h.labels())
        self.alive = []
        for i in h.paths:
            try:
                self.alive.append(h.node(i))
            except AttributeError:
                pass
        for t in h.tensor_paths:
            try:
                self.alive.append(h.tensor(t))
            except AttributeError:
                pass

    def label(self, obj) -> str:
        return self.labels.get(id(obj), NEW)

    def labelled(self, pairs) -> list[tuple[str, str]]:
        """As ``h.labelled``: model names through the name map, the wrapper's own dropped."""
        out = []
        for name, obj in pairs:
            mapped = self.h.names.model(name)
            if mapped is not None:
                out.append((mapped, self.label(obj)))
        return out


def expect_view(h, before: Frozen, bp2: Blueprint, problem: str):
    """Each traversal view of the live graph, one step each, equals the model's of ``bp2``."""
    __tracebackhide__ = True
    expected = model_view(bp2)
    for key, step in VIEW_STEPS.items():
        got = h.run(step)
        actual = h.unmapped(got) if key == "state_dict" else before.labelled(got)
        expect_equal(actual, expected[key], h, problem=problem)
