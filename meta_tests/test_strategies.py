"""The strategies draw what they promise: every feature shows up, graphs are acyclic and
connected, and bad arguments are rejected with a message naming the argument."""
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies import blueprints
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec
from strategies.features import FEATURES, features

SAMPLES = 300
RARE = 0.03  # below this share a feature is reported as rare (printed, not failed)


def _sample(strategy, n: int = SAMPLES) -> tuple[Counter, list[Blueprint]]:
    """Draw ``n`` blueprints deterministically; count features, keep the blueprints."""
    counts, drawn = Counter(), []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(bp):
        drawn.append(bp)
        counts.update(features(bp))

    collect()
    return counts, drawn


@pytest.fixture(scope="module")
def sample():
    return _sample(blueprints())


def _shares(counts: Counter, total: int) -> str:
    return "\n".join(f"  {counts[f] / total:6.1%}  {f}" for f in sorted(FEATURES, key=lambda f: counts[f]))


def test_feature_shares(sample):
    """Prints the share of each feature (run with -s); rare ones are listed for the lead."""
    counts, drawn = sample
    print(f"feature shares over {len(drawn)} blueprints:\n{_shares(counts, len(drawn))}")
    rare = [f"{f} ({counts[f] / len(drawn):.1%})" for f in FEATURES if counts[f] < RARE * len(drawn)]
    print("rare features (< 3%):", ", ".join(rare) or "none")


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_is_drawn(sample, feature):
    counts, drawn = sample
    assert counts[feature], f"{feature!r} never drawn in {len(drawn)} blueprints; shares:\n{_shares(counts, len(drawn))}"


def test_blueprints_are_acyclic_and_connected(sample):
    _, drawn = sample
    for bp in drawn:
        for i, node in enumerate(bp.nodes):
            for s in node.slots_of("child"):
                assert s.ref is None or 0 <= s.ref < i, f"node {i} has child {s.ref}: not topological in {bp}"
            for s in node.slots:
                assert s.kind == "child" or s.ref is None or 0 <= s.ref < len(bp.tensors), f"dangling tensor in {bp}"
        assert bp.reachable() == list(range(len(bp.nodes))), f"unreachable nodes in {bp}"


def test_options_switch_features_off():
    counts, drawn = _sample(blueprints(sharing=False, ties=False, none_slots=False, max_nodes=4), n=100)
    forbidden = {"shared_by_several_parents", "shared_under_two_names", "shared_at_depth_3", "tied_within_module",
                 "tied_across_modules", "shared_buffer", "none_child", "none_param", "none_buffer"}
    assert not {f for f in forbidden if counts[f] > 0}, _shares(counts, len(drawn))
    assert all(len(bp.nodes) <= 4 for bp in drawn)


BAD_ARGUMENTS = [
    ("max_nodes", 0), ("max_nodes", 31), ("max_nodes", True), ("max_nodes", "3"),
    ("max_slots", -1), ("max_slots", 13), ("max_slots", 2.0),
    ("kinds", ()), ("kinds", ("Nope",)), ("kinds", ("Linear",)), ("kinds", "Module"),
    ("sharing", 1), ("ties", None), ("none_slots", "yes"),
]


@pytest.mark.parametrize("name, value", BAD_ARGUMENTS)
def test_bad_fixed_argument_raises_when_built(name, value):
    with pytest.raises(InvalidArgument, match=f"^{name}="):
        blueprints(**{name: value})


@pytest.mark.parametrize("name, value", [("max_nodes", 0), ("kinds", ("Nope",)), ("sharing", 1)])
def test_bad_drawn_argument_raises_when_drawn(name, value):
    strategy = blueprints(**{name: st.just(value)})  # strategies are checked at draw time

    @settings(max_examples=1, database=None)
    @given(strategy)
    def draw(bp):
        pass

    with pytest.raises(InvalidArgument, match=f"^{name}="):
        draw()


def test_kinds_restricts_node_kinds():
    _, drawn = _sample(blueprints(kinds=("Module", "Linear")), n=50)
    assert {n.kind for bp in drawn for n in bp.nodes} <= {"Module", "Linear"}


def test_features_of_a_hand_built_blueprint():
    # root(a=x, b=x, c=y(x), n=None buffer); x holds Parameter 0 as p and q, tensor 1 as buffers b and c
    tensors = (TensorSpec((2,), "float32", requires_grad=True, grad=True), TensorSpec((0,), "bool"))
    x = Node("Module", (Slot("param", "p", 0), Slot("param", "q", 0), Slot("buffer", "b", 1),
                        Slot("buffer", "c", 1, persistent=False)))
    y = Node("Sequential", (Slot("child", "0", 0),))
    unreachable = Node("ModuleDict", ())
    root = Node("Module", (Slot("child", "a", 0), Slot("child", "b", 0), Slot("child", "c", 1), Slot("buffer", "n", None)))
    bp = Blueprint((x, y, unreachable, root), tensors)
    assert features(bp) == {
        "shared_by_several_parents", "shared_under_two_names", "tied_within_module", "shared_buffer",
        "persistent_buffer", "nonpersistent_buffer", "none_buffer", "floating_tensor", "bool_tensor",
        "zero_size_tensor", "param_with_grad", "param_requires_grad", "kind:Sequential"}


def test_features_depth_ties_across_modules_and_layers():
    # root -> d2 -> d1 -> leaf, and root -> leaf: leaf is shared, at depth 3 on one path
    tensors = (TensorSpec((1,), "int64"), TensorSpec((1, 1), "float32"))
    leaf = Node("Module", (Slot("plain", "x", 0, via="setattr"), Slot("param", "w", 1)))
    lin = Node("Linear", (Slot("param", "weight", 1, via="setattr"), Slot("param", "bias", None, via="setattr")),
               (1, 1, False))
    d1 = Node("Module", (Slot("child", "leaf", 0),))
    d2 = Node("Module", (Slot("child", "d1", 2),))
    root = Node("Module", (Slot("child", "d2", 3), Slot("child", "leaf", 0), Slot("child", "lin", 1)))
    assert features(Blueprint((leaf, lin, d1, d2, root), tensors)) == {
        "shared_by_several_parents", "shared_at_depth_3", "tied_across_modules", "plain_tensor",
        "layer_without_bias", "integer_tensor", "floating_tensor", "param_without_grad", "param_frozen",
        "kind:Linear"}
