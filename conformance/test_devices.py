"""Device moves: where parameters, buffers, gradients and plain attributes land, and what a move keeps.

Targets come from ``--device`` through ``conformance.devices``: ``device`` (a move target: meta,
the simulated accelerator nnsim, cuda...), ``data_device`` (one that holds data) and
``device_pair`` (``(src, dst)``). Every move runs under the three settings of the
``torch.__future__`` conversion flags (``[default]``, ``[overwrite]``, ``[swap]``), set around the
call and restored in ``finally``. Expectations come from the blueprint (``model_devices``); values
are the builder's ``_t(shape, dtype, seed)``, compared bit for bit.
"""
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import model_devices as md
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.devices import SIM, sync
from conformance.flags import FLAG_LINES, SETTINGS, conversion_setting
from conformance.registry import invariant
from strategies import blueprints
from strategies.blueprint import FLOAT_DTYPES, Blueprint, Node, Slot, TensorSpec
from strategies.graphs import NODE_KINDS

# Each property gets the profile's example budget per device, split across the three settings.
PER_SETTING = settings(max_examples=max(1, settings.default.max_examples // len(SETTINGS)))
SIM_SETUP = f"from conformance.devices import simulated_accelerator; simulated_accelerator()  # registers {SIM!r}\n"

# -- graphs -----------------------------------------------------------------------------------------
# Ties are left to the sharing tests, and LSTMs (whose class overrides _apply and keeps weak references
# to its weights) to fixed examples: under the swap setting a tied or loaded LSTM weight cannot be
# swapped (evidence/swap_lstm_weakref.py), which would hide every other swap finding.
NO_LSTM = tuple(k for k in NODE_KINDS if k != "LSTM")
GRAPHS = blueprints(max_nodes=4, ties=False)
TIE_GRAPHS = blueprints(max_nodes=3, kinds=NO_LSTM)
BUFFER_GRAPHS = blueprints(kinds=("Module", "BatchNorm1d"), max_nodes=3)
_LSTM = Node("LSTM", tuple(Slot("param", name, i, via="setattr")
                           for i, name in enumerate(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))), (1, 1))
_LSTM_TENSORS = tuple(TensorSpec(shape, "float32", True, False, i) for i, shape in enumerate([(4, 1), (4, 1), (4,), (4,)]))
LSTM_ONLY = Blueprint((_LSTM, Node("Module", (Slot("child", "m0", 0),))), _LSTM_TENSORS)
# root.p1 is the LSTM's weight_ih_l0.
TIED_LSTM = Blueprint((_LSTM, Node("Module", (Slot("child", "m0", 0), Slot("param", "p1", 0)))), _LSTM_TENSORS)


def _with_slot(bp, node: int, slots) -> Blueprint:
    nodes = list(bp.nodes)
    nodes[node] = replace(bp.nodes[node], slots=slots)
    return replace(bp, nodes=tuple(nodes))


def _under_module(bp) -> Blueprint:
    """The graph itself if its root is a plain Module, else the graph under a new Module root."""
    if bp.nodes[bp.root].kind == "Module":
        return bp
    return replace(bp, nodes=bp.nodes + (Node("Module", (Slot("child", "m0", bp.root),)),))


@st.composite
def tied_parameters(draw):
    """A graph whose Module node registers, under a new name, a parameter another name already
    holds (a new parameter under two names when the graph has none)."""
    bp = _under_module(draw(TIE_GRAPHS))
    reachable = bp.reachable()
    params = sorted({s.ref for i in reachable for s in bp.nodes[i].slots if s.kind == "param" and s.ref is not None})
    if params:
        refs = [draw(st.sampled_from(params), label="parameter to tie")]
    else:
        bp = replace(bp, tensors=bp.tensors + (TensorSpec((2,), "float32", True, seed=len(bp.tensors)),))
        refs = [len(bp.tensors) - 1] * 2
    i = draw(st.sampled_from([i for i in reachable if bp.nodes[i].kind == "Module"]), label="node")
    return _with_slot(bp, i, bp.nodes[i].slots + tuple(Slot("param", f"tied{k}", ref) for k, ref in enumerate(refs)))


@st.composite
def shared_buffers(draw):
    """A graph whose Module node registers, under a new name, a buffer another name already holds
    (a new tensor under two names when the graph has none to share)."""
    bp = _under_module(draw(BUFFER_GRAPHS))
    # nn.Buffer(t) assignment stores a copy of t: only tensors registered as given can be shared
    registered = sorted({s.ref for n in bp.nodes for s in n.slots if s.kind == "buffer" and s.ref is not None
                         and s.via != "setattr"})
    if registered:
        refs = [draw(st.sampled_from(registered), label="buffer to share")]
    else:
        bp = replace(bp, tensors=bp.tensors + (TensorSpec((2,), "float32", seed=len(bp.tensors)),))
        refs = [len(bp.tensors) - 1] * 2
    i = draw(st.sampled_from([i for i in bp.reachable() if bp.nodes[i].kind == "Module"]), label="node")
    extra = tuple(Slot("buffer", f"shared{k}", ref, draw(st.booleans(), label="persistent")) for k, ref in enumerate(refs))
    return _with_slot(bp, i, bp.nodes[i].slots + extra)


# -- helpers ----------------------------------------------------------------------------------------
def canonical(device: str) -> str:
    """How a tensor reports ``device``: ``nnsim`` -> ``nnsim:0``; cpu and meta have no index."""
    return device if ":" in device or device in ("cpu", "meta") else f"{device}:0"


def build(backend, bp, device="cpu", uses=()):
    """Build ``bp`` on ``device``; ``uses``: the other devices the test moves it to."""
    g = backend.build(bp, device=None if device == "cpu" else device)
    if any(SIM in d for d in (device, *uses)):
        g.source = SIM_SETUP + g.source  # the reproducer needs the simulated device registered first
    return g


def draw_graph(data, backend, device="cpu", graphs=GRAPHS, uses=()):
    return build(backend, data.draw(graphs, label="blueprint"), device, uses)


def read(g, loc: md.Location):
    obj = getattr(g.node(loc.node), loc.name)
    return obj.grad if loc.what == "grad" else obj


def locations(g, grads=True) -> list:
    return [loc for loc in md.locations(g.blueprint) if grads or loc.what != "grad"]


def observe(g, field: str, grads=True) -> list:
    """``[(label, field)]`` of every reachable tensor; field: ``device``, ``dtype`` or ``requires_grad``."""
    value = {"device": lambda t: str(t.device), "dtype": lambda t: str(t.dtype).removeprefix("torch."),
             "requires_grad": lambda t: t.requires_grad}[field]
    return [(loc.label, value(read(g, loc))) for loc in locations(g, grads)]


def printed(g, field: str) -> str:
    return "print([" + ", ".join(f"{loc.label}.{field}" for loc in md.locations(g.blueprint)) + "])"


def expected_devices(g, src: str, dst: str, grads=True) -> list:
    return [(loc.label, canonical(md.device_after_move(loc, src, dst))) for loc in locations(g, grads)]


def expected_value(g, bp, loc, dtype=None):
    spec = bp.tensors[loc.tensor]
    value = g.namespace["_t"](spec.shape, getattr(torch, spec.dtype), md.value_seed(bp, loc))
    return value.to(getattr(torch, dtype)) if dtype else value


def _bits(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().to("cpu").contiguous().reshape(-1)
    return t if t.dtype is torch.bool else t.view(torch.uint8)


def differing_values(g, expected_bp=None, dtype=None, only=None) -> list[str]:
    """Labels whose values are not bit-identical to the blueprint's (``expected_bp`` for a tensor, when given);
    ``only``: just these tensors, not their grads."""
    out = []
    for loc in md.locations(g.blueprint):
        if only is not None and (loc.tensor not in only or loc.what == "grad"):
            continue
        bp = expected_bp(loc) if callable(expected_bp) else g.blueprint
        want = expected_value(g, bp, loc, md.dtype_after_to(g.blueprint, loc, dtype) if dtype else None)
        got = read(g, loc)
        if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(_bits(got), _bits(want)):
            out.append(loc.label)
    return out


def move(g, call: str, setting: str):
    with conversion_setting(setting):
        return eval(f"root.{call}", {"torch": torch, "root": g.root})  # our own call text


def check_returns_self(g, out, steps: str):
    """``steps``: the reproducer lines up to ``out = root.<call>``."""
    expect_true(out is g.root, call=steps + "print(out is root)", actual=type(out).__name__, expected="root itself", graph=g)


@invariant("dev.move.lands")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_lands(data, backend, device, setting):
    g = draw_graph(data, backend, uses=[device])
    call = f"to({device!r})"
    check_returns_self(g, move(g, call, setting), FLAG_LINES[setting] + f"out = root.{call}\n")
    expect_equal(observe(g, "device"), expected_devices(g, "cpu", device),
                 call=FLAG_LINES[setting] + f"root.{call}\n" + printed(g, "device"), graph=g)


@invariant("dev.move.round_trip")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_round_trip_bit_identical(data, backend, device_pair, setting):
    src, dst = device_pair
    g = draw_graph(data, backend, src, uses=device_pair)
    there = FLAG_LINES[setting] + f"root.to({dst!r})\n"
    move(g, f"to({dst!r})", setting)
    expect_equal(observe(g, "device"), expected_devices(g, src, dst), call=there + printed(g, "device"), graph=g)
    back = there + f"root.to({src!r})\n"
    move(g, f"to({src!r})", setting)
    expect_equal(observe(g, "device"), expected_devices(g, src, src), call=back + printed(g, "device"), graph=g)
    kept = {"dtype": lambda loc: g.blueprint.tensors[loc.tensor].dtype,
            "requires_grad": lambda loc: md.requires_grad(g.blueprint, loc)}
    for field, expected in kept.items():
        expect_equal(observe(g, field), [(loc.label, expected(loc)) for loc in md.locations(g.blueprint)],
                     call=back + printed(g, field), graph=g)
    expect_equal(differing_values(g), [], call=back + printed(g, "tolist()"), graph=g,
                 problem="values are not bit-identical after the round trip")


@invariant("dev.move.named_method")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_named_method_moves_like_to(data, backend, device_pair, setting):
    src, dst = device_pair
    for device in device_pair:
        if not hasattr(torch.nn.Module, device.partition(":")[0]):
            pytest.skip(f"nn.Module has no {device.partition(':')[0]}() method")
    g = draw_graph(data, backend, src, uses=device_pair)
    steps = ""
    for target in (dst, src):
        kind, _, index = target.partition(":")
        call = f"{kind}({index})"
        steps += FLAG_LINES[setting] + f"out = root.{call}\n"
        check_returns_self(g, move(g, call, setting), steps)
        expect_equal(observe(g, "device"), expected_devices(g, src, target), call=steps + printed(g, "device"), graph=g)
    expect_equal(differing_values(g), [], call=steps + printed(g, "tolist()"), graph=g,
                 problem="values changed by the named-method round trip")


@invariant("dev.move.to_device_dtype")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_to_device_and_dtype_in_one_call(data, backend, device, setting):
    g = draw_graph(data, backend, uses=[device])
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    call = f"to({device!r}, torch.{dtype})"
    check_returns_self(g, move(g, call, setting), FLAG_LINES[setting] + f"out = root.{call}\n")
    steps = FLAG_LINES[setting] + f"root.{call}\n"
    expect_equal(observe(g, "device"), expected_devices(g, "cpu", device), call=steps + printed(g, "device"), graph=g)
    expected = [(loc.label, md.dtype_after_to(g.blueprint, loc, dtype)) for loc in md.locations(g.blueprint)]
    expect_equal(observe(g, "dtype"), expected, call=steps + printed(g, "dtype"), graph=g)
    if device != "meta":
        expect_equal(differing_values(g, dtype=dtype), [], call=steps + printed(g, "tolist()"), graph=g)


@invariant("dev.move.non_blocking")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_non_blocking_same_after_sync(data, backend, device_pair, setting):
    src, dst = device_pair
    g = draw_graph(data, backend, src, uses=device_pair)
    steps = ""
    for start, target in ((src, dst), (dst, src)):
        # nnsim -> cpu cannot be non-blocking: it needs pinned CPU memory, which the PrivateUse1 Python
        # hooks cannot allocate (no getPinnedMemoryAllocator); that hop is a plain move.
        blocking = SIM in start and target == "cpu"
        call = f"to({target!r}{'' if blocking else ', non_blocking=True'})"
        steps += FLAG_LINES[setting] + f"out = root.{call}\n"
        check_returns_self(g, move(g, call, setting), steps)
        sync(target)
        expect_equal(observe(g, "device"), expected_devices(g, src, target), call=steps + printed(g, "device"), graph=g)
        expect_equal(differing_values(g), [], call=steps + printed(g, "tolist()"), graph=g)


@invariant("dev.state_dict.across_devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_state_dict_loads_across_devices(data, backend, device_pair, setting):
    src, dst = device_pair
    bp = data.draw(GRAPHS, label="blueprint")
    source, target = build(backend, bp, src, device_pair), build(backend, md.reseeded(bp), dst)
    with conversion_setting(setting):
        target.root.load_state_dict(source.root.state_dict())
    call = (f"target = {{}}\nexec({target.source!r}, target)  # the same graph, other values, on {dst!r}\n"
            + "target = target['root']\n" + FLAG_LINES[setting] + "target.load_state_dict(root.state_dict())\n"
            + "print(target.state_dict())")
    # Gradients are not part of a state dict (and a load under the swap setting drops them): not checked here.
    expect_equal(observe(target, "device", grads=False), expected_devices(target, dst, dst, grads=False),
                 call=call, graph=source)
    loaded = md.loaded_tensors(bp)
    every = set(range(len(bp.tensors)))  # parameters, buffers and plain attributes, not grads
    expect_equal(differing_values(target, lambda loc: bp if loc.tensor in loaded else target.blueprint, only=every),
                 [], call=call, graph=source, problem="target values are not the source's persistent state")


@invariant("dev.construct.device_context")
@given(data=st.data())
def test_construction_under_device_context(data, backend, device):
    g = draw_graph(data, backend, device)
    expect_equal(observe(g, "device"), expected_devices(g, device, device), call=printed(g, "device"), graph=g)
    if device != "meta":
        expect_equal(differing_values(g), [], call=printed(g, "tolist()"), graph=g)


def _to_empty_then_load(backend, bp, device, setting):
    g, twin = build(backend, bp, uses=[device]), build(backend, bp)
    steps = (f"twin = {{}}\nexec({g.source!r}, twin)  # the same program run again\ntwin = twin['root']\n"
             + FLAG_LINES[setting] + f"root.to('meta')\nout = root.to_empty(device={device!r})\n")
    move(g, "to('meta')", setting)
    check_returns_self(g, move(g, f"to_empty(device={device!r})", setting), steps)
    expect_equal(observe(g, "device"), expected_devices(g, "cpu", device), call=steps + printed(g, "device"), graph=g)
    shapes = [(loc.label, (tuple(read(g, loc).shape), str(read(g, loc).dtype).removeprefix("torch.")))
              for loc in md.locations(bp)]
    expected = [(loc.label, (bp.tensors[loc.tensor].shape, bp.tensors[loc.tensor].dtype)) for loc in md.locations(bp)]
    expect_equal(shapes, expected, call=steps + printed(g, "shape") + "\n" + printed(g, "dtype"), graph=g)
    with conversion_setting(setting):
        g.root.load_state_dict(twin.root.state_dict())
    steps += "root.load_state_dict(twin.state_dict())\n"
    expect_equal(differing_values(g, only=md.loaded_tensors(bp)), [], call=steps + printed(g, "tolist()"), graph=g,
                 problem="load_state_dict after to_empty did not restore the state dict's values")


@invariant("conv.to_empty")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_meta_to_empty_load_restores(data, backend, data_device, setting):
    _to_empty_then_load(backend, data.draw(blueprints(max_nodes=4, ties=False, kinds=NO_LSTM), label="blueprint"),
                        data_device, setting)


@invariant("conv.to_empty")
@pytest.mark.parametrize("setting", SETTINGS)
def test_meta_then_to_empty_then_load_restores(backend, data_device, setting):
    """The fixed example: an LSTM, whose class overrides _apply and keeps weak references to its weights."""
    _to_empty_then_load(backend, LSTM_ONLY, data_device, setting)


def _sharing(g, what: str) -> list:
    """For each object the blueprint names more than once: the labels reading back the same object as the first."""
    return [[loc.label for loc in group if read(g, loc) is read(g, group[0])] for group in md.tie_groups(g.blueprint, what)]


def _check_sharing(g, what, device, setting):
    call = f"to({device!r})"
    move(g, call, setting)
    groups = md.tie_groups(g.blueprint, what)
    expect_equal(_sharing(g, what), [[loc.label for loc in group] for group in groups], graph=g,
                 call=FLAG_LINES[setting] + f"root.{call}\nprint([{', '.join(f'{l.label} is {gr[0].label}' for gr in groups for l in gr[1:])}])",
                 problem=f"a move broke the sharing of {what}s (names of one object before the move)")


@invariant("dev.move.keeps_parameter_ties")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_keeps_tied_parameters(data, backend, device, setting):
    _check_sharing(draw_graph(data, backend, graphs=tied_parameters(), uses=[device]), "param", device, setting)


@invariant("dev.move.keeps_parameter_ties")
@pytest.mark.parametrize("setting", SETTINGS)
def test_move_keeps_parameter_ties(backend, device, setting):
    """The fixed example: a parameter tied to an LSTM weight."""
    _check_sharing(build(backend, TIED_LSTM, uses=[device]), "param", device, setting)


@invariant("dev.move.keeps_shared_buffers")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_keeps_shared_buffers(data, backend, device, setting):
    _check_sharing(draw_graph(data, backend, graphs=shared_buffers(), uses=[device]), "buffer", device, setting)


@invariant("dev.move.parameter_objects")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_parameter_objects_by_setting(data, backend, device, setting):
    g = draw_graph(data, backend, uses=[device])
    params = [loc for loc in md.locations(g.blueprint) if loc.what == "param"]
    call = f"to({device!r})"
    move(g, call, setting)
    same = setting != "overwrite"  # overwrite: "assign new tensors to the parameters"
    actual = [(loc.label, read(g, loc) is g.tensor(loc.tensor)) for loc in params]
    expect_equal(actual, [(loc.label, same) for loc in params], graph=g,
                 call=f"before = [{', '.join(l.label for l in params)}]\n" + FLAG_LINES[setting] + f"root.{call}\n"
                 + f"print([a is b for a, b in zip(before, [{', '.join(l.label for l in params)}])])")


@invariant("conv.meta")
@given(data=st.data())
def test_to_meta_keeps_parameters_and_refuses_copy_back(data, backend):
    """``to('meta')`` keeps every parameter an ``nn.Parameter``; copying back to cpu must raise."""
    g = draw_graph(data, backend, uses=["meta"])
    g.root.to("meta")
    params = [loc for loc in md.locations(g.blueprint) if loc.what == "param"]
    expect_equal([(loc.label, type(read(g, loc)).__name__) for loc in params],
                 [(loc.label, "Parameter") for loc in params],
                 call="root.to('meta')\n" + printed(g, "__class__.__name__"), graph=g)
    if any(loc.what in ("param", "buffer") for loc in md.locations(g.blueprint)):
        expect_raises(NotImplementedError, lambda: g.root.to("cpu"), call="root.to('meta')\nroot.to('cpu')", graph=g,
                      match="Cannot copy out of meta tensor; no data! Please use torch.nn.Module.to_empty() instead")


@invariant("conv.to_empty")
def test_to_empty_device_is_keyword_only():
    m = torch.nn.Module()
    m.register_buffer("b", torch.zeros(1))
    expect_raises(TypeError, lambda: m.to_empty("cpu"), call="m = torch.nn.Module()\nm.to_empty('cpu')")


@invariant("conv.to_empty")
@given(data=st.data())
def test_to_empty_recurse_false_moves_own_tensors_only(data, backend):
    """``to_empty(device='cpu', recurse=False)`` on a meta graph: the root's own parameters and
    buffers land on cpu, every descendant's stay on meta. (No ties, so each slot holds its own.)"""
    g = build(backend, data.draw(blueprints(max_nodes=4, ties=False), label="blueprint"), device="meta", uses=["meta"])
    g.root.to_empty(device="cpu", recurse=False)
    root = g.blueprint.root
    registered = [loc for loc in md.locations(g.blueprint) if loc.what in ("param", "buffer")]
    expect_equal([(loc.label, read(g, loc).device.type) for loc in registered],
                 [(loc.label, "cpu" if loc.node == root else "meta") for loc in registered],
                 call="root.to_empty(device='cpu', recurse=False)\n" + printed(g, "device"), graph=g)
