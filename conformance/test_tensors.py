"""Rich tensors: complex dtypes, views sharing one storage, transposed and channels-last layouts,
zero-size tensors and grads, through casts, moves, copies and loads; and graphs built under a
device context (issue 11, parts 4 and 5).

Graphs come from ``strategies.rich_blueprints`` (Note [rich tensors] in ``conformance/build.py``
for what the program renders). Expectations come from ``conformance.model_tensors`` (rules
[T1]-[T6]); every observation is a step through ``root`` (or through the copy a step made), reading
each registered tensor once, at its first location. Values are compared bit for bit with the
builder's ``_t``/``_c(shape, dtype, seed)`` (sliced for a view), cast with ``Tensor.to`` where the
model says the tensor is cast. Storage sharing is read as ``untyped_storage().data_ptr()`` of
tensors with elements on a device that holds data. Casts run under each ``torch.__future__``
conversion setting (``conformance.flags``); the rest under the default one.
"""
import keyword
import warnings
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import model_devices as md
from conformance import model_tensors as mt
from conformance.check import expect_equal
from conformance.flags import SETTINGS, run_under
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import blueprints, rich_blueprints
from strategies.blueprint import COMPLEX_DTYPES, Blueprint, Node, Slot, TensorSpec

GRAPHS = rich_blueprints(blueprints(max_nodes=4))


@st.composite
def with_views(draw, roles: tuple[str, ...], dtypes=("float32", "complex64", "float64")):
    """A rich graph whose root (a Module, added when the graph's root is another kind) also
    registers two new tensors that are views of one storage, with roles drawn from ``roles``: so
    every example has storage sharing to keep."""
    bp = draw(GRAPHS)
    if bp.nodes[bp.root].kind != "Module":
        bp = replace(bp, nodes=bp.nodes + (Node("Module", (Slot("child", "m0", bp.root),)),))
    dtype = draw(st.sampled_from(dtypes), label="view dtype")
    held = draw(st.booleans(), label="base is held")
    tensors, slots = list(bp.tensors), []
    base = len(tensors)
    tensors.append(TensorSpec((6,), dtype, seed=base))
    if held:
        role = draw(st.sampled_from(roles), label="base role")
        slots.append(Slot(role, "vbase", base))
    for k in range(1 if held else 2):
        role = draw(st.sampled_from(roles), label="view role")
        offset = draw(st.integers(0, 3), label="offset")
        shape = draw(st.sampled_from(((3,), (1, 3), (3, 1), ())), label="view shape")
        tensors.append(TensorSpec(shape, dtype, requires_grad=role == "param", seed=len(tensors), view_of=base,
                                  offset=offset))
        slots.append(Slot(role, f"v{k}", len(tensors) - 1))
    root = bp.nodes[-1]
    nodes = bp.nodes[:-1] + (replace(root, slots=root.slots + tuple(slots)),)
    return Blueprint(nodes, tuple(tensors))


SHARING_GRAPHS = with_views(("param", "buffer"))
# Casts: most graphs hold complex views (complex and real dtypes are where the cast rules differ).
CAST_GRAPHS = with_views(("param", "buffer"), dtypes=("complex64", "float32", "complex128"))


@st.composite
def with_shared(draw, what: str):
    """A rich graph whose root (a Module, added when needed) also registers one new tensor under two
    names (``what``: a tied parameter or a shared buffer), the second on a drawn Module node."""
    bp = draw(GRAPHS)
    if bp.nodes[bp.root].kind != "Module":
        bp = replace(bp, nodes=bp.nodes + (Node("Module", (Slot("child", "m0", bp.root),)),))
    dtype = draw(st.sampled_from(("float32", "complex64", "float64")), label="shared dtype")
    t = len(bp.tensors)
    tensors = bp.tensors + (TensorSpec((2,), dtype, requires_grad=what == "param", seed=t),)
    other = draw(st.sampled_from([i for i in bp.reachable() if bp.nodes[i].kind == "Module"]), label="second holder")
    nodes = list(bp.nodes)
    for i, name in ((bp.root, "s0"), (other, "s1")):
        persistent = what == "param" or draw(st.booleans(), label="persistent")
        nodes[i] = replace(nodes[i], slots=nodes[i].slots + (Slot(what, name, t, persistent),))
    return Blueprint(tuple(nodes), tensors)


@st.composite
def with_4d(draw):
    """A rich graph whose root (a Module, added when needed) also holds a 4-d parameter (with a
    ``.grad`` about half the time) and a 4-d buffer, each contiguous or channels-last."""
    bp = draw(GRAPHS)
    if bp.nodes[bp.root].kind != "Module":
        bp = replace(bp, nodes=bp.nodes + (Node("Module", (Slot("child", "m0", bp.root),)),))
    tensors, slots = list(bp.tensors), []
    for role in ("param", "buffer"):
        shape = tuple(draw(st.integers(1, 3), label="size") for _ in range(4))
        layout = draw(st.sampled_from(("contiguous", "channels_last")), label="layout")
        dtype = draw(st.sampled_from(("float32", "complex64", "int64")), label="dtype")
        gradable = dtype != "int64"
        tensors.append(TensorSpec(shape, dtype, requires_grad=role == "param" and gradable, seed=len(tensors),
                                  grad=role == "param" and gradable and draw(st.booleans(), label="grad"), layout=layout))
        slots.append(Slot(role, f"f{role[0]}", len(tensors) - 1))
    root = bp.nodes[-1]
    return Blueprint(bp.nodes[:-1] + (replace(root, slots=root.slots + tuple(slots)),), tuple(tensors))


# Part 5: every graph built under a device context holds a tied parameter or a shared buffer.
CONTEXT_GRAPHS = st.one_of(with_shared("param"), with_shared("buffer"))
# how -> (step binding ``clone``, capability it needs of the backend)
COPIES = {
    "deepcopy": ("import copy\nclone = copy.deepcopy(root)", "deepcopy"),
    "pickle": ("import pickle\nclone = pickle.loads(pickle.dumps(root))", "pickle"),
    "torch.save": ("import io\nbuf = io.BytesIO()\ntorch.save(root, buf)\nbuf.seek(0)\nclone = torch.load(buf, weights_only=False)",
                   "pickle"),
}
per_copy = pytest.mark.parametrize("how", [pytest.param(how, marks=needs(cap), id=how) for how, (_, cap) in COPIES.items()])


# -- observing ----------------------------------------------------------------------------------------
def ref(h, loc: md.Location, root: str = "root") -> str:
    """Source text reading ``loc`` through ``root`` (or through another name for a copy of it)."""
    text = root
    for part in [*filter(None, h.names.live(h.paths[loc.node]).split(".")), loc.name]:
        text = f"{text}.{part}" if part.isidentifier() and not keyword.iskeyword(part) else f"getattr({text}, {part!r})"
    return text + ".grad" if loc.what == "grad" else text


def read(h, locs, field: str = "", root: str = "root") -> list:
    """One step: ``[<loc>.<field>, ...]`` through ``root``."""
    return h.run("[" + ", ".join(ref(h, loc, root) + field for loc in locs) + "]")


def labelled(locs, values) -> list:
    return [(loc.label, v) for loc, v in zip(locs, values)]


def dtypes(h, locs, root="root") -> list:
    return labelled(locs, [str(d).removeprefix("torch.") for d in read(h, locs, ".dtype", root)])


def strides(h, locs, root="root") -> list:
    return labelled(locs, [tuple(s) for s in read(h, locs, ".stride()", root)])


def sharing(h, locs, root="root") -> list[list[str]]:
    """Labels grouped by the storage they read (``untyped_storage().data_ptr()``), as the model groups."""
    groups: dict[int, list[str]] = {}
    for loc, ptr in zip(locs, read(h, locs, ".untyped_storage().data_ptr()", root)):
        groups.setdefault(ptr, []).append(loc.label)
    return list(groups.values())


def expected_value(h, source: mt.Source, dtype: str | None = None) -> torch.Tensor:
    make = h.namespace["_c" if source.dtype in COMPLEX_DTYPES else "_t"]
    value = make(source.make_shape, getattr(torch, source.dtype), source.seed)
    if source.start is not None:
        value = value.reshape(-1)[source.start:source.stop]
    value = value.reshape(source.shape)
    if dtype and dtype != source.dtype:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # complex -> real: the imaginary part is discarded (the model's rule)
            value = value.to(getattr(torch, dtype))
    return value


def _bits(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().to("cpu").contiguous().reshape(-1)
    return t if t.dtype is torch.bool else t.view(torch.uint8)


def differing_values(h, bp, locs, dtype_of=None, root="root") -> list[str]:
    """Labels whose values (one step) are not bit-identical to the model's: ``bp``'s sources, cast
    to ``dtype_of(loc)`` when given."""
    out = []
    for loc, got in zip(locs, read(h, locs, root=root)):
        want = expected_value(h, mt.value_source(bp, loc), dtype_of(loc) if dtype_of else None)
        if (not isinstance(got, torch.Tensor) or got.dtype != want.dtype or got.shape != want.shape
                or not torch.equal(_bits(got), _bits(want))):
            out.append(loc.label)
    return out


def model_strides(bp, locs) -> list:
    """[T1] a grad is made contiguous; a parameter or buffer has its layout's strides."""
    return [(loc.label, mt.contiguous_strides(bp.tensors[loc.tensor].shape) if loc.what == "grad"
             else mt.strides(bp, loc.tensor)) for loc in locs]


def model_dtypes(bp, locs, cast=None) -> list:
    own = [bp.tensors[loc.tensor].dtype for loc in locs]
    return [(loc.label, mt.cast_dtype(d, cast) if cast else d) for loc, d in zip(locs, own)]


ALL = ("param", "buffer", "grad")
# Casts run under each torch.__future__ conversion setting, with the profile's budget split across them.
PER_SETTING = settings(max_examples=max(1, settings.default.max_examples // len(SETTINGS)))


def rebuild(h, name: str, program: str, note: str):
    """A step that runs another build's whole ``program`` in a fresh namespace and binds its root as
    ``name`` (as ``test_devices.rebuild``); torch's global RNG (layer initialisation) is kept."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        h.run(f"{name} = {{'__name__': __name__}}\nexec(program, {name})  # {note}\n{name} = {name}['root']",
              program=program)


# -- [T1] as built -----------------------------------------------------------------------------------
@invariant("tens.register.as_given")
@needs("torch-objects")
@given(data=st.data())
def test_registered_as_given(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    bp = h.blueprint
    locs = mt.observed(bp, kinds=ALL)
    expect_equal(dtypes(h, locs), model_dtypes(bp, locs), h)
    expect_equal(strides(h, locs), model_strides(bp, locs), h, problem="strides differ from the layout the program built")
    expect_equal(differing_values(h, bp, locs), [], h, problem="values differ from the program's")
    shared = mt.observed(bp, nonempty=True)
    expect_equal(sharing(h, shared), mt.storage_groups(bp, shared), h,
                 problem="storage sharing differs from the program's views (labels grouped by storage)")


# -- [T2] casts --------------------------------------------------------------------------------------
@invariant("tens.cast.dtype_values")
@needs("torch-objects")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_cast_dtype_values(data, backend, setting):
    h = draw_graph(data, backend, CAST_GRAPHS)
    bp = h.blueprint
    cast = data.draw(st.sampled_from(mt.CASTS), label="cast")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex casts warn (documented behaviour, not checked here)
        run_under(h, setting, f"out = root.{cast.call}")
    locs = mt.observed(bp, kinds=ALL)
    expect_equal(dtypes(h, locs), model_dtypes(bp, locs, cast), h)
    expect_equal(labelled(locs, read(h, locs, ".requires_grad")),
                 [(loc.label, loc.what != "grad" and bp.tensors[loc.tensor].requires_grad) for loc in locs], h)
    expect_equal(strides(h, locs), model_strides(bp, locs), h, problem="a cast changed strides")
    expect_equal(differing_values(h, bp, locs, lambda loc: mt.cast_dtype(bp.tensors[loc.tensor].dtype, cast)), [], h,
                 problem="values are not the model's cast of the built values")


@invariant("tens.cast.storage_sharing")
@pytest.mark.parametrize("setting", SETTINGS)
@PER_SETTING
@given(data=st.data())
def test_cast_storage_sharing(data, backend, setting):
    h = draw_graph(data, backend, SHARING_GRAPHS)
    bp = h.blueprint
    cast = data.draw(st.sampled_from(mt.CASTS), label="cast")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex casts warn (documented behaviour, not checked here)
        run_under(h, setting, f"out = root.{cast.call}")
    locs = mt.observed(bp, nonempty=True)
    expect_equal(sharing(h, locs), mt.storage_groups(bp, locs, fresh=mt.recast(bp, cast)), h,
                 problem="storage sharing after the cast differs from the model (labels grouped by storage)")


@invariant("tens.cast.memory_format")
@given(data=st.data())
def test_memory_format_channels_last(data, backend):
    h = draw_graph(data, backend, with_4d())
    bp = h.blueprint
    h.run("out = root.to(memory_format=torch.channels_last)")
    locs = mt.observed(bp, kinds=ALL)
    four = [loc for loc in locs if len(bp.tensors[loc.tensor].shape) == 4]
    others = [loc for loc in locs if len(bp.tensors[loc.tensor].shape) != 4]
    expect_equal(labelled(four, read(h, four, ".is_contiguous(memory_format=torch.channels_last)")),
                 [(loc.label, True) for loc in four], h, problem="a 4-d tensor is not channels-last")
    expect_equal(strides(h, others), model_strides(bp, others), h, problem="a tensor that is not 4-d changed strides")
    expect_equal(dtypes(h, locs), model_dtypes(bp, locs), h)
    expect_equal(differing_values(h, bp, locs), [], h, problem="values changed")


# -- [T3] moves --------------------------------------------------------------------------------------
@invariant("tens.move.layout_values")
@needs("devices")
@given(data=st.data())
def test_move_layout_values(data, backend, device):
    h = draw_graph(data, backend, GRAPHS, uses=[device])
    bp = h.blueprint
    locs = mt.observed(bp, kinds=ALL)
    h.run(f"out = root.to({device!r})")
    expect_equal(dtypes(h, locs), model_dtypes(bp, locs), h)
    expect_equal(strides(h, locs), model_strides(bp, locs), h, problem=f"strides on {device} differ from the source's")
    if device != "meta":
        h.run("out = root.to('cpu')")
        expect_equal(dtypes(h, locs), model_dtypes(bp, locs), h)
        expect_equal(strides(h, locs), model_strides(bp, locs), h, problem="strides changed by the round trip")
        expect_equal(differing_values(h, bp, locs), [], h, problem="values are not bit-identical after the round trip")


@invariant("tens.move.storage_sharing")
@needs("devices")
@given(data=st.data())
def test_move_storage_sharing(data, backend, data_device):
    h = draw_graph(data, backend, SHARING_GRAPHS, uses=[data_device])
    bp = h.blueprint
    h.run(f"out = root.to({data_device!r})\nout = root.to('cpu')")
    locs = mt.observed(bp, nonempty=True)
    moved = {loc.tensor for loc in locs} if data_device != "cpu" else set()
    expect_equal(sharing(h, locs), mt.storage_groups(bp, locs, fresh=moved), h,
                 problem="storage sharing after the round trip differs from the model (labels grouped by storage)")


# -- [T4] copies -------------------------------------------------------------------------------------
@invariant("tens.copy.layout_values")
@needs("torch-objects")
@per_copy
@given(data=st.data())
def test_copy_layout_values(data, backend, how):
    h = draw_graph(data, backend, GRAPHS)
    bp = h.blueprint
    h.run(COPIES[how][0])
    locs = mt.observed(bp, kinds=ALL)
    expect_equal(dtypes(h, locs, "clone"), model_dtypes(bp, locs), h)
    expect_equal(labelled(locs, read(h, locs, ".requires_grad", "clone")),
                 [(loc.label, loc.what != "grad" and bp.tensors[loc.tensor].requires_grad) for loc in locs], h)
    expect_equal(strides(h, locs, "clone"), model_strides(bp, locs), h, problem="the copy's strides differ")
    expect_equal(differing_values(h, bp, locs, root="clone"), [], h, problem="the copy's values differ")


@invariant("tens.copy.storage_sharing")
@per_copy
@pytest.mark.parametrize("among", ["buffers", "all"])
@given(data=st.data())
def test_copy_storage_sharing(data, backend, how, among):
    """``among``: the buffers only, or every parameter and buffer (parameters have a ``__deepcopy__``
    of their own)."""
    kinds = ("buffer",) if among == "buffers" else ("param", "buffer")
    h = draw_graph(data, backend, with_views(kinds))
    bp = h.blueprint
    h.run(COPIES[how][0])
    locs = mt.observed(bp, kinds=kinds, nonempty=True)
    expect_equal(sharing(h, locs, "clone"), mt.storage_groups(bp, locs), h,
                 problem="the copy's storage sharing differs from the original's (labels grouped by storage)")


# -- [T5] loads --------------------------------------------------------------------------------------
@invariant("tens.load.keeps_destination")
@needs("load")
@given(data=st.data())
def test_load_keeps_destination(data, backend):
    h = draw_graph(data, backend, SHARING_GRAPHS)
    bp = h.blueprint
    source_bp = mt.relayout(md.reseeded(bp))
    source = backend.build(source_bp).program
    rebuild(h, "source", source, "the same graph, other values and layouts")
    h.run("root.load_state_dict(source.state_dict())")
    locs = mt.observed(bp)
    expect_equal(strides(h, locs), model_strides(bp, locs), h, problem="a load changed the destination's strides")
    shared = mt.observed(bp, nonempty=True)
    expect_equal(sharing(h, shared), mt.storage_groups(bp, shared), h,
                 problem="a load changed the destination's storage sharing (labels grouped by storage)")
    loaded = md.loaded_tensors(bp)
    unchecked = mt.aliases_of_loaded(bp)
    checked = [loc for loc in locs if loc.tensor not in unchecked]
    expect_equal(differing_values(h, source_bp, [loc for loc in checked if loc.tensor in loaded]), [], h,
                 problem="loaded values are not the source's")
    expect_equal(differing_values(h, bp, [loc for loc in checked if loc.tensor not in loaded]), [], h,
                 problem="a tensor the state dict does not hold changed")


# -- [T6] device context -----------------------------------------------------------------------------
def _same_objects(h, what: str) -> tuple[list, list]:
    """(actual, expected): for each object the blueprint names more than once (``what``: param or
    buffer), the labels that read back the same object as its first name."""
    groups = md.tie_groups(h.blueprint, what)
    same = h.run("[" + ", ".join("[" + ", ".join(f"{ref(h, loc)} is {ref(h, group[0])}" for loc in group) + "]"
                                 for group in groups) + "]")
    return ([[loc.label for loc, kept in zip(group, row) if kept] for group, row in zip(groups, same)],
            [[loc.label for loc in group] for group in groups])


@invariant("tens.context.builds_on_device")
@needs("devices")
@given(data=st.data())
def test_builds_under_device_context(data, backend, device):
    h = draw_graph(data, backend, CONTEXT_GRAPHS, device=device)
    bp = h.blueprint
    locs = mt.observed(bp, kinds=ALL)
    on = device if ":" in device or device in ("cpu", "meta") else f"{device}:0"
    expect_equal(labelled(locs, map(str, read(h, locs, ".device"))), [(loc.label, on) for loc in locs], h)
    expect_equal(dtypes(h, locs), model_dtypes(bp, locs), h)
    expect_equal(labelled(locs, map(tuple, read(h, locs, ".shape"))),
                 [(loc.label, bp.tensors[loc.tensor].shape) for loc in locs], h)
    expect_equal(strides(h, locs), model_strides(bp, locs), h, problem=f"strides on {device} differ from the layout")
    for what in ("param", "buffer"):
        expect_equal(*_same_objects(h, what), h, problem=f"names of one {what} object are not one object")
    if device != "meta":
        expect_equal(differing_values(h, bp, locs), [], h)


def _meta_then_to_empty(data, backend, graphs=CONTEXT_GRAPHS):
    h = draw_graph(data, backend, graphs, device="meta", uses=["meta"])
    h.run("out = root.to_empty(device='cpu')")
    return h


@invariant("tens.context.to_empty_load")
@needs("to_empty", "devices", "load")
@given(data=st.data())
def test_meta_build_to_empty_load(data, backend):
    h = _meta_then_to_empty(data, backend)
    bp = h.blueprint
    locs = mt.observed(bp)
    expect_equal(labelled(locs, map(str, read(h, locs, ".device"))), [(loc.label, "cpu") for loc in locs], h)
    expect_equal(dtypes(h, locs), model_dtypes(bp, locs), h)
    expect_equal(labelled(locs, map(tuple, read(h, locs, ".shape"))),
                 [(loc.label, bp.tensors[loc.tensor].shape) for loc in locs], h)
    rebuild(h, "twin", backend.build(bp).program, "the same graph built on cpu")
    h.run("root.load_state_dict(twin.state_dict())")
    expect_equal(differing_values(h, bp, mt.state_locations(bp)), [], h,
                 problem="load_state_dict after to_empty did not restore the cpu build's values")


@invariant("tens.context.to_empty_keeps_sharing")
@needs("to_empty", "devices")
@pytest.mark.parametrize("what", ["param", "buffer"])
@given(data=st.data())
def test_meta_build_to_empty_keeps_sharing(data, backend, what):
    h = _meta_then_to_empty(data, backend, with_shared(what))
    expect_equal(*_same_objects(h, what), h,
                 problem=f"to_empty broke the sharing of {what}s (names of one object before the call)")
