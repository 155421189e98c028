"""Blueprints shrink towards the simpler graph (Note [choices drawn directly] in strategies/graphs.py).

In the style of Hypothesis's own ``minimal()`` tests: ``find`` the smallest blueprint with a
property and check it is the simplest graph that has it.
"""
from hypothesis import HealthCheck, find, settings

from strategies import blueprints
from strategies.features import features

SETTINGS = settings(database=None, derandomize=True, max_examples=2000, suppress_health_check=list(HealthCheck))


def minimal(strategy, condition):
    return find(strategy, condition, settings=SETTINGS)


def test_simplest_graph_is_one_empty_module():
    bp = minimal(blueprints(), lambda bp: True)
    assert len(bp.nodes) == 1 and bp.nodes[0].kind == "Module" and bp.nodes[0].slots == () and bp.tensors == ()


def test_minimal_graph_with_three_nodes_is_a_chain_of_plain_modules():
    bp = minimal(blueprints(), lambda bp: len(bp.nodes) >= 3)
    assert len(bp.nodes) == 3
    assert {n.kind for n in bp.nodes} == {"Module"}
    assert bp.tensors == ()
    assert sum(len(n.slots) for n in bp.nodes) == 2  # only the slots that make the graph connected


def test_minimal_parameter_is_float32_without_grad_flags_beyond_the_default():
    bp = minimal(blueprints(), lambda bp: bool(bp.param_ids()))
    assert len(bp.nodes) == 1 and len(bp.tensors) == 1
    spec = bp.tensors[0]
    assert spec.dtype == "float32" and spec.shape == () and not spec.grad


def test_minimal_tie_is_small():
    bp = minimal(blueprints(), lambda bp: "tied_within_module" in features(bp))
    assert len(bp.nodes) <= 3 and len(bp.tensors) <= 3
    assert all(t.dtype == "float32" for t in bp.tensors)


def test_minimal_shared_module_is_two_names_for_one_child():
    bp = minimal(blueprints(), lambda bp: "shared_under_two_names" in features(bp))
    assert len(bp.nodes) == 2
    assert [s.ref for s in bp.nodes[1].slots] == [0, 0]


def test_minimal_none_buffer_is_one_slot():
    bp = minimal(blueprints(), lambda bp: "none_buffer" in features(bp))
    assert len(bp.nodes) <= 2 and bp.tensors == ()
    assert [(s.kind, s.ref) for n in bp.nodes for s in n.slots if s.kind != "child"] == [("buffer", None)]


def test_minimal_layer_has_the_smallest_sizes():
    bp = minimal(blueprints(), lambda bp: any(n.kind == "Linear" for n in bp.nodes))
    linear = next(n for n in bp.nodes if n.kind == "Linear")
    assert linear.args == (0, 0, True)  # the smallest sizes, with a bias
    assert all(t.dtype == "float32" and t.numel == 0 for t in bp.tensors)
    assert {n.kind for n in bp.nodes} <= {"Linear", "Module"}


def test_minimal_graphs_stay_small():
    """Summed over eleven features, the minimal graphs are no bigger than the ones the drawer gave
    when it drew every choice through ``draw(st.integers(...))`` (27 nodes and 38 slots; drawing
    directly, Note [choices drawn directly], gives 20 and 24)."""
    conditions = [
        lambda bp: bool(bp.param_ids()),
        *[lambda bp, f=f: f in features(bp) for f in (
            "tied_within_module", "tied_across_modules", "shared_under_two_names", "shared_by_several_parents",
            "none_buffer", "nonpersistent_buffer", "shared_at_depth_3")],
        lambda bp: any(n.kind == "Linear" for n in bp.nodes),
        lambda bp: any(n.kind == "ParameterDict" and n.slots for n in bp.nodes),
        lambda bp: {"integer_tensor", "floating_tensor"} <= features(bp),
    ]
    found = [minimal(blueprints(), c) for c in conditions]
    assert sum(len(bp.nodes) for bp in found) <= 27
    assert sum(len(n.slots) for bp in found for n in bp.nodes) <= 38
