"""The hook rules of the reference model (``conformance.model_hooks`` [H1]-[H3], [S1]-[S2])
against hand-worked examples: each expected value is worked out from the rule's text on a small
graph, not obtained from torch.

The graph: ``root`` (node 2) holds a parameter ``p`` and children ``a`` (node 0, a buffer ``b``)
and ``b`` (node 1), which holds node 0 again as ``c``. ``root(x)`` calls 2, 0, 1, 0; its events
are pre2, pre0, post0, pre1, pre0, post0, post1, post2. The state_dict paths are ``''``, ``a.``,
``b.``, ``b.c.``; the keys ``p``, ``a.b``, ``b.c.b``.
"""
import pytest

from conformance import model_hooks, model_state
from conformance.model_hooks import Hook
from meta_tests.test_model import B, C, Draft, P


def graph():
    d = Draft()
    shared = d.module(B("b", d.tensor()))
    b = d.module(C("c", shared))
    d.module(P("p", d.tensor()), C("a", shared), C("b", b))
    return d.bp


def test_graph_is_as_described():
    bp = graph()
    assert model_hooks.call_order(bp) == [2, 0, 1, 0]
    assert [p for p, _ in model_state.paths(bp)] == ["", "a.", "b.", "b.c."]


def test_firing_order_globals_first_then_prepend_order():
    hooks = [Hook(2, "pre"), Hook(None, "pre"), Hook(2, "pre", prepend=True), Hook(2, "post"), Hook(None, "post"),
             Hook(0, "pre")]
    active = set(range(len(hooks)))
    assert model_hooks.firing_order(hooks, 2, "pre", active) == [1, 2, 0]
    assert model_hooks.firing_order(hooks, 2, "post", active) == [4, 3]
    assert model_hooks.firing_order(hooks, 0, "pre", active) == [1, 5]
    assert model_hooks.firing_order(hooks, 2, "pre", active - {1}) == [2, 0]


def test_forward_firings_once_per_call():
    firings, raised = model_hooks.forward_firings(graph(), [Hook(0, "pre"), Hook(1, "post")])
    assert (firings, raised) == ([(0, 0, "pre"), (0, 0, "pre"), (1, 1, "post")], False)


def test_forward_firings_global_hooks_at_every_call():
    firings, _ = model_hooks.forward_firings(graph(), [Hook(0, "post"), Hook(None, "post")])
    assert firings == [(1, 0, "post"), (0, 0, "post"), (1, 0, "post"), (0, 0, "post"), (1, 1, "post"), (1, 2, "post")]


def test_removal_during_a_firing_takes_effect_after_it():
    # Hook 0 removes hook 1 of the same firing (it still fires), which removes hook 2, the forward
    # hook of the same module: gone from that very call on.
    hooks = [Hook(2, "pre"), Hook(2, "pre"), Hook(2, "post")]
    firings, _ = model_hooks.forward_firings(graph(), hooks, removes={0: 1, 1: 2}, calls=2)
    assert firings == [(0, 2, "pre"), (1, 2, "pre"), (0, 2, "pre")]


def test_self_removing_hook_fires_once():
    firings, _ = model_hooks.forward_firings(graph(), [Hook(0, "pre"), Hook(0, "post")], removes={0: 0}, calls=2)
    assert firings == [(0, 0, "pre"), (1, 0, "post"), (1, 0, "post"), (1, 0, "post"), (1, 0, "post")]


def test_raise_unwinds_through_always_call_hooks_innermost_first():
    hooks = [Hook(2, "post", always=True), Hook(1, "post"), Hook(1, "post", always=True),
             Hook(None, "post", always=True), Hook(0, "pre"), Hook(0, "post", always=True), Hook(1, "pre")]
    firings, raised = model_hooks.forward_firings(graph(), hooks, raises={6})
    assert raised
    assert firings == [(4, 0, "pre"), (3, 0, "post"), (5, 0, "post"), (6, 1, "pre"),
                       (3, 1, "unwind"), (2, 1, "unwind"), (3, 2, "unwind"), (0, 2, "unwind")]


def test_raise_stops_the_later_hooks_of_its_firing_and_the_calls():
    hooks = [Hook(0, "pre"), Hook(0, "pre", prepend=True), Hook(0, "post", always=True)]
    firings, raised = model_hooks.forward_firings(graph(), hooks, raises={1}, calls=2)
    assert (firings, raised) == ([(1, 0, "pre"), (2, 0, "unwind")], True)


def test_hook_kind_checked():
    with pytest.raises(ValueError, match="hook kind"):
        Hook(0, "backward")


def test_state_dict_hook_firings_per_path_with_prefix():
    hooks = [(0, "post"), (2, "pre"), (0, "pre")]
    assert model_hooks.state_dict_hook_firings(graph(), hooks, prefix="x.") == [
        (1, "x.", 0), (2, "x.a.", 1), (0, "x.a.", 2), (2, "x.b.c.", 2), (0, "x.b.c.", 3)]


def test_load_hook_firings_see_keys_found_so_far():
    bp = graph()
    given = ["a.b", "zzz", "b.c.zzz"]
    hooks = [(2, "post"), (0, "post"), (1, "pre")]
    final = (["p", "b.c.b"], ["zzz", "b.c.zzz"])
    assert model_hooks.load_hook_firings(bp, hooks, given) == [
        (1, "post", ["p"], ["zzz"]), (2, "pre", "b."), (1, "post", *final), (0, "post", *final)]
    # The root's post-hook sees the load's result.
    assert (model_state.missing_keys(bp, given), model_state.unexpected_keys(bp, given)) == final


def test_load_hook_firings_exact_input_reports_nothing():
    bp = graph()
    assert model_hooks.load_hook_firings(bp, [(2, "post"), (2, "pre")], ["p", "a.b", "b.c.b"]) == [
        (1, "pre", ""), (0, "post", [], [])]
