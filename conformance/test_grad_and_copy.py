"""zero_grad, requires_grad_, share_memory, and copies of a whole module (deepcopy, pickle,
torch.save/torch.load): all-new objects with the same state and the same sharing structure."""
import copy
import io
import pickle
from functools import reduce

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance import model, model_modes
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.registry import invariant
from strategies import NODE_KINDS, blueprints


def draw_graph(data, backend, **kwargs):
    return backend.build(data.draw(blueprints(**kwargs), label="blueprint"))


def _save_load(root, **load_kwargs):
    buf = io.BytesIO()
    torch.save(root, buf)
    buf.seek(0)
    return torch.load(buf, **load_kwargs)


# how -> (reproducer text binding ``clone``, function, node kinds it can draw)
COPIES = {
    "deepcopy": ("import copy\nclone = copy.deepcopy(root)", copy.deepcopy, NODE_KINDS),
    "pickle": ("import pickle\nclone = pickle.loads(pickle.dumps(root))", lambda m: pickle.loads(pickle.dumps(m)), NODE_KINDS),
    "torch.save": ("import io\nbuf = io.BytesIO()\ntorch.save(root, buf)\nbuf.seek(0)\nclone = torch.load(buf, weights_only=False)",
                   lambda m: _save_load(m, weights_only=False), NODE_KINDS),
}
SPEC_IDS = {"deepcopy": "misc.deepcopy_preserves_sharing", "pickle": "misc.pickle_preserves_sharing",
            "torch.save": "misc.torch_save_load"}


def per_copy(ident=None):
    """Parametrize over the copy methods, each under its own invariant (default: the spec's)."""
    return pytest.mark.parametrize("how", [pytest.param(h, marks=invariant(ident or SPEC_IDS[h]), id=h) for h in COPIES])


def params(g) -> list[int]:
    return model_modes.parameters(g.blueprint)


# -- zero_grad --------------------------------------------------------------------------------

@invariant("misc.zero_grad")
@given(data=st.data())
def test_zero_grad_set_to_none(data, backend):
    g = draw_graph(data, backend)
    args = data.draw(st.sampled_from(["", "set_to_none=True"]), label="arguments")
    call = f"print(root.zero_grad({args}))\nprint([p.grad for p in root.parameters()])"
    result = g.root.zero_grad(**({"set_to_none": True} if args else {}))
    expect_true(result is None, call=call, actual=result, expected=None, graph=g)
    expect_equal([(f"t{t}", g.tensor(t).grad) for t in params(g)], [(f"t{t}", None) for t in params(g)], call=call, graph=g)


@invariant("misc.zero_grad")
@given(data=st.data())
def test_zero_grad_in_place(data, backend):
    g = draw_graph(data, backend)
    with_grad = [t for t in params(g) if g.blueprint.tensors[t].grad]
    # A grad that requires grad must stop requiring it.
    tracked = data.draw(st.sets(st.sampled_from(with_grad)) if with_grad else st.just(set()), label="grads requiring grad")
    for t in tracked:
        g.tensor(t).grad.requires_grad_()
    before = {t: g.tensor(t).grad for t in with_grad}
    call = "".join(f"t{t}.grad.requires_grad_()\n" for t in sorted(tracked))
    call += "old = {p: p.grad for p in root.parameters()}\nprint(root.zero_grad(set_to_none=False))\n"
    call += "print([(p.grad is old[p], p.grad, p.grad is not None and p.grad.requires_grad) for p in root.parameters()])"
    result = g.root.zero_grad(set_to_none=False)
    expect_true(result is None, call=call, actual=result, expected=None, graph=g)

    def seen(t):
        grad = g.tensor(t).grad
        if grad is None:
            return None
        return (grad is before.get(t), grad.dtype, tuple(grad.shape), bool((grad == 0).all()), grad.requires_grad)

    def wanted(t):
        spec = g.blueprint.tensors[t]
        return (True, getattr(torch, spec.dtype), spec.shape, True, False) if spec.grad else None

    expect_equal([(f"t{t}", seen(t)) for t in params(g)], [(f"t{t}", wanted(t)) for t in params(g)], call=call, graph=g,
                 problem="per parameter (same grad object, dtype, shape, all zero, requires_grad) differs")


# -- requires_grad_ ---------------------------------------------------------------------------

def _tensors(bp) -> list[int]:
    """Every reachable tensor: parameters, buffers and plain tensor attributes, each once."""
    return sorted(set(model.tensor_roles(bp)) | {t for _, _, t in model.plain_attributes(bp)})


SHOW = "[(n, t.{attr}) for n, t in [*root.named_parameters(), *root.named_buffers()]]"


@invariant("misc.requires_grad_")
@given(data=st.data())
def test_requires_grad_(data, backend):
    g = draw_graph(data, backend)
    args = data.draw(st.sampled_from(["", "True", "False"]), label="arguments")
    flag = args != "False"
    call = f"print(root.requires_grad_({args}) is root)\nprint({SHOW.format(attr='requires_grad')})"
    method = lambda: g.root.requires_grad_(*([flag] if args else []))
    if model_modes.requires_grad_raises(g.blueprint, flag):
        expect_raises(RuntimeError, method, call=call, graph=g, match="floating point")
        return
    result = method()
    expect_true(result is g.root, call=call, actual=result, expected="root", graph=g)
    # Parameters take the flag; buffers and plain tensor attributes keep theirs.
    tensors, parameters = _tensors(g.blueprint), set(params(g))
    expect_equal([(f"t{t}", g.tensor(t).requires_grad) for t in tensors],
                 [(f"t{t}", flag if t in parameters else g.blueprint.tensors[t].requires_grad) for t in tensors],
                 call=call, graph=g)


# -- share_memory -----------------------------------------------------------------------------

@invariant("misc.share_memory")
@given(data=st.data())
def test_share_memory(data, backend):
    g = draw_graph(data, backend)
    call = f"print(root.share_memory() is root)\nprint({SHOW.format(attr='is_shared()')})"
    result = g.root.share_memory()
    expect_true(result is g.root, call=call, actual=result, expected="root", graph=g)
    grads = [t for t in params(g) if g.blueprint.tensors[t].grad]
    actual = [(f"t{t}", g.tensor(t).is_shared()) for t in sorted(model.tensor_roles(g.blueprint))]
    actual += [(f"t{t}.grad", g.tensor(t).grad.is_shared()) for t in grads]
    expect_equal(actual, [(label, True) for label, _ in actual], call=call, graph=g)


# -- copies of the whole module ---------------------------------------------------------------

def _copied(data, backend, how, **kwargs):
    """A drawn graph with some modules put in eval mode, its copy, and the reproducer text."""
    text, fn, kinds = COPIES[how]
    g = draw_graph(data, backend, kinds=kinds, **kwargs)
    evals = data.draw(st.lists(st.sampled_from(g.blueprint.reachable()), max_size=2, unique=True), label="eval() on")
    for i in evals:
        g.node(i).eval()
    setup = "".join(f"n{i}.eval()\n" for i in evals)
    return g, fn(g.root), setup + text, evals


def resolve(root, path: str):
    return reduce(getattr, path.split("."), root) if path else root


def live(root, bp) -> list:
    return [resolve(root, path) for _, path, _ in model_modes.locations(bp)]


def names(bp) -> list[str]:
    return [f"{kind} {path!r}" for kind, path, _ in model_modes.locations(bp)]


@per_copy()
@given(data=st.data())
def test_copy_preserves_sharing(data, backend, how):
    g, clone, call, _ = _copied(data, backend, how)
    objects = live(clone, g.blueprint)
    firsts = model_modes.sharing([id(obj) for obj in objects])
    where = names(g.blueprint)
    expect_equal([(name, where[f]) for name, f in zip(where, firsts)], model_modes.expected_sharing(g.blueprint),
                 call=call + "\nprint(clone)", graph=g, problem="(location, first location holding the same object) differs")


@per_copy()
@given(data=st.data())
def test_copy_makes_new_objects(data, backend, how):
    g, clone, call, _ = _copied(data, backend, how)
    bp = g.blueprint
    originals = {id(obj) for obj in live(g.root, bp)} | {id(g.tensor(t).grad) for t in params(g)}
    reused = []
    for name, obj in zip(names(bp), live(clone, bp)):
        reused += [name] if id(obj) in originals else []
        reused += [f"{name}.grad"] if getattr(obj, "grad", None) is not None and id(obj.grad) in originals else []
    call += ("\nprint([a is b for a, b in zip(clone.modules(), root.modules())])"
             "\nprint([(n, t is root.state_dict(keep_vars=True)[n]) for n, t in clone.state_dict(keep_vars=True).items()])")
    expect_equal(reused, [], call=call, graph=g, problem="the copy holds objects of the original")


def _state(obj, original) -> tuple:
    if isinstance(obj, torch.nn.Module):
        extra = obj.get_extra_state() if type(obj).get_extra_state is not torch.nn.Module.get_extra_state else None
        return (type(obj).__name__, obj.training, extra)
    return (type(obj).__name__, obj.dtype, tuple(obj.shape), obj.requires_grad, torch.equal(obj, original))


def _expected_state(bp, kind, ref, flags) -> tuple:
    if kind == "module":
        node = bp.nodes[ref]
        extra = {"extra": node.args[0]} if node.kind in model.EXTRA_STATE_KINDS else None
        return (node.kind, flags[ref], extra)
    spec = bp.tensors[ref]
    return ("Parameter" if kind == "param" else "Tensor", getattr(torch, spec.dtype), spec.shape, spec.requires_grad, True)


@per_copy("law.copy.keeps_state")
@given(data=st.data())
def test_copy_keeps_state(data, backend, how):
    g, clone, call, evals = _copied(data, backend, how)
    bp = g.blueprint
    flags = model_modes.training_after(bp, [(i, False) for i in evals])
    where = names(bp)
    actual = [(name, _state(obj, orig)) for name, obj, orig in zip(where, live(clone, bp), live(g.root, bp))]
    expected = [(name, _expected_state(bp, kind, ref, flags)) for name, (kind, _, ref) in zip(where, model_modes.locations(bp))]
    expect_equal(actual, expected, call=call + "\nprint(clone, clone.state_dict(keep_vars=True))", graph=g,
                 problem="per location (type, training, extra state) or (type, dtype, shape, requires_grad, values equal) differs")


@invariant("law.copy.keeps_grads")
@given(data=st.data())
def test_copies_keep_grads(data, backend):
    # One test for the three copies: torch fails this law (a known deviation), so it always
    # shrinks, and one shrink costs less than three. Small graphs shrink faster.
    g = draw_graph(data, backend, max_nodes=3)
    bp = g.blueprint
    actual, expected, calls = [], [], []
    for how, (text, fn, _) in COPIES.items():
        for (kind, _, ref), name, obj in zip(model_modes.locations(bp), names(bp), live(fn(g.root), bp)):
            if kind == "param":
                orig = g.tensor(ref).grad
                actual.append((how, name, None if obj.grad is None else orig is not None and torch.equal(obj.grad, orig)))
                expected.append((how, name, True if bp.tensors[ref].grad else None))
        calls.append(text + "\nprint([(n, p.grad) for n, p in clone.named_parameters()])")
    expect_equal(actual, expected, call="\n".join(calls), graph=g,
                 problem="per copy and parameter, the copy's grad (None, or whether it equals the original's) differs")


@invariant("misc.torch_save_load")
@given(data=st.data())
def test_torch_load_module_needs_weights_only_false(data, backend):
    g = draw_graph(data, backend, )
    call = "import io\nbuf = io.BytesIO()\ntorch.save(root, buf)\nbuf.seek(0)\ntorch.load(buf)"
    expect_raises(pickle.UnpicklingError, lambda: _save_load(g.root), call=call, graph=g)


@invariant("misc.torch_save_load")
@given(data=st.data())
def test_state_dict_save_load_weights_only(data, backend):
    g = draw_graph(data, backend)
    bp = g.blueprint
    sd = g.root.state_dict()
    loaded = _save_load(sd, weights_only=True)
    call = ("import io\nsd = root.state_dict()\nbuf = io.BytesIO()\ntorch.save(sd, buf)\nbuf.seek(0)\n"
            "loaded = torch.load(buf, weights_only=True)\nprint(list(loaded), loaded._metadata)")
    entries = model.state_dict_entries(bp)
    expect_equal((type(loaded).__name__, list(loaded)), ("OrderedDict", [key for key, _ in entries]), call=call, graph=g)
    expect_equal(getattr(loaded, "_metadata", None), sd._metadata, call=call, graph=g, problem="_metadata differs from the saved one")

    def seen(key):
        value = loaded[key]
        if not isinstance(value, torch.Tensor):
            return value
        return (value.dtype, tuple(value.shape), torch.equal(value, sd[key]))

    def wanted(what, ref):
        if what == "extra":
            return {"extra": bp.nodes[ref].args[0]}
        spec = bp.tensors[ref]
        return (getattr(torch, spec.dtype), spec.shape, True)

    expect_equal([(key, seen(key)) for key, _ in entries], [(key, wanted(*held)) for key, held in entries], call=call, graph=g,
                 problem="per key (dtype, shape, values equal) or extra state differs")
    # Storage sharing: keys holding one tensor share storage, others do not. Zero-size tensors
    # have no data pointer to compare.
    tensors = [(key, ref) for key, (what, ref) in entries if what == "tensor" and bp.tensors[ref].numel]
    firsts = model_modes.sharing([loaded[key].untyped_storage().data_ptr() for key, _ in tensors])
    expect_equal([(key, tensors[f][0]) for (key, _), f in zip(tensors, firsts)],
                 [(key, tensors[f][0]) for (key, _), f in zip(tensors, model_modes.sharing([ref for _, ref in tensors]))],
                 call=call + "\nprint([(k, v.untyped_storage().data_ptr()) for k, v in loaded.items() if torch.is_tensor(v)])",
                 graph=g, problem="(key, first key sharing its storage) differs")
