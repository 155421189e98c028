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
    ("max_nodes", 0), ("max_nodes", 1001), ("max_nodes", True), ("max_nodes", "3"),
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


# -- strategies.tensors.rich_blueprints (issue 11, part 4) ------------------------------------------
@pytest.fixture(scope="module")
def rich_sample():
    from strategies import rich_blueprints
    return _sample(rich_blueprints())


def test_rich_feature_shares(rich_sample):
    """Prints the share of each rich-tensor feature (run with -s)."""
    from strategies.features import RICH_FEATURES
    counts, drawn = rich_sample
    print(f"rich feature shares over {len(drawn)} blueprints:\n"
          + "\n".join(f"  {counts[f] / len(drawn):6.1%}  {f}" for f in RICH_FEATURES))


@pytest.mark.parametrize("feature", ["complex_tensor", "view_tensor", "non_contiguous_tensor", "channels_last_tensor"])
def test_rich_feature_is_drawn(rich_sample, feature):
    counts, drawn = rich_sample
    assert counts[feature] >= RARE * len(drawn), f"{feature!r} drawn {counts[feature]} times in {len(drawn)} blueprints"


def test_rich_blueprints_are_well_formed(rich_sample):
    """Views name a 1-d contiguous base that is no view, of their dtype, and fit inside it; layouts
    have the rank they need; built-in layers' tensors are left as they were."""
    from strategies.layers import LAYERS
    _, drawn = rich_sample
    for bp in drawn:
        for spec in bp.tensors:
            if spec.view_of is not None:
                base = bp.tensors[spec.view_of]
                assert base.view_of is None and len(base.shape) == 1 and base.layout == "contiguous", bp
                assert base.dtype == spec.dtype and spec.offset + spec.numel <= base.numel, bp
            assert spec.layout == "contiguous" or len(spec.shape) == {"transposed": 2, "channels_last": 4}[spec.layout], bp
        for node in bp.nodes:
            if node.kind in LAYERS:
                for s in node.slots:
                    if s.ref is not None:
                        spec = bp.tensors[s.ref]
                        assert spec.view_of is None and spec.layout == "contiguous" and not spec.is_complex, bp


def test_rich_options_switch_features_off():
    from strategies import rich_blueprints
    counts, drawn = _sample(rich_blueprints(complex=False, views=False, layouts=False), n=100)
    assert not {f for f in ("complex_tensor", "view_tensor", "non_contiguous_tensor", "channels_last_tensor")
                if counts[f]}


@pytest.mark.parametrize("name, value", [("complex", 1), ("views", None), ("layouts", "yes"), ("graphs", "x")])
def test_rich_bad_argument_raises_when_built(name, value):
    from strategies import rich_blueprints
    with pytest.raises(InvalidArgument, match=f"^{name}="):
        rich_blueprints(**{name: value})


def test_rich_bad_drawn_argument_raises_when_drawn():
    from strategies import rich_blueprints

    @settings(max_examples=1, database=None)
    @given(rich_blueprints(views=st.just(3)))
    def draw(bp):
        pass

    with pytest.raises(InvalidArgument, match="^views="):
        draw()


# -- own-state layers (strategies.layer_state) ---------------------------------------------------

def test_own_state_blueprints_draw_every_layer_kind():
    """Every own-state layer kind, constructor-made child and own-state feature is drawn; prints the shares."""
    from strategies import own_state_blueprints
    from strategies.features import OWN_STATE_FEATURES

    counts, drawn = _sample(own_state_blueprints(), n=200)
    ordered = sorted(OWN_STATE_FEATURES, key=lambda f: counts[f])
    shares = "\n".join(f"  {counts[f] / len(drawn):6.1%}  {f}" for f in ordered)
    print(f"own-state feature shares over {len(drawn)} blueprints:\n{shares}")
    missing = [f for f in OWN_STATE_FEATURES if not counts[f]]
    assert not missing, f"never drawn: {missing}\n{shares}"
    assert counts["own_state_layer"] == len(drawn)


def test_own_state_blueprints_are_well_formed():
    from strategies import own_state_blueprints
    from strategies.layer_state import inner_nodes, own_nodes

    _, drawn = _sample(own_state_blueprints(max_layers=3), n=100)
    for bp in drawn:
        assert bp.reachable() == list(range(len(bp.nodes))), f"unreachable nodes in {bp}"
        for i, node in enumerate(bp.nodes):
            assert all(s.ref is None or s.ref < i for s in node.slots_of("child")), f"not topological: {bp}"
        inner = inner_nodes(bp)
        # a constructor-made child is held by its parent layer only
        held_by = {s.ref for n in bp.nodes for s in n.slots_of("child") if s.via != "own"}
        assert not held_by & set(inner), f"a constructor-made child is shared: {bp}"
        assert 1 <= len(own_nodes(bp)) <= 3
        assert bp.nodes[bp.root].kind == "Module"


def test_own_state_blueprints_leave_default_draws_alone():
    """blueprints() never draws own-state slots (the new layers are reachable only through own_state_blueprints)."""
    from strategies.features import OWN_STATE_FEATURES

    counts, _ = _sample(blueprints(), n=100)
    assert not any(counts[f] for f in OWN_STATE_FEATURES)


@pytest.mark.parametrize("name, value", [("layers", ()), ("layers", ("Module",)), ("layers", "GRU"), ("max_layers", 0),
                                         ("max_layers", 7), ("holders", 1), ("sharing", None)])
def test_own_state_bad_arguments(name, value):
    from strategies import own_state_blueprints

    with pytest.raises(InvalidArgument, match=f"^{name}="):
        own_state_blueprints(**{name: value})
