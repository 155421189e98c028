"""The reference model of own-state layers (conformance.model_layers) and the static table it reads
(strategies.layers.OWN_STATE_LAYERS) agree with hand-worked examples (torch only in the last test, which
runs a rendered program)."""
import pytest

from conformance import model
from conformance import model_layers as ml
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec
from strategies.layer_state import _Drawer, inner_nodes, own_nodes, own_tensors
from strategies.layers import own_members


def _build(kind: str, **kwargs) -> Blueprint:
    """One own-state layer under a Module root, as the strategy builds it (no drawing involved)."""
    drawer = _Drawer(draw=None)
    layer = drawer.layer(kind, kwargs)
    drawer.nodes.append(Node("Module", (Slot("child", "m0", layer),)))
    return Blueprint(tuple(drawer.nodes), tuple(drawer.tensors))


def test_batchnorm_members_and_documented_values():
    bp = _build("BatchNorm1d", num_features=3, affine=True, track_running_stats=True)
    assert ml.members(bp, 0) == [
        ("param", "weight", (3,), "float32", "ones"), ("param", "bias", (3,), "float32", "zeros"),
        ("buffer", "running_mean", (3,), "float32", "zeros"), ("buffer", "running_var", (3,), "float32", "ones"),
        ("buffer", "num_batches_tracked", (), "int64", "zeros")]
    assert model.named_members(bp, "buffer") == [
        ("m0.running_mean", 2), ("m0.running_var", 3), ("m0.num_batches_tracked", 4)]
    assert bp.tensors[4] == TensorSpec((), "int64", requires_grad=False, seed=4)
    assert ml.tracks_running_stats(bp, 0)


def test_batchnorm_without_affine_or_stats_registers_none():
    bp = _build("BatchNorm1d", num_features=2, affine=False, track_running_stats=False)
    assert [s.ref for s in bp.nodes[0].slots] == [None] * 5
    assert model.named_members(bp, "param") == [] and model.named_members(bp, "buffer") == []
    assert not ml.tracks_running_stats(bp, 0)
    assert ml.input_source(bp, 0) is None


def test_casts_touch_floating_members_only():
    assert ml.dtype_after_cast("float32", "float16") == "float16"
    assert ml.dtype_after_cast("int64", "float16") == "int64"


def test_running_stats_update_rule():
    # momentum 0.1, batch mean 1, unbiased batch variance 2: x_k = target - (target - x_0) * 0.9**k
    assert ml.running_stats(0) == (0.0, 1.0)
    mean, var = ml.running_stats(1)
    assert mean == pytest.approx(0.1) and var == pytest.approx(1.1)
    mean, var = ml.running_stats(3)
    assert mean == pytest.approx(1 - 0.9 ** 3) and var == pytest.approx(2 - 0.9 ** 3)
    assert ml.batches_tracked([True, False, True, False]) == 2


def test_embedding_padding_row_is_documented():
    bp = _build("Embedding", num_embeddings=3, embedding_dim=2, padding_idx=1)
    assert ml.documented_values(bp, 0) == [("weight", "padding row 1 zeros")]
    assert ml.documented_values(_build("Embedding", num_embeddings=3, embedding_dim=2, padding_idx=None), 0) == []


def test_rnn_members_per_layer_and_direction():
    names = [m.name for m in own_members("GRU", dict(input_size=2, hidden_size=3, num_layers=2, bias=False,
                                                      bidirectional=True))]
    assert names == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                     "weight_ih_l1", "weight_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse"]
    shapes = {m.name: m.shape for m in own_members("LSTM", dict(input_size=2, hidden_size=3, num_layers=2, bias=True,
                                                                   bidirectional=True))}
    assert shapes["weight_ih_l0"] == (12, 2) and shapes["weight_ih_l1"] == (12, 6)
    assert shapes["bias_hh_l1_reverse"] == (12,)


def test_multihead_attention_structure():
    bp = _build("MultiheadAttention", embed_dim=2, num_heads=1, bias=True, add_bias_kv=True, kdim=3, vdim=2)
    mha = bp.nodes[1]
    assert [(s.kind, s.name, s.ref is None) for s in mha.slots] == [
        ("param", "q_proj_weight", False), ("param", "k_proj_weight", False), ("param", "v_proj_weight", False),
        ("param", "in_proj_weight", True), ("param", "in_proj_bias", False), ("child", "out_proj", False),
        ("param", "bias_k", False), ("param", "bias_v", False)]
    # named_parameters: own parameters first (bias_k/bias_v after in_proj_bias), then out_proj's
    assert [n for n, _ in model.named_members(bp, "param")] == [
        "m0.q_proj_weight", "m0.k_proj_weight", "m0.v_proj_weight", "m0.in_proj_bias", "m0.bias_k", "m0.bias_v",
        "m0.out_proj.weight", "m0.out_proj.bias"]
    assert bp.nodes[0].kind == "NonDynamicallyQuantizableLinear"
    assert inner_nodes(bp) == {0: (1, "out_proj")} and own_nodes(bp) == [1]
    assert ml.call_inputs(bp, 1) == [((1, 2), None), ((1, 3), None), ((1, 2), None)]


def test_transformer_encoder_layer_structure():
    bp = _build("TransformerEncoderLayer", d_model=2, nhead=1, dim_feedforward=3, bias=False)
    assert [name for name, _ in model.named_modules(bp)] == [
        "", "m0", "m0.self_attn", "m0.self_attn.out_proj", "m0.linear1", "m0.dropout", "m0.linear2", "m0.norm1",
        "m0.norm2", "m0.dropout1", "m0.dropout2"]
    assert [n for n, _ in model.named_members(bp, "param")] == [
        "m0.self_attn.in_proj_weight", "m0.self_attn.out_proj.weight", "m0.linear1.weight", "m0.linear2.weight",
        "m0.norm1.weight", "m0.norm2.weight"]
    assert own_tensors(bp) == set(range(len(bp.tensors)))
    assert ml.input_source(bp, len(bp.nodes) - 2) == "self_attn.in_proj_weight"


def test_own_state_program_is_a_deterministic_reproducer():
    """The rendered program (what a failure prints) builds the same layer state in a fresh namespace,
    twice, as the suite's build does, and leaves the caller's RNG alone in the suite."""
    import torch

    from conformance import build

    bp = _build("TransformerEncoderLayer", d_model=2, nhead=2, dim_feedforward=3, bias=True)
    program = build.render(bp, forward=True)
    assert "torch.manual_seed(" in program and "= nn.TransformerEncoderLayer(d_model=2" in program
    rng = torch.get_rng_state()
    built = build.run(bp, forward=True)["root"].state_dict()
    assert torch.equal(torch.get_rng_state(), rng)
    with torch.random.fork_rng(devices=[]):
        states = []
        for _ in range(2):
            namespace = {"__name__": "nnconform_graph"}
            exec(program, namespace)
            states.append(namespace["root"].state_dict())
    for state in states:
        assert list(state) == list(built) and all(torch.equal(state[k], built[k]) for k in built)
