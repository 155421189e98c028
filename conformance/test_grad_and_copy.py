"""zero_grad, requires_grad_, share_memory, and copies of a whole module (deepcopy, pickle,
torch.save/torch.load): all-new objects with the same state and the same sharing structure."""
import keyword
import pickle
from functools import reduce

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance import model, model_modes
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import NODE_KINDS, blueprints

GRAPHS = blueprints()
COPY_GRAPHS = blueprints(kinds=NODE_KINDS)
SMALL = blueprints(max_nodes=3)  # small graphs shrink faster

# how -> (step binding ``clone``, capability it needs of the backend)
COPIES = {
    "deepcopy": ("import copy\nclone = copy.deepcopy(root)", "deepcopy"),
    "pickle": ("import pickle\nclone = pickle.loads(pickle.dumps(root))", "pickle"),
    "torch.save": ("import io\nbuf = io.BytesIO()\ntorch.save(root, buf)\nbuf.seek(0)\nclone = torch.load(buf, weights_only=False)",
                   "pickle"),
}
SPEC_IDS = {"deepcopy": "misc.deepcopy_preserves_sharing", "pickle": "misc.pickle_preserves_sharing",
            "torch.save": "misc.torch_save_load"}


def per_copy(ident=None):
    """Parametrize over the copy methods, each under its own invariant (default: the spec's)."""
    return pytest.mark.parametrize("how", [
        pytest.param(how, marks=[invariant(ident or SPEC_IDS[how]), needs(COPIES[how][1])], id=how) for how in COPIES])


def params(h) -> list[int]:
    return model_modes.parameters(h.blueprint)


def _ref(h, t: int) -> str:
    """Source text reaching tensor ``t`` through ``root``: ``h.ref(t)``, with ``getattr`` for a
    member name that is not an identifier (``ParameterList`` entries are ``'0'``, ``'1'``, ...)."""
    _, name = h.tensor_paths[t]
    owner, _, attr = name.rpartition(".")
    base = h.node_ref(owner)
    return f"{base}.{attr}" if attr.isidentifier() and not keyword.iskeyword(attr) else f"getattr({base}, {attr!r})"


def _read(h, items) -> list:
    """One step reading ``<tensor t><suffix>`` through ``root`` for each ``(t, suffix)``; the
    reproducer prints the list the test judges."""
    items = list(items)
    return h.run("[" + ", ".join(f"{_ref(h, t)}{suffix}" for t, suffix in items) + "]") if items else []


def _which(h, obj) -> str:
    """``root`` for the object under test itself, else its label (for messages)."""
    return "root" if obj is h.root else h.label(obj)


# -- zero_grad --------------------------------------------------------------------------------

@invariant("misc.zero_grad")
@given(data=st.data())
def test_zero_grad_set_to_none(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    args = data.draw(st.sampled_from(["", "set_to_none=True"]), label="arguments")
    result = h.run(f"root.zero_grad({args})")
    expect_true(result is None, h, actual=result, expected=None)
    ps = params(h)
    grads = _read(h, [(t, ".grad") for t in ps])
    expect_equal([(f"t{t}", grad) for t, grad in zip(ps, grads)], [(f"t{t}", None) for t in ps], h)


@invariant("misc.zero_grad")
@needs("torch-objects")
@given(data=st.data())
def test_zero_grad_in_place(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    ps = params(h)
    with_grad = [t for t in ps if h.blueprint.tensors[t].grad]
    # A grad that requires grad must stop requiring it.
    tracked = data.draw(st.sets(st.sampled_from(with_grad)) if with_grad else st.just(set()), label="grads requiring grad")
    if tracked:
        h.run("\n".join(f"{_ref(h, t)}.grad.requires_grad_()" for t in sorted(tracked)))
    before = {t: h.tensor(t).grad for t in with_grad}
    result = h.run("root.zero_grad(set_to_none=False)")
    expect_true(result is None, h, actual=result, expected=None)
    after = dict(zip(ps, _read(h, [(t, ".grad") for t in ps])))

    def seen(t):
        grad = after[t]
        if grad is None:
            return None
        return (grad is before.get(t), grad.dtype, tuple(grad.shape), bool((grad == 0).all()), grad.requires_grad)

    def wanted(t):
        spec = h.blueprint.tensors[t]
        return (True, getattr(torch, spec.dtype), spec.shape, True, False) if spec.grad else None

    expect_equal([(f"t{t}", seen(t)) for t in ps], [(f"t{t}", wanted(t)) for t in ps], h,
                 problem="per parameter (same grad object, dtype, shape, all zero, requires_grad) differs")


# -- requires_grad_ ---------------------------------------------------------------------------

def _tensors(bp) -> list[int]:
    """Every reachable tensor: parameters, buffers and plain tensor attributes, each once."""
    return sorted(set(model.tensor_roles(bp)) | {t for _, _, t in model.plain_attributes(bp)})


@invariant("misc.requires_grad_")
@given(data=st.data())
def test_requires_grad_(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    args = data.draw(st.sampled_from(["", "True", "False"]), label="arguments")
    flag = args != "False"
    code = f"root.requires_grad_({args})"
    if model_modes.requires_grad_raises(h.blueprint, flag):
        expect_raises(h, code, RuntimeError, match="floating point")
        return
    result = h.run(code)
    expect_true(result is h.root, h, actual=_which(h, result), expected="root")
    # Parameters take the flag; buffers and plain tensor attributes keep theirs.
    tensors, parameters = _tensors(h.blueprint), set(params(h))
    flags = _read(h, [(t, ".requires_grad") for t in tensors])
    expect_equal([(f"t{t}", f) for t, f in zip(tensors, flags)],
                 [(f"t{t}", flag if t in parameters else h.blueprint.tensors[t].requires_grad) for t in tensors], h)


# -- share_memory -----------------------------------------------------------------------------

@invariant("misc.share_memory")
@given(data=st.data())
def test_share_memory(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    result = h.run("root.share_memory()")
    expect_true(result is h.root, h, actual=_which(h, result), expected="root")
    grads = [t for t in params(h) if h.blueprint.tensors[t].grad]
    items = [(f"t{t}", t, ".is_shared()") for t in sorted(model.tensor_roles(h.blueprint))]
    items += [(f"t{t}.grad", t, ".grad.is_shared()") for t in grads]
    shared = _read(h, [(t, suffix) for _, t, suffix in items])
    actual = [(label, s) for (label, _, _), s in zip(items, shared)]
    expect_equal(actual, [(label, True) for label, _ in actual], h)


# -- copies of the whole module ---------------------------------------------------------------

def _copied(data, backend, how, graphs=COPY_GRAPHS):
    """A drawn graph with some modules put in eval mode, then copied by a step: (handle, copy,
    the nodes put in eval mode)."""
    h = draw_graph(data, backend, graphs)
    evals = data.draw(st.lists(st.sampled_from(h.blueprint.reachable()), max_size=2, unique=True), label="eval() on")
    for i in evals:
        h.run(f"{h.node_ref(i)}.eval()")
    return h, h.run(COPIES[how][0] + "\nclone"), evals


def resolve(root, path: str):
    return reduce(getattr, path.split("."), root) if path else root


def live(h, root) -> list:
    """The object at each location (``model_modes.locations``), looked up through ``root`` (the
    object under test, or a copy of it) by its live name: the model name through ``h``'s name map."""
    return [resolve(root, h.names.live(path)) for _, path, _ in model_modes.locations(h.blueprint)]


def names(bp) -> list[str]:
    return [f"{kind} {path!r}" for kind, path, _ in model_modes.locations(bp)]


@per_copy()
@given(data=st.data())
def test_copy_preserves_sharing(data, backend, how):
    h, clone, _ = _copied(data, backend, how)
    objects = live(h, clone)
    firsts = model_modes.sharing([id(obj) for obj in objects])
    where = names(h.blueprint)
    expect_equal([(name, where[f]) for name, f in zip(where, firsts)], model_modes.expected_sharing(h.blueprint), h,
                 problem="(location, first location holding the same object) differs")


@per_copy()
@needs("torch-objects")
@given(data=st.data())
def test_copy_makes_new_objects(data, backend, how):
    h, clone, _ = _copied(data, backend, how)
    bp = h.blueprint
    originals = {id(obj) for obj in live(h, h.root)} | {id(h.tensor(t).grad) for t in params(h)}
    reused = []
    for name, obj in zip(names(bp), live(h, clone)):
        reused += [name] if id(obj) in originals else []
        reused += [f"{name}.grad"] if getattr(obj, "grad", None) is not None and id(obj.grad) in originals else []
    expect_equal(reused, [], h, problem="the copy holds objects of the original")


def _state(obj, original) -> tuple:
    if isinstance(obj, torch.nn.Module):
        extra = obj.get_extra_state() if type(obj).get_extra_state is not torch.nn.Module.get_extra_state else None
        return (type(obj).__name__, obj.training, extra)
    return (type(obj).__name__, obj.dtype, tuple(obj.shape), obj.requires_grad, torch.equal(obj, original))


def _expected_state(h, kind, ref, flags) -> tuple:
    bp = h.blueprint
    if kind == "module":
        node = bp.nodes[ref]
        extra = {"extra": node.args[0]} if node.kind in model.EXTRA_STATE_KINDS else None
        return (h.class_of(ref), flags[ref], extra)
    spec = bp.tensors[ref]
    return ("Parameter" if kind == "param" else "Tensor", getattr(torch, spec.dtype), spec.shape, spec.requires_grad, True)


@per_copy("law.copy.keeps_state")
@needs("torch-objects")
@given(data=st.data())
def test_copy_keeps_state(data, backend, how):
    h, clone, evals = _copied(data, backend, how)
    bp = h.blueprint
    flags = model_modes.training_after(bp, [(i, False) for i in evals])
    where = names(bp)
    actual = [(name, _state(obj, orig)) for name, obj, orig in zip(where, live(h, clone), live(h, h.root))]
    expected = [(name, _expected_state(h, kind, ref, flags)) for name, (kind, _, ref) in zip(where, model_modes.locations(bp))]
    expect_equal(actual, expected, h,
                 problem="per location (type, training, extra state) or (type, dtype, shape, requires_grad, values equal) differs")


@invariant("law.copy.keeps_grads")
@needs("torch-objects")
@needs("deepcopy", "pickle")
@given(data=st.data())
def test_copies_keep_grads(data, backend):
    # One test for the three copies: torch fails this law (a known deviation), so it always
    # shrinks, and one shrink costs less than three. Small graphs shrink faster.
    h = draw_graph(data, backend, SMALL)
    bp = h.blueprint
    actual, expected = [], []
    for how, (text, _) in COPIES.items():
        clone = h.run(text + "\nclone")
        for (kind, _, ref), name, obj in zip(model_modes.locations(bp), names(bp), live(h, clone)):
            if kind == "param":
                orig = h.tensor(ref).grad
                actual.append((how, name, None if obj.grad is None else orig is not None and torch.equal(obj.grad, orig)))
                expected.append((how, name, True if bp.tensors[ref].grad else None))
    expect_equal(actual, expected, h,
                 problem="per copy and parameter, the copy's grad (None, or whether it equals the original's) differs")


@invariant("misc.torch_save_load")
@needs("pickle")
@given(data=st.data())
def test_torch_load_module_needs_weights_only_false(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    expect_raises(h, "import io\nbuf = io.BytesIO()\ntorch.save(root, buf)\nbuf.seek(0)\ntorch.load(buf)",
                  pickle.UnpicklingError)


@invariant("misc.torch_save_load")
@given(data=st.data())
def test_state_dict_save_load_weights_only(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    bp = h.blueprint
    sd, loaded = h.run("import io\nsd = root.state_dict()\nbuf = io.BytesIO()\ntorch.save(sd, buf)\nbuf.seek(0)\n"
                       "loaded = torch.load(buf, weights_only=True)\nsd, loaded")
    entries = model.state_dict_entries(bp)
    expect_equal((type(loaded).__name__, h.unmapped(list(loaded))), ("OrderedDict", [key for key, _ in entries]), h)
    expect_equal(getattr(loaded, "_metadata", None), sd._metadata, h, problem="_metadata differs from the saved one")
    live_key = h.names.live

    def seen(key):
        value = loaded[live_key(key)]
        if not isinstance(value, torch.Tensor):
            return value
        return (value.dtype, tuple(value.shape), torch.equal(value, sd[live_key(key)]))

    def wanted(what, ref):
        if what == "extra":
            return {"extra": bp.nodes[ref].args[0]}
        spec = bp.tensors[ref]
        return (getattr(torch, spec.dtype), spec.shape, True)

    expect_equal([(key, seen(key)) for key, _ in entries], [(key, wanted(*held)) for key, held in entries], h,
                 problem="per key (dtype, shape, values equal) or extra state differs")
    # Storage sharing: keys holding one tensor share storage, others do not. Zero-size tensors
    # have no data pointer to compare.
    tensors = [(key, ref) for key, (what, ref) in entries if what == "tensor" and bp.tensors[ref].numel]
    firsts = model_modes.sharing([loaded[live_key(key)].untyped_storage().data_ptr() for key, _ in tensors])
    expect_equal([(key, tensors[f][0]) for (key, _), f in zip(tensors, firsts)],
                 [(key, tensors[f][0]) for (key, _), f in zip(tensors, model_modes.sharing([ref for _, ref in tensors]))],
                 h, problem="(key, first key sharing its storage) differs")
