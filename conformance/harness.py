"""What every conformance test file imports: one way to draw a graph, one way to declare what it
needs from the backend.

Tests draw with ``h = draw_graph(data, backend, ...)`` and observe only through ``h`` (see
``conformance.handle``): ``h.run(step)`` for every call on the object under test, ``h.node(i)`` /
``h.tensor(i)`` / ``h.label(obj)`` for lookups through it.
"""
from __future__ import annotations

import pytest
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.control import current_build_context

from conformance.backends import CAPABILITIES
from conformance.handle import Handle
from strategies import blueprints
from strategies.graphs import resized

DRAWN: list = [None]  # the blueprint drawn last in this process (conditional deviations read it)
# The blueprint drawn last in each of Hypothesis's final replays of this test (one replay per
# distinct failure it reports), keyed by replay: a deviations line conditional on the graph must
# hold for every one of them.
FINAL: dict = {}
# Set by the plugin under the soak profile: the graph sizes every blueprint strategy is resized to.
SOAK: list = [()]


def draw_graph(data, backend, graphs=None, *, device: str | None = None, uses=(), forward: bool = False,
               admits=None, **kwargs) -> Handle:
    """Draw a blueprint (from ``graphs``, else ``blueprints(**kwargs)``) and build it through
    ``backend`` on ``device`` (``None``/``'cpu'``: default placement). ``uses``: devices the test
    moves it to later, whose set-up the reproducer needs; ``forward``: render a generated forward;
    ``admits``: a predicate that replaces ``backend.admits`` (tests of the wrapper itself)."""
    reason = backend.refuses(None if device in (None, "cpu") else device)
    if reason:
        pytest.skip(f"backend {backend.name} refuses a module built on {device}: {reason}")
    strategy = backend.graphs(graphs if graphs is not None else blueprints(**kwargs))
    if SOAK[0]:
        nodes = data.draw(st.sampled_from(SOAK[0]), label="soak graph nodes")
        strategy = resized(strategy, nodes) or strategy  # a strategy of another shape keeps its size
    bp = data.draw(strategy, label="blueprint")
    DRAWN[0] = bp
    if (context := current_build_context()).is_final:
        FINAL[id(context)] = bp
    assume((admits or backend.admits)(bp))
    return backend.build(bp, device=None if device in (None, "cpu") else device, uses=uses, forward=forward)


def needs(*capabilities: str):
    """Mark a test as needing backend capabilities (``conformance.backends.CAPABILITIES``); on a
    backend that lacks one it skips with the backend's reason."""
    unknown = [c for c in capabilities if c not in CAPABILITIES]
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}")
    return pytest.mark.needs(*capabilities)
