"""Device moves: where parameters, buffers, gradients and plain attributes land, and what a move keeps.

Targets come from ``--device`` through ``conformance.devices``: ``device`` (a move target: meta,
the simulated accelerator nnsim, cuda...), ``data_device`` (one that holds data) and
``device_pair`` (``(src, dst)``). Every move runs under the three settings of the
``torch.__future__`` conversion flags (``[default]``, ``[overwrite]``, ``[swap]``): the step that
moves starts with the setting's flag lines and runs with the flags set around it, restored in
``finally`` (``conformance.flags``). Every move and every observation is a step of the handle
(Note [one source per call]); tensors are read through ``root`` at the paths the reference model
gives them. Expectations come from the blueprint (``model_devices``); values are the builder's
``_t(shape, dtype, seed)``, compared bit for bit.
"""
import keyword
import warnings
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import model_devices as md
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.devices import SIM
from conformance.flags import SETTINGS, run_under
from conformance.handle import script
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import blueprints
from strategies.blueprint import FLOAT_DTYPES, Blueprint, Node, Slot, TensorSpec
from strategies.graphs import NODE_KINDS

# Each property gets the profile's example budget per device, split across the three settings.
PER_SETTING = settings(max_examples=max(1, settings.default.max_examples // len(SETTINGS)))

# -- graphs -----------------------------------------------------------------------------------------
# Ties are left to the sharing tests, and LSTMs (whose class overrides _apply and keeps weak references
# to its weights) to fixed examples: under the swap setting a tied or loaded LSTM weight cannot be
# swapped (evidence/swap_lstm_weakref.py), which would hide every other swap finding.
NO_LSTM = tuple(k for k in NODE_KINDS if k != "LSTM")
GRAPHS = blueprints(max_nodes=4, ties=False)
TO_EMPTY_GRAPHS = blueprints(max_nodes=4, ties=False, kinds=NO_LSTM)
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


TIED_PARAMETER_GRAPHS = tied_parameters()
SHARED_BUFFER_GRAPHS = shared_buffers()


# -- helpers ----------------------------------------------------------------------------------------
def canonical(device: str) -> str:
    """How a tensor reports ``device``: ``nnsim`` -> ``nnsim:0``; cpu and meta have no index."""
    return device if ":" in device or device in ("cpu", "meta") else f"{device}:0"


def build_fixed(backend, bp, device="cpu", uses=()):
    """A fixed blueprint built like ``draw_graph`` builds a drawn one (``uses``: the devices the test
    moves it to)."""
    if not backend.admits(bp):
        pytest.skip(f"backend {backend.name} does not admit this fixed example")
    return backend.build(bp, device=None if device == "cpu" else device, uses=uses)


def locations(h, grads=True) -> list:
    return [loc for loc in md.locations(h.blueprint) if grads or loc.what != "grad"]


def ref(h, loc: md.Location) -> str:
    """Source text reading ``loc`` through ``root``."""
    owner = h.node_ref(loc.node)
    text = f"{owner}.{loc.name}" if loc.name.isidentifier() and not keyword.iskeyword(loc.name) else \
        f"getattr({owner}, {loc.name!r})"
    return text + ".grad" if loc.what == "grad" else text


def listing(h, locs, field: str = "") -> str:
    """A step's expression: ``[<loc>.<field>, ...]`` over ``locs``."""
    return "[" + ", ".join(ref(h, loc) + field for loc in locs) + "]"


FIELDS = {"device": str, "dtype": lambda d: str(d).removeprefix("torch."), "requires_grad": bool,
          "shape": tuple, "__class__.__name__": str, "device.type": str}


def observe(h, field: str, grads=True) -> list:
    """``[(label, field)]`` of every reachable tensor, read by a step through ``root``."""
    locs = locations(h, grads)
    values = h.run(listing(h, locs, "." + field))
    return [(loc.label, FIELDS[field](v)) for loc, v in zip(locs, values)]


def expected_devices(h, src: str, dst: str, grads=True) -> list:
    return [(loc.label, canonical(md.device_after_move(loc, src, dst))) for loc in locations(h, grads)]


def expected_value(h, bp, loc, dtype=None):
    spec = bp.tensors[loc.tensor]
    value = h.namespace["_t"](spec.shape, getattr(torch, spec.dtype), md.value_seed(bp, loc))
    return value.to(getattr(torch, dtype)) if dtype else value


def _bits(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().to("cpu").contiguous().reshape(-1)
    return t if t.dtype is torch.bool else t.view(torch.uint8)


def differing_values(h, expected_bp=None, dtype=None, only=None) -> list[str]:
    """Labels whose values (read by one step through ``root``) are not bit-identical to the
    blueprint's (``expected_bp(loc)``'s, when given); ``only``: just these tensors, not their grads."""
    locs = [loc for loc in md.locations(h.blueprint)
            if only is None or (loc.tensor in only and loc.what != "grad")]
    held = h.run(listing(h, locs))
    out = []
    for loc, got in zip(locs, held):
        bp = expected_bp(loc) if callable(expected_bp) else h.blueprint
        want = expected_value(h, bp, loc, md.dtype_after_to(h.blueprint, loc, dtype) if dtype else None)
        if (not isinstance(got, torch.Tensor) or got.dtype != want.dtype or got.shape != want.shape
                or not torch.equal(_bits(got), _bits(want))):
            out.append(loc.label)
    return out


def sync_line(device: str) -> str:
    """The reproducer line that waits for queued copies on ``device`` (``conformance.devices.sync``)."""
    kind = device.partition(":")[0]
    module = getattr(torch, kind, None)
    if kind not in ("cpu", "meta", SIM) and module is not None and hasattr(module, "synchronize"):
        return f"torch.{kind}.synchronize()\n"
    return ""


def check_returns_self(h, setting: str, code: str):
    """Run ``out = root.<...>`` (``code``) as one step under ``setting``; it must return root itself."""
    same, kind = run_under(h, setting, code + "out is root, type(out).__name__")
    expect_true(same, h, actual=kind, expected="root itself", problem="a move must return self")


def rebuild(h, name: str, program: str, note: str):
    """A step that runs ``program`` (another build's whole program) in a fresh namespace and binds
    its root as ``name``; torch's global RNG (layer initialisation draws from it) is kept. The
    namespace shares ``__name__``, so the program's generated classes resolve to the ones already
    defined (with their source, which ``torch.jit.script`` reads)."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        h.run(f"{name} = {{'__name__': __name__}}\nexec(program, {name})  # {note}\n{name} = {name}['root']",
              program=program)


@invariant("dev.move.lands")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_lands(data, backend, device, setting):
    h = draw_graph(data, backend, GRAPHS, uses=[device])
    check_returns_self(h, setting, f"out = root.to({device!r})\n")
    expect_equal(observe(h, "device"), expected_devices(h, "cpu", device), h)


@invariant("dev.move.round_trip")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_round_trip_bit_identical(data, backend, device_pair, setting):
    src, dst = device_pair
    h = draw_graph(data, backend, GRAPHS, device=src, uses=device_pair)
    run_under(h, setting, f"out = root.to({dst!r})")
    expect_equal(observe(h, "device"), expected_devices(h, src, dst), h)
    run_under(h, setting, f"out = root.to({src!r})")
    expect_equal(observe(h, "device"), expected_devices(h, src, src), h)
    kept = {"dtype": lambda loc: h.blueprint.tensors[loc.tensor].dtype,
            "requires_grad": lambda loc: md.requires_grad(h.blueprint, loc)}
    for field, expected in kept.items():
        expect_equal(observe(h, field), [(loc.label, expected(loc)) for loc in md.locations(h.blueprint)], h)
    expect_equal(differing_values(h), [], h, problem="values are not bit-identical after the round trip")


@invariant("dev.move.named_method")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_named_method_moves_like_to(data, backend, device_pair, setting):
    src, dst = device_pair
    for device in device_pair:
        if not hasattr(torch.nn.Module, device.partition(":")[0]):
            pytest.skip(f"nn.Module has no {device.partition(':')[0]}() method")
    h = draw_graph(data, backend, GRAPHS, device=src, uses=device_pair)
    for target in (dst, src):
        kind, _, index = target.partition(":")
        check_returns_self(h, setting, f"out = root.{kind}({index})\n")
        expect_equal(observe(h, "device"), expected_devices(h, src, target), h)
    expect_equal(differing_values(h), [], h, problem="values changed by the named-method round trip")


@invariant("dev.move.to_device_dtype")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_to_device_and_dtype_in_one_call(data, backend, device, setting):
    h = draw_graph(data, backend, GRAPHS, uses=[device])
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    check_returns_self(h, setting, f"out = root.to({device!r}, torch.{dtype})\n")
    expect_equal(observe(h, "device"), expected_devices(h, "cpu", device), h)
    expected = [(loc.label, md.dtype_after_to(h.blueprint, loc, dtype)) for loc in md.locations(h.blueprint)]
    expect_equal(observe(h, "dtype"), expected, h)
    if device != "meta":
        expect_equal(differing_values(h, dtype=dtype), [], h)


@invariant("dev.move.non_blocking")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_non_blocking_same_after_sync(data, backend, device_pair, setting):
    src, dst = device_pair
    h = draw_graph(data, backend, GRAPHS, device=src, uses=device_pair)
    for start, target in ((src, dst), (dst, src)):
        # nnsim -> cpu cannot be non-blocking: it needs pinned CPU memory, which the PrivateUse1 Python
        # hooks cannot allocate (no getPinnedMemoryAllocator); that hop is a plain move.
        blocking = SIM in start and target == "cpu"
        call = f"to({target!r}{'' if blocking else ', non_blocking=True'})"
        check_returns_self(h, setting, f"out = root.{call}\n" + sync_line(target))
        expect_equal(observe(h, "device"), expected_devices(h, src, target), h)
        expect_equal(differing_values(h), [], h)


@invariant("dev.state_dict.across_devices")
@needs("devices", "load")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_state_dict_loads_across_devices(data, backend, device_pair, setting):
    src, dst = device_pair
    # The object under test is the target, on dst; the source is the same graph with other values,
    # on src, built by the reproducer from its own program.
    h = draw_graph(data, backend, GRAPHS, device=dst, uses=device_pair)
    bp, source_bp = h.blueprint, md.reseeded(h.blueprint)
    program = backend.build(source_bp, device=None if src == "cpu" else src, uses=device_pair).program
    rebuild(h, "source", program, f"the same graph, other values, on {src!r}")
    run_under(h, setting, "root.load_state_dict(source.state_dict())")
    # Gradients are not part of a state dict (and a load under the swap setting drops them): not checked here.
    expect_equal(observe(h, "device", grads=False), expected_devices(h, dst, dst, grads=False), h)
    loaded = md.loaded_tensors(bp)
    every = set(range(len(bp.tensors)))  # parameters, buffers and plain attributes, not grads
    expect_equal(differing_values(h, lambda loc: source_bp if loc.tensor in loaded else bp, only=every),
                 [], h, problem="target values are not the source's persistent state")


@invariant("dev.construct.device_context")
@needs("devices")
@given(data=st.data())
def test_construction_under_device_context(data, backend, device):
    h = draw_graph(data, backend, GRAPHS, device=device)
    expect_equal(observe(h, "device"), expected_devices(h, device, device), h)
    if device != "meta":
        expect_equal(differing_values(h), [], h)


def _to_empty_then_load(h, device, setting):
    """``h`` built on cpu; its twin is the same program run again (the state dict to load)."""
    bp = h.blueprint
    rebuild(h, "twin", h.program, "the same program run again")
    check_returns_self(h, setting, f"out = root.to('meta')\nout = root.to_empty(device={device!r})\n")
    expect_equal(observe(h, "device"), expected_devices(h, "cpu", device), h)
    shapes = [(label, (shape, dtype)) for (label, shape), (_, dtype) in zip(observe(h, "shape"), observe(h, "dtype"))]
    expected = [(loc.label, (bp.tensors[loc.tensor].shape, bp.tensors[loc.tensor].dtype)) for loc in md.locations(bp)]
    expect_equal(shapes, expected, h)
    run_under(h, setting, "root.load_state_dict(twin.state_dict())")
    expect_equal(differing_values(h, only=md.loaded_tensors(bp)), [], h,
                 problem="load_state_dict after to_empty did not restore the state dict's values")


@invariant("conv.to_empty")
@needs("to_empty", "devices", "load")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_meta_to_empty_load_restores(data, backend, data_device, setting):
    _to_empty_then_load(draw_graph(data, backend, TO_EMPTY_GRAPHS, uses=[data_device]), data_device, setting)


@invariant("conv.to_empty")
@needs("to_empty", "devices", "load")
@pytest.mark.parametrize("setting", SETTINGS)
def test_meta_then_to_empty_then_load_restores(backend, data_device, setting):
    """The fixed example: an LSTM, whose class overrides _apply and keeps weak references to its weights."""
    _to_empty_then_load(build_fixed(backend, LSTM_ONLY, uses=[data_device]), data_device, setting)


def _check_sharing(h, what, device, setting):
    """For each object the blueprint names more than once: the labels reading back, after the
    move, the same object as the first name."""
    groups = md.tie_groups(h.blueprint, what)
    run_under(h, setting, f"out = root.to({device!r})")
    same = h.run("[" + ", ".join("[" + ", ".join(f"{ref(h, loc)} is {ref(h, group[0])}" for loc in group) + "]"
                                 for group in groups) + "]")
    expect_equal([[loc.label for loc, kept in zip(group, row) if kept] for group, row in zip(groups, same)],
                 [[loc.label for loc in group] for group in groups], h,
                 problem=f"a move broke the sharing of {what}s (names of one object before the move)")


@invariant("dev.move.keeps_parameter_ties")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_keeps_tied_parameters(data, backend, device, setting):
    _check_sharing(draw_graph(data, backend, TIED_PARAMETER_GRAPHS, uses=[device]), "param", device, setting)


@invariant("dev.move.keeps_parameter_ties")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
def test_move_keeps_parameter_ties(backend, device, setting):
    """The fixed example: a parameter tied to an LSTM weight."""
    _check_sharing(build_fixed(backend, TIED_LSTM, uses=[device]), "param", device, setting)


@invariant("dev.move.keeps_shared_buffers")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_keeps_shared_buffers(data, backend, device, setting):
    _check_sharing(draw_graph(data, backend, SHARED_BUFFER_GRAPHS, uses=[device]), "buffer", device, setting)


@invariant("dev.move.parameter_objects")
@needs("devices")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_move_parameter_objects_by_setting(data, backend, device, setting):
    h = draw_graph(data, backend, GRAPHS, uses=[device])
    params = [loc for loc in md.locations(h.blueprint) if loc.what == "param"]
    h.run(f"before = {listing(h, params)}")
    run_under(h, setting, f"out = root.to({device!r})")
    kept = h.run(f"[a is b for a, b in zip(before, {listing(h, params)})]")
    same = setting != "overwrite"  # overwrite: "assign new tensors to the parameters"
    expect_equal([(loc.label, k) for loc, k in zip(params, kept)], [(loc.label, same) for loc in params], h)


@invariant("conv.meta")
@needs("devices")
@given(data=st.data())
def test_to_meta_keeps_parameters_and_refuses_copy_back(data, backend):
    """``to('meta')`` keeps every parameter an ``nn.Parameter``; copying back to cpu must raise."""
    h = draw_graph(data, backend, GRAPHS, uses=["meta"])
    h.run("out = root.to('meta')")
    params = [loc for loc in md.locations(h.blueprint) if loc.what == "param"]
    classes = h.run(listing(h, params, ".__class__.__name__"))
    expect_equal([(loc.label, c) for loc, c in zip(params, classes)], [(loc.label, "Parameter") for loc in params], h)
    if any(loc.what in ("param", "buffer") for loc in md.locations(h.blueprint)):
        expect_raises(h, "root.to('cpu')", NotImplementedError,
                      match="Cannot copy out of meta tensor; no data! Please use torch.nn.Module.to_empty() instead")


@invariant("conv.to_empty")
@needs("to_empty")
def test_to_empty_device_is_keyword_only(backend):
    h = script("root = nn.Module()\nroot.register_buffer('b', torch.zeros(1))", backend=backend)
    expect_raises(h, "root.to_empty('cpu')", TypeError)


@invariant("conv.to_empty")
@needs("to_empty", "devices")
@given(data=st.data())
def test_to_empty_recurse_false_moves_own_tensors_only(data, backend):
    """``to_empty(device='cpu', recurse=False)`` on a meta graph: the root's own parameters and
    buffers land on cpu, every descendant's stay on meta. (No ties, so each slot holds its own.)"""
    h = draw_graph(data, backend, GRAPHS, device="meta", uses=["meta"])
    h.run("out = root.to_empty(device='cpu', recurse=False)")
    root = h.blueprint.root
    registered = [loc for loc in md.locations(h.blueprint) if loc.what in ("param", "buffer")]
    kinds = h.run(listing(h, registered, ".device.type"))
    expect_equal([(loc.label, k) for loc, k in zip(registered, kinds)],
                 [(loc.label, "cpu" if loc.node == root else "meta") for loc in registered], h)
