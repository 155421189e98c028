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
from conformance.check import expect_equal, expect_true
from conformance.harness import draw_graph, needs
from conformance.model_hooks import root_accepts
from conformance.registry import invariant
from strategies import blueprints


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
