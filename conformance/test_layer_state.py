"""Built-in layers that keep their own state: what their constructors make, and what casts, moves,
loads, copies and train/eval do to it.

Graphs come from ``strategies.layer_state.own_state_blueprints``: every layer is built by its
plain constructor call (after ``torch.manual_seed``) and left as made; the builder assigns it
nothing (Note [own-state layers in the program] in ``conformance.build``). Names come from the
generic model, members' dtypes and documented values from ``conformance.model_layers``; values the
constructors draw at random are never predicted, only required to survive round trips. Every
call and every observation is a step through ``root`` (Note [one source per call]).
"""
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance import model
from conformance import model_layers as ml
from conformance.check import expect_equal, expect_no_error
from conformance.flags import SETTINGS, conversion_setting, flagged
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from conformance.test_devices import canonical, rebuild
from strategies.layer_state import own_state_blueprints

GRAPHS = own_state_blueprints()
BN_GRAPHS = own_state_blueprints(layers=("BatchNorm1d",), max_layers=2, holders=False)
RNN_GRAPHS = own_state_blueprints(layers=("LSTM", "GRU"), max_layers=1, holders=False)
NORM_GRAPHS = own_state_blueprints(layers=("BatchNorm1d", "LayerNorm", "GroupNorm", "Embedding"))
CAST_GRAPHS = st.one_of(GRAPHS, BN_GRAPHS)  # every layer, and often a BatchNorm1d with its int64 counter

CASTS = {"float64": ("root.double()", "root.to(torch.float64)"), "float16": ("root.half()",),
         # Module.bfloat16 itself is left to test_dtype.py (TorchScript disables it: jit.txt)
         "bfloat16": ("root.to(torch.bfloat16)", "root.to(dtype=torch.bfloat16)"), "float32": ("root.float()",)}
COPIES = {
    "deepcopy": ("import copy\nclone = copy.deepcopy(root)", "deepcopy"),
    "pickle": ("import pickle\nclone = pickle.loads(pickle.dumps(root))", "pickle"),
    "torch.save": ("import io\nbuf = io.BytesIO()\ntorch.save(root, buf)\nbuf.seek(0)\n"
                   "clone = torch.load(buf, weights_only=False)", "pickle"),
}
# A step's expression: (name, shape, dtype, requires_grad) of every entry of a named_* iteration.
DESCRIBE = "[(n, tuple(t.shape), str(t.dtype).removeprefix('torch.'), t.requires_grad) for n, t in {}]"


def described(h, what: str = "root.named_parameters()") -> list:
    """``[(model name, shape, dtype, requires_grad)]`` read by one step through ``root``."""
    rows = h.run(DESCRIBE.format(what))
    return [(h.names.model(n), *rest) for n, *rest in rows if h.names.model(n) is not None]


def expected_described(bp, kind: str, dtype: str | None = None) -> list:
    """[L1]/[L3] The model's ``described`` rows: names from the generic model, shapes and dtypes
    from the constructors' table (the tensor specs), floating dtypes cast to ``dtype``."""
    out = []
    for name, ref in model.named_members(bp, kind):
        spec = bp.tensors[ref]
        cast = ml.dtype_after_cast(spec.dtype, dtype) if dtype else spec.dtype
        out.append((name, spec.shape, cast, spec.requires_grad))
    return out


def state_values(h, name: str = "root") -> list:
    """One step: the state dict's values of ``name``, detached, on the cpu (meta: absent)."""
    return h.run(f"[v.detach().cpu() if v.device.type != 'meta' else None for v in {name}.state_dict().values()]")


def _entries(h, values) -> list:
    keys = h.unmapped(h.run("list(root.state_dict())"))
    return list(zip(keys, values))


# -- what the constructors make -------------------------------------------------------------------

@invariant("layer.own.members")
@given(data=st.data())
def test_constructed_members(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    bp = h.blueprint
    got = (described(h), described(h, "root.named_buffers()"))
    expect_equal(got, (expected_described(bp, "param"), expected_described(bp, "buffer")), h,
                 problem="(named_parameters, named_buffers) as (name, shape, dtype, requires_grad) differ")
    nones = [(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots
             if s.via == "own" and s.kind != "child" and s.ref is None]
    if nones:
        held = h.run("[" + ", ".join(f"getattr({h.node_ref(i)}, {name!r}, 'absent') is None"
                                     for i, name in nones) + "]")
        expect_equal([(f"n{i}.{name}", v) for (i, name), v in zip(nones, held)],
                     [(f"n{i}.{name}", True) for i, name in nones], h,
                     problem="a member the layer was built without must be registered as None")


def _documented(h, bp) -> list[tuple[str, str, str]]:
    """``(label, step expression, rule)`` of every documented initial value [L2]."""
    out = []
    for i in bp.reachable():
        if bp.nodes[i].kind not in ("BatchNorm1d", "LayerNorm", "GroupNorm", "Embedding"):
            continue
        for name, rule in ml.documented_values(bp, i):
            if bp.nodes[i].kind == "BatchNorm1d" and name not in ("weight", "bias"):
                continue  # the running statistics: layer.batchnorm.initial_stats
            expr = f"{h.node_ref(i)}.{name}"
            if rule.startswith("padding row"):
                expr += f"[{ml.kwargs(bp, i)['padding_idx']}]"
            out.append((f"n{i}.{name}", expr, rule))
    return out


def _filled(value: float, shape) -> list | float:
    return value if not shape else [_filled(value, shape[1:]) for _ in range(shape[0])]


def _rule_value(bp, label: str, rule: str):
    i, name = label[1:].split(".")
    shape = next(m[2] for m in ml.members(bp, int(i)) if m[1] == name)
    if rule.startswith("padding row"):
        return _filled(0.0, shape[1:])
    return _filled(1.0 if rule == "ones" else 0.0, shape)


@invariant("layer.own.documented_init")
@given(data=st.data())
def test_documented_initial_values(data, backend):
    h = draw_graph(data, backend, NORM_GRAPHS)
    bp = h.blueprint
    checks = _documented(h, bp)
    assume(checks)
    # The documented values survive a cast (the old values converted: ones and zeros are exact).
    cast = data.draw(st.sampled_from(["", "root.double()", "root.half()", "root.float()"]), label="cast first")
    if cast:
        h.run(cast)
    got = h.run("[" + ", ".join(f"{expr}.tolist()" for _, expr, _ in checks) + "]")
    expect_equal([(label, rule, v) for (label, _, rule), v in zip(checks, got)],
                 [(label, rule, _rule_value(bp, label, rule)) for label, _, rule in checks], h)


@invariant("layer.batchnorm.initial_stats")
@given(data=st.data())
def test_batchnorm_initial_running_stats(data, backend):
    h = draw_graph(data, backend, BN_GRAPHS)
    bp = h.blueprint
    nodes = [i for i in ml.layers(bp) if ml.tracks_running_stats(bp, i)]
    assume(nodes)
    got = h.run("[" + ", ".join(f"({r}.running_mean.tolist(), {r}.running_var.tolist(), "
                                f"{r}.num_batches_tracked.item(), "
                                f"str({r}.num_batches_tracked.dtype))" for r in map(h.node_ref, nodes)) + "]")
    want = [([0.0] * ml.kwargs(bp, i)["num_features"], [1.0] * ml.kwargs(bp, i)["num_features"], 0, "torch.int64")
            for i in nodes]
    expect_equal(list(zip([f"n{i}" for i in nodes], got)), list(zip([f"n{i}" for i in nodes], want)), h,
                 problem="(running_mean, running_var, num_batches_tracked, its dtype) differ")


# -- casts, moves, loads, copies ------------------------------------------------------------------

@invariant("layer.own.cast")
@given(data=st.data())
def test_cast_changes_floating_members_only(data, backend):
    h = draw_graph(data, backend, CAST_GRAPHS)
    bp = h.blueprint
    target = data.draw(st.sampled_from(tuple(CASTS)), label="dtype")
    call = data.draw(st.sampled_from(CASTS[target]), label="cast")
    h.run("before = [v.detach().clone() for v in root.state_dict().values()]")
    h.run(call)
    got = (described(h), described(h, "root.named_buffers()"))
    expect_equal(got, (expected_described(bp, "param", target), expected_described(bp, "buffer", target)), h,
                 problem="(named_parameters, named_buffers) as (name, shape, dtype, requires_grad) differ "
                         "after the cast")
    kept = h.run("[torch.equal(a, b.to(a.dtype)) for a, b in zip(root.state_dict().values(), before)]")
    keys = h.unmapped(h.run("list(root.state_dict())"))
    expect_equal(list(zip(keys, kept)), [(k, True) for k in keys], h,
                 problem="every value after the cast must be the old value converted")


@invariant("layer.own.move_round_trip")
@needs("devices")
@given(data=st.data())
def test_move_round_trip(data, backend, device):
    h = draw_graph(data, backend, GRAPHS, uses=(device,))
    bp = h.blueprint
    before = state_values(h)
    h.run(f"root.to({device!r})")
    landed = h.run("[(str(v.device), str(v.dtype).removeprefix('torch.')) for v in root.state_dict().values()]")
    entries = model.state_dict_entries(bp)
    want = [(canonical(device), bp.tensors[ref].dtype) for _, (_, ref) in entries]
    keys = h.unmapped(h.run("list(root.state_dict())"))
    expect_equal(list(zip(keys, landed)), list(zip(keys, want)), h, problem="(device, dtype) after the move differ")
    if device == "meta":
        return
    h.run("root.to('cpu')")
    after = state_values(h)
    same = [a.dtype == b.dtype and a.reshape(-1).view(torch.uint8).equal(b.reshape(-1).view(torch.uint8))
            for a, b in zip(after, before)]
    expect_equal(list(zip(keys, same)), [(k, True) for k in keys], h,
                 problem="every value must come back bit-identical from the round trip")


@invariant("layer.own.load_round_trip")
@needs("load")
@given(data=st.data())
def test_load_into_fresh_build(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    # Change every tensor the layers hold (the fresh build's constructors make the original values).
    h.run("with torch.no_grad():\n    for v in set(root.state_dict().values()):\n        v.add_(1)")
    h.run("sd = root.state_dict()")
    rebuild(h, "fresh", h.program, "the same program again: a fresh graph")
    h.run("result = fresh.load_state_dict(sd)")
    got = h.run("[(k, str(v.dtype), torch.equal(v, sd[k])) for k, v in fresh.state_dict().items()]")
    keys = h.run("list(sd)")
    dtypes = h.run("[str(v.dtype) for v in sd.values()]")
    expect_equal(got, [(k, d, True) for k, d in zip(keys, dtypes)], h,
                 problem="(key, dtype, equal to the loaded value) of the fresh graph's state differ")


@pytest.mark.parametrize("how", [pytest.param(how, marks=needs(need), id=how) for how, (_, need) in COPIES.items()])
@invariant("layer.own.copy")
@given(data=st.data())
def test_copy_keeps_layer_state(data, backend, how):
    h = draw_graph(data, backend, GRAPHS, forward=True)
    if data.draw(st.booleans(), label="eval first"):
        h.run("root.eval()")
    h.run(COPIES[how][0])
    got = h.run("[(k, str(v.dtype), torch.equal(v, w)) for (k, v), w in zip(clone.state_dict().items(), "
                "root.state_dict().values())]")
    keys = h.run("list(root.state_dict())")
    dtypes = h.run("[str(v.dtype) for v in root.state_dict().values()]")
    expect_equal(got, [(k, d, True) for k, d in zip(keys, dtypes)], h,
                 problem="(key, dtype, equal to the original's value) of the copy's state differ")
    expect_equal(h.run("[m.training for m in clone.modules()]"), h.run("[m.training for m in root.modules()]"), h,
                 problem="the copy's training flags differ")
    bp = h.blueprint
    nones = [(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots
             if s.via == "own" and s.kind != "child" and s.ref is None]
    if nones:
        # The copy's module at node i's path: the text reaching it through root, from clone.
        held = h.run("[" + ", ".join(f"getattr({h.node_ref(i).replace('root', 'clone', 1)}, {name!r}, 'absent') is None"
                                     for i, name in nones) + "]")
        expect_equal([(f"n{i}.{name}", v) for (i, name), v in zip(nones, held)],
                     [(f"n{i}.{name}", True) for i, name in nones], h,
                     problem="a member registered as None must stay None in the copy")
    # dropout in training mode draws from the RNG
    h.run("with torch.random.fork_rng(devices=[]):\n    clone(torch.zeros(1))")


# -- train and eval -------------------------------------------------------------------------------

def _bn_calls(data, h):
    bp = h.blueprint
    nodes = [i for i in ml.layers(bp) if ml.tracks_running_stats(bp, i)]
    assume(nodes)
    i = data.draw(st.sampled_from(nodes), label="BatchNorm1d")
    modes = data.draw(st.lists(st.booleans(), min_size=1, max_size=4), label="training mode of each call")
    layer, c = h.node_ref(i), ml.kwargs(bp, i)["num_features"]
    rows = ", ".join(f"[{v!r}] * {c}" for v in ml.BN_INPUT)
    h.run(f"inp = torch.tensor([{rows}])")
    for training in modes:
        h.run(f"{layer}.train({training})\n{layer}(inp)")
    return layer, c, modes


@invariant("layer.batchnorm.running_stats")
@given(data=st.data())
def test_batchnorm_running_stats_move_in_training_only(data, backend):
    h = draw_graph(data, backend, BN_GRAPHS)
    layer, c, modes = _bn_calls(data, h)
    got = h.run(f"[round(v, 5) for v in {layer}.running_mean.tolist() + {layer}.running_var.tolist()]")
    mean, var = ml.running_stats(ml.batches_tracked(modes))
    expect_equal(got, [round(mean, 5)] * c + [round(var, 5)] * c, h,
                 problem="running_mean + running_var (rounded to 5 places) differ from the documented update rule")


@invariant("layer.batchnorm.num_batches_tracked")
@given(data=st.data())
def test_batchnorm_counts_training_calls(data, backend):
    h = draw_graph(data, backend, BN_GRAPHS)
    layer, _, modes = _bn_calls(data, h)
    got = h.run(f"({layer}.num_batches_tracked.item(), str({layer}.num_batches_tracked.dtype))")
    expect_equal(got, (ml.batches_tracked(modes), "torch.int64"), h,
                 problem="(num_batches_tracked, its dtype) differ")


# -- recurrent layers use their registered parameters ----------------------------------------------

@invariant("layer.rnn.uses_registered_parameters")
@pytest.mark.parametrize("setting", list(SETTINGS))
@given(data=st.data())
def test_rnn_uses_registered_parameters_after_cast(data, backend, setting):
    h = draw_graph(data, backend, RNN_GRAPHS)
    bp = h.blueprint
    i = ml.layers(bp)[0]
    layer, size = h.node_ref(i), ml.kwargs(bp, i)["input_size"]
    call = data.draw(st.sampled_from(CASTS["float64"]), label="cast")
    with conversion_setting(setting):
        expect_no_error(h, flagged(setting, call))
    h.run(f"ones = torch.ones(1, {size}, dtype=torch.float64)")
    dtype = expect_no_error(h, f"str({layer}(ones)[0].dtype)")
    h.run(f"with torch.no_grad():\n    for p in {layer}.parameters():\n        p.zero_()")
    zero = expect_no_error(h, f"bool(({layer}(ones)[0] == 0).all())")
    expect_equal((dtype, zero), ("torch.float64", True), h,
                 problem="(output dtype after the cast, output all zero once the registered parameters are "
                         "zeroed) differ")
