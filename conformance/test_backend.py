"""The object a backend puts under test, seen from outside: its names, and calling it.

``test_names_unprefixed`` reads names *without* the backend's declared name map: a wrapper that
prefixes every name fails it once, here, while every other test runs modulo the map.
"""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance import build as builder
from conformance import model
from conformance.backends import BUILTIN
from conformance.check import expect_equal, expect_no_error, expect_true
from conformance.harness import draw_graph, needs
from conformance.model_hooks import root_accepts
from conformance.registry import invariant
from strategies import blueprints
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec

EAGER = BUILTIN["eager"]


@invariant("backend.names.unprefixed")
@given(data=st.data())
def test_names_unprefixed(data, backend):
    h = draw_graph(data, backend)
    bp = h.blueprint
    actual = h.run("([n for n, _ in root.named_modules()], [n for n, _ in root.named_parameters()], "
                   "[n for n, _ in root.named_buffers()], list(root.state_dict()))")
    expected = ([n for n, _ in model.named_modules(bp)], [n for n, _ in model.named_members(bp, "param")],
                [n for n, _ in model.named_members(bp, "buffer")], model.state_dict_keys(bp))
    expect_equal(actual, expected, h, problem="qualified names differ from the wrapped module's (no name map applied)")


@invariant("backend.forward.runs")
@needs("forward")
@given(data=st.data())
def test_forward_matches_eager(data, backend):
    if not backend.wrap:
        pytest.skip(f"backend {backend.name} has no wrap step: the eager module itself is under test")
    h = draw_graph(data, backend, blueprints().filter(root_accepts), forward=True)
    eager = builder.run(h.blueprint, forward=True)["root"]
    with torch.random.fork_rng(devices=[]):
        expected = eager(torch.zeros(1))
    actual = h.run("root(torch.zeros(1))")
    expect_true(torch.equal(actual, expected), h, actual=actual, expected=expected,
                problem="calling the object under test differs from calling the eager module")


def _root_buffer_layouts():
    """One-node roots whose buffers are each None or a tensor, in a drawn order: the layouts the
    generic graphs reach rarely (two None buffers ahead of a tensor buffer: about 1 draw in 300)."""
    def layout(kinds):
        tensors = tuple(TensorSpec(shape=(), dtype="float32", seed=i) for i, k in enumerate(kinds) if k)
        refs = iter(range(len(tensors)))
        slots = tuple(Slot(kind="buffer", name=f"b{i}", ref=next(refs) if k else None) for i, k in enumerate(kinds))
        return Blueprint(nodes=(Node(kind="Module", slots=slots),), tensors=tensors)

    return st.lists(st.booleans(), min_size=1, max_size=5).map(layout)


@invariant("backend.wrap.accepts")
@given(data=st.data())
def test_wrap_accepts_callable_graphs(data, backend):
    """The wrap step succeeds on every graph the eager root can be called on that meets the
    wrapper's documented preconditions, past what ``Backend.admits`` discards for the other tests:
    a wrapper that crashes on a graph fails here, once, with the graph. The graph is built eagerly
    and the backend's own set-up and wrap step are the call under test."""
    if not backend.wrap:
        pytest.skip(f"backend {backend.name} has no wrap step: the eager module itself is under test")
    graphs = st.one_of(blueprints().filter(root_accepts), _root_buffer_layouts())
    h = draw_graph(data, EAGER, graphs, forward=True, admits=backend.preconditions)
    expect_no_error(h, backend.prelude + backend.wrap)
