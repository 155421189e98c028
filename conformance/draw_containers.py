"""Drawing and labelling helpers shared by the container tests and the container machines."""
from __future__ import annotations

from collections import OrderedDict

from hypothesis import assume
from hypothesis import strategies as st
from torch import nn

from conformance import model_containers as mc
from conformance.check import expect_equal
from strategies import blueprints

LEAVES = ("Linear",)  # one cheap leaf keeps drawing fast; traversal tests cover the others
DICT_KEYS = ("b", "a", "z", "c", "k0")
MODULE_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def draw_container(data, backend, kind, min_len=0, max_nodes=4):
    """A built graph holding a ``kind`` node with at least ``min_len`` entries, and its index."""
    holders = () if kind in MODULE_CONTAINERS else ("Module",)

    def fits(bp):
        return [j for j, n in enumerate(bp.nodes) if n.kind == kind and len(n.slots) >= min_len]

    g = backend.build(
        data.draw(blueprints(kinds=(kind, *holders, *LEAVES), max_nodes=max_nodes).filter(fits), label="blueprint")
    )
    return g, data.draw(st.sampled_from(fits(g.blueprint)), label="container")


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


def obj(g, label):
    """The live object of a label (``None`` stays ``None``)."""
    if label is None:
        return None
    return g.node(int(label[1:])) if label[0] == "n" else g.tensor(int(label[1:]))


def lab(g, o):
    return None if o is None else g.label(o)


def code(labels) -> str:
    """Python source of a list of labels: ``[n1, None, n2]``."""
    return "[" + ", ".join("None" if x is None else x for x in labels) + "]"


def with_imports(call: str) -> str:
    """The reproducer header imports OrderedDict only for dict containers: import it when used."""
    return ("from collections import OrderedDict\n" if "OrderedDict(" in call else "") + call


def items(pairs):
    return [v for _, v in pairs]


def draw_label(data, pool, what="module"):
    assume(pool)
    return data.draw(st.sampled_from(pool), label=what)


def draw_labels(data, pool, what="modules", max_size=3):
    return data.draw(st.lists(st.sampled_from(pool), max_size=max_size) if pool else st.just([]), label=what)


def expect_list(g, c, pairs, *, call, keys=True):
    """A list-like module container holds ``pairs``: its items in order, and its keys."""
    expect_equal([lab(g, m) for m in c], items(pairs), call=f"{call}\nprint(list(c))", graph=g)
    expect_equal(len(c), len(pairs), call=f"{call}\nprint(len(c))", graph=g)
    if keys:
        expect_equal(list(c._modules), [k for k, _ in pairs], call=f"{call}\nprint(list(c._modules))", graph=g)


SLICES = st.builds(
    slice, st.none() | st.integers(-4, 4), st.none() | st.integers(-4, 4), st.none() | st.integers(-3, 3).filter(bool)
)


def mapping(kind, pairs, g, container=nn.ModuleDict):
    """A source mapping of ``kind`` holding ``pairs`` (labels), and its source text."""
    live = [(k, obj(g, v)) for k, v in pairs]
    text = "[" + ", ".join(f"({k!r}, {v})" for k, v in pairs) + "]"
    if kind == "dict":
        return dict(live), "{" + ", ".join(f"{k!r}: {v}" for k, v in pairs) + "}"
    if kind == "pairs":
        return live, text
    if kind == "OrderedDict":
        return OrderedDict(live), f"OrderedDict({text})"
    return container(live), f"nn.{container.__name__}({text})"


def expect_members(g, c, kind, pairs, *, call, state_dict=True):
    """Container ``c`` (of ``kind``, holding ``pairs``) names its parameters, and its state_dict
    keys, as the container model says."""
    expect_equal(g.labelled(c.named_parameters()), mc.named_parameters(g.blueprint, kind, pairs),
                 call=f"{call}\nprint([n for n, _ in c.named_parameters()])", graph=g)
    if state_dict:
        expect_equal(list(c.state_dict()), mc.state_dict_keys(g.blueprint, kind, pairs),
                     call=f"{call}\nprint(list(c.state_dict()))", graph=g)
