"""load_state_dict: round trips, key checking and its reports, copy vs assign, shared objects.

Inputs are made from the blueprint (``model_input``), not from ``state_dict()``, so that a broken
``state_dict`` cannot hide a broken load. Values are "bumped" (+1, or negated for bool) so that a
load that copies nothing is seen.
"""
import types
import warnings
from collections import OrderedDict

import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance import model, model_state
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.registry import invariant
from strategies import NODE_KINDS, blueprints

HOLDERS = ("Module", "ExtraState", "Sequential")  # graphs rich in None slots and non-persistent buffers
KINDS = st.sampled_from([NODE_KINDS, HOLDERS])  # half the graphs from holders only

# Reproducer lines: the input the test loaded, made from root's own state with bumped values.
BUMPED_INPUT = (
    "import collections\n"
    "def bump(v):\n"
    "    if not torch.is_tensor(v):\n"
    "        return {'extra': v['extra'] + 1}\n"
    "    return ~v if v.dtype == torch.bool else v + 1\n"
    "state = root.state_dict()\n"
    "sd = collections.OrderedDict((k, bump(v)) for k, v in state.items())\n"
    "sd._metadata = state._metadata\n"
)


def draw_graph(data, backend, **kwargs):
    kwargs.setdefault("kinds", KINDS)
    return backend.build(data.draw(blueprints(**kwargs), label="blueprint"))


def bump(t):
    return ~t if t.dtype == torch.bool else t + 1


def with_metadata(g, pairs) -> OrderedDict:
    """An input carrying ``_metadata`` as ``state_dict()`` makes it, so that classes with a
    version-dependent load (BatchNorm fills a missing ``num_batches_tracked`` for old versions)
    take the current-version path."""
    out = OrderedDict(pairs)
    out._metadata = OrderedDict((path, {"version": type(g.node(i))._version}) for path, i in model.metadata_paths(g.blueprint))
    return out


def model_input(g, change=bump) -> OrderedDict:
    """The state the model says ``g.root`` has, each value changed (extra state: +1)."""
    pairs = []
    for key, (what, ref) in model.state_dict_entries(g.blueprint):
        if what == "tensor":
            pairs.append((key, change(g.tensor(ref).detach().clone())))
        else:
            pairs.append((key, {"extra": g.blueprint.nodes[ref].args[0] + 1}))
    return with_metadata(g, pairs)


def tensor_entries(g):
    return [(key, ref) for key, (what, ref) in model.state_dict_entries(g.blueprint) if what == "tensor"]


def slot_objects(g):
    """``{(node, name): object}`` of every registered tensor slot, read from the live modules."""
    return {(i, name): getattr(g.node(i), name) for key, i, _, name, _ in model_state.member_keys(g.blueprint)}


def slot_refs(g):
    """``{(node, name): tensor}`` of every registered tensor slot in the model's state_dict."""
    return {(i, name): ref for _, i, _, name, ref in model_state.member_keys(g.blueprint)}


def slot_kinds(g):
    """``{(node, name): 'param' or 'buffer'}`` of every registered tensor slot."""
    return {(i, name): kind for _, i, kind, name, _ in model_state.member_keys(g.blueprint)}


def draw_keys(data, g, reason="ordinary"):
    """Keys to drop and stray keys to add, and the input order: a shuffled model input."""
    keys = model.state_dict_keys(g.blueprint)
    dropped = data.draw(st.lists(st.sampled_from(keys), unique=True, max_size=3) if keys else st.just([]), label="dropped keys")
    strays = model_state.stray_keys(g.blueprint)[reason]
    added = data.draw(st.lists(st.sampled_from(strays), unique=True, max_size=3) if strays else st.just([]), label="stray keys")
    source = model_input(g)
    pairs = [(k, v) for k, v in source.items() if k not in dropped] + [(k, torch.zeros(1)) for k in added]
    return with_metadata(g, data.draw(st.permutations(pairs), label="input order"))


def key_call(sd, *, strict=True, extra="", retyped=False):
    """Reproducer: the same keys in the same order, with values from root's bumped state (and,
    ``retyped``, the test input's dtypes and requires_grad)."""
    lines = [BUMPED_INPUT, f"keys = {list(sd)!r}\n",
             "sd = collections.OrderedDict((k, sd.get(k, torch.zeros(1))) for k in keys)\n",
             "sd._metadata = state._metadata\n"]
    if retyped:
        lines += [f"sd[{k!r}] = sd[{k!r}].to({v.dtype})" + (f".requires_grad_({v.requires_grad})" if v.is_floating_point() else "") + "\n"
                  for k, v in sd.items() if torch.is_tensor(v)]
    return "".join(lines) + f"print(root.load_state_dict(sd, strict={strict}{extra}))"


@invariant("load.roundtrip")
@given(data=st.data())
def test_load_roundtrip(data, backend):
    bp = data.draw(blueprints(kinds=KINDS), label="blueprint")
    src, dst = backend.build(bp), backend.build(bp)
    with torch.no_grad():
        for i in range(len(bp.tensors)):
            src.tensor(i).copy_(bump(src.tensor(i)))
    extras = [i for i in bp.reachable() if bp.nodes[i].kind in model.EXTRA_STATE_KINDS]
    for i in extras:
        src.node(i).extra += 1
    result = dst.root.load_state_dict(src.root.state_dict())
    call = BUMPED_INPUT + "print(root.load_state_dict(sd))\nprint(root.state_dict())"
    expect_equal(tuple(result), ([], []), call=call, graph=dst)
    actual = [(key, torch.equal(dst.tensor(ref), src.tensor(ref))) for key, ref in tensor_entries(dst)]
    expect_equal(actual, [(key, True) for key, _ in tensor_entries(dst)], call=call, graph=dst,
                 problem="after the load every loaded tensor must equal the source's")
    expect_equal([(f"n{i}", dst.node(i).extra) for i in extras], [(f"n{i}", src.node(i).extra) for i in extras],
                 call=call, graph=dst, problem="extra state must be transferred")


@invariant("load.strict_exact_and_message")
@given(data=st.data())
def test_load_strict_raises_on_key_mismatch(data, backend):
    g = draw_graph(data, backend)
    sd = draw_keys(data, g)
    missing = model_state.missing_keys(g.blueprint, list(sd))
    unexpected = model_state.unexpected_keys(g.blueprint, list(sd))
    call = key_call(sd)
    if not missing and not unexpected:
        g.root.load_state_dict(sd)
        return
    exc = expect_raises(RuntimeError, lambda: g.root.load_state_dict(sd), call=call, graph=g)
    expected = model_state.strict_error(model_state.class_name(g.blueprint, g.blueprint.root), missing, unexpected)
    expect_equal(str(exc), expected, call=call, graph=g)


@invariant("load.strict_exact_and_message")
@given(data=st.data())
def test_load_strict_rejects_key_under_none_child(data, backend):
    g = draw_graph(data, backend, kinds=("Module", "Sequential"), max_nodes=3)
    strays = model_state.stray_keys(g.blueprint)["none_child"]
    assume(strays)
    key = data.draw(st.sampled_from(strays), label="key under a None child")
    sd = model_input(g)
    sd[key] = torch.zeros(1)
    expected = model_state.strict_error(model_state.class_name(g.blueprint, g.blueprint.root), [], [key])
    exc = expect_raises(RuntimeError, lambda: g.root.load_state_dict(sd), call=key_call(sd), graph=g)
    expect_equal(str(exc), expected, call=key_call(sd), graph=g)


@invariant("load.nonstrict_reports_and_order")
@given(data=st.data())
def test_load_nonstrict_reports_missing_and_unexpected(data, backend):
    g = draw_graph(data, backend)
    sd = draw_keys(data, g)
    result = g.root.load_state_dict(sd, strict=False)
    expected = (model_state.missing_keys(g.blueprint, list(sd)), model_state.unexpected_keys(g.blueprint, list(sd)))
    expect_equal((result.missing_keys, result.unexpected_keys), expected, call=key_call(sd, strict=False), graph=g)


@invariant("load.nonstrict_reports_and_order")
@given(data=st.data())
def test_load_unexpected_extra_state_keys_in_input_order(data, backend):
    g = draw_graph(data, backend, max_nodes=3)
    extras = model_state.stray_keys(g.blueprint)["extra_state"]
    assume(extras)
    sd = draw_keys(data, g, reason="extra_state")
    sd.update((k, torch.zeros(1)) for k in data.draw(
        st.lists(st.sampled_from(model_state.stray_keys(g.blueprint)["ordinary"]), unique=True, max_size=2), label="more strays"))
    pairs = data.draw(st.permutations(list(sd.items())), label="input order")
    # The order within a module only shows with another unexpected key of that module first:
    # end the input with one such pair, so every example exercises it.
    extra = data.draw(st.sampled_from(extras), label="extra-state stray")
    first = extra.removesuffix(model.EXTRA_STATE) + "zzz"
    pairs = [(k, v) for k, v in pairs if k not in (first, extra)] + [(first, torch.zeros(1)), (extra, torch.zeros(1))]
    sd = with_metadata(g, pairs)
    result = g.root.load_state_dict(sd, strict=False)
    expect_equal(result.unexpected_keys, model_state.unexpected_keys(g.blueprint, list(sd)),
                 call=key_call(sd, strict=False), graph=g)


@invariant("load.return_namedtuple")
@given(data=st.data())
def test_load_returns_incompatible_keys(data, backend):
    g = draw_graph(data, backend)
    sd = draw_keys(data, g)
    result = g.root.load_state_dict(sd, strict=False)
    missing = model_state.missing_keys(g.blueprint, list(sd))
    unexpected = model_state.unexpected_keys(g.blueprint, list(sd))
    expected_repr = ("<All keys matched successfully>" if not missing and not unexpected
                     else f"_IncompatibleKeys(missing_keys={missing!r}, unexpected_keys={unexpected!r})")
    actual = (type(result).__name__, isinstance(result, tuple), getattr(result, "_fields", None), tuple(result), repr(result))
    expected = ("_IncompatibleKeys", True, ("missing_keys", "unexpected_keys"), (missing, unexpected), expected_repr)
    expect_equal(actual, expected, call=key_call(sd, strict=False), graph=g)


@invariant("load.none_registered_key")
@given(data=st.data())
def test_load_key_of_none_slot_raises(data, backend):
    g = draw_graph(data, backend, kinds=HOLDERS)
    nones = [pre + s.name for pre, i in model_state.paths(g.blueprint) for s in g.blueprint.nodes[i].slots
             if s.kind in ("param", "buffer") and s.ref is None]
    assume(nones)
    key = data.draw(st.sampled_from(nones), label="key of a None slot")
    sd = model_input(g)
    sd[key] = torch.zeros(1)
    expected = model_state.strict_error(model_state.class_name(g.blueprint, g.blueprint.root), [], [key])
    exc = expect_raises(RuntimeError, lambda: g.root.load_state_dict(sd), call=key_call(sd), graph=g)
    expect_equal(str(exc), expected, call=key_call(sd), graph=g)


@invariant("load.nonpersistent_key_unexpected")
@given(data=st.data())
def test_load_nonpersistent_buffer_key_unexpected_and_not_loaded(data, backend):
    g = draw_graph(data, backend, kinds=HOLDERS)
    slots = [(pre + s.name, s.ref) for pre, i in model_state.paths(g.blueprint) for s in g.blueprint.nodes[i].slots
             if s.kind == "buffer" and s.ref is not None and not s.persistent]
    assume(slots)
    key, ref = data.draw(st.sampled_from(slots), label="non-persistent buffer key")
    before = g.tensor(ref).detach().clone()
    sd = model_input(g, change=lambda t: t)  # the module's own values, plus the stray key
    sd[key] = bump(before)
    call = key_call(sd, strict=False) + f"\nprint(t{ref})"
    result = g.root.load_state_dict(sd, strict=False)
    expect_equal(result.unexpected_keys, [key], call=call, graph=g)
    expect_true(torch.equal(g.tensor(ref), before), call=call, actual=g.tensor(ref), expected=before, graph=g,
                problem="a non-persistent buffer must not be loaded")


@invariant("load.shape_mismatch_always_raises")
@given(data=st.data())
def test_load_shape_mismatch_raises_even_nonstrict(data, backend):
    g = draw_graph(data, backend)
    assume(tensor_entries(g))
    key, ref = data.draw(st.sampled_from(tensor_entries(g)), label="key")
    strict = data.draw(st.booleans(), label="strict")
    shape = g.blueprint.tensors[ref].shape
    sd = model_input(g)
    sd[key] = torch.zeros(shape + (2,), dtype=sd[key].dtype)
    call = BUMPED_INPUT + f"sd[{key!r}] = torch.zeros({shape + (2,)!r})\nroot.load_state_dict(sd, strict={strict})"
    expected = (f"size mismatch for {key}: copying a param with shape torch.Size({list(shape) + [2]}) from checkpoint, "
                f"the shape in current model is torch.Size({list(shape)}).")
    expect_raises(RuntimeError, lambda: g.root.load_state_dict(sd, strict=strict), match=expected, call=call, graph=g)


@invariant("load.bad_inputs")
@given(data=st.data())
def test_load_non_tensor_value_raises_even_nonstrict(data, backend):
    g = draw_graph(data, backend)
    assume(tensor_entries(g))
    key, _ = data.draw(st.sampled_from(tensor_entries(g)), label="key")
    strict = data.draw(st.booleans(), label="strict")
    sd = model_input(g)
    sd[key] = 1.5
    expected = (f'While copying the parameter named "{key}", expected torch.Tensor or Tensor-like object '
                "from checkpoint but received <class 'float'>")
    call = BUMPED_INPUT + f"sd[{key!r}] = 1.5\nroot.load_state_dict(sd, strict={strict})"
    expect_raises(RuntimeError, lambda: g.root.load_state_dict(sd, strict=strict), match=expected, call=call, graph=g)


@invariant("load.bad_inputs")
@given(data=st.data())
def test_load_accepts_any_mapping(data, backend):
    g = draw_graph(data, backend)
    sd = model_input(g)
    result = g.root.load_state_dict(types.MappingProxyType(sd))
    expect_equal(tuple(result), ([], []), call=BUMPED_INPUT + "import types\nprint(root.load_state_dict(types.MappingProxyType(sd)))", graph=g)


@invariant("load.bad_inputs")
def test_load_non_mapping_raises_type_error():
    expect_raises(TypeError, lambda: torch.nn.Module().load_state_dict([]),
                  match="Expected state_dict to be dict-like, got <class 'list'>.",
                  call="nn.Module().load_state_dict([])")


@invariant("load.non_atomic")
@given(data=st.data())
def test_load_failed_strict_load_copies_matching_keys(data, backend):
    g = draw_graph(data, backend)
    entries = tensor_entries(g)
    assume(entries)
    sd = model_input(g)
    stray = data.draw(st.sampled_from(model_state.stray_keys(g.blueprint)["ordinary"]), label="stray key")
    sd[stray] = torch.zeros(1)
    expected = {ref: sd[key] for key, ref in entries}
    call = BUMPED_INPUT + f"sd[{stray!r}] = torch.zeros(1)\ntry:\n    root.load_state_dict(sd)\nexcept RuntimeError as e:\n    print(e)\nprint(root.state_dict())"
    expect_raises(RuntimeError, lambda: g.root.load_state_dict(sd), call=call, graph=g)
    actual = [(key, torch.equal(g.tensor(ref), expected[ref])) for key, ref in entries]
    expect_equal(actual, [(key, True) for key, _ in entries], call=call, graph=g,
                 problem="the matching keys must have been copied before the error")


def _retyped_input(data, g, dtypes_for_float):
    """Bumped input whose floating values get a drawn dtype and requires_grad."""
    sd = model_input(g)
    for key, ref in tensor_entries(g):
        if sd[key].is_floating_point():
            dtype = data.draw(st.sampled_from(dtypes_for_float), label=f"dtype of {key}")
            sd[key] = sd[key].to(dtype)
            if dtype.is_floating_point:
                sd[key].requires_grad_(data.draw(st.booleans(), label=f"requires_grad of {key}"))
    return sd


@invariant("load.copy_semantics")
@given(data=st.data())
def test_load_copy_keeps_objects_storage_dtype(data, backend):
    g = draw_graph(data, backend)
    sd = _retyped_input(data, g, [torch.float32, torch.float64, torch.float16, torch.int64])
    before = {slot: (obj, obj.data_ptr(), obj.dtype, obj.requires_grad, type(obj).__name__) for slot, obj in slot_objects(g).items()}
    call = key_call(sd, retyped=True)
    g.root.load_state_dict(sd)
    writers, refs = model_state.last_copied(g.blueprint), slot_refs(g)
    for (i, name), (obj, ptr, dtype, requires_grad, kind) in before.items():
        now = getattr(g.node(i), name)
        actual = (now is obj, now.data_ptr(), now.dtype, now.requires_grad, type(now).__name__, now.is_leaf, now.grad_fn)
        expect_equal(actual, (True, ptr, dtype, requires_grad, kind, True, None), call=call + f"\nprint(n{i}.{name})", graph=g,
                     problem=f"n{i}.{name}: identity, data_ptr, dtype, requires_grad, type, is_leaf, grad_fn must be kept")
        source = sd[writers[refs[(i, name)]]].detach().to(dtype)
        expect_true(torch.equal(now, source), call=call + f"\nprint(n{i}.{name})", actual=now, expected=source, graph=g)


@invariant("load.assign")
@given(data=st.data())
def test_load_assign_takes_source_properties(data, backend):
    g = draw_graph(data, backend)
    sd = _retyped_input(data, g, [torch.float32, torch.float64, torch.float16])
    kinds = slot_kinds(g)
    module_grad = {slot: obj.requires_grad for slot, obj in slot_objects(g).items()}
    call = key_call(sd, extra=", assign=True", retyped=True)
    g.root.load_state_dict(sd, assign=True)
    for (i, name), key in model_state.last_writers(g.blueprint).items():
        now, source = getattr(g.node(i), name), sd[key]
        is_param = kinds[(i, name)] == "param"
        grad = module_grad[(i, name)] if is_param else source.requires_grad
        expect_equal((isinstance(now, torch.nn.Parameter), now.dtype, now.requires_grad), (is_param, source.dtype, grad),
                     call=call + f"\nprint(n{i}.{name})", graph=g,
                     problem=f"n{i}.{name} (from {key!r}): Parameter type, source dtype, requires_grad (module's for a Parameter)")
        expect_true(torch.equal(now.detach(), source.detach()), call=call + f"\nprint(n{i}.{name})", actual=now, expected=source, graph=g)


@invariant("load.assign.keeps_sharing")
@given(data=st.data())
def test_load_assign_roundtrip_keeps_sharing(data, backend):
    g = draw_graph(data, backend, max_nodes=4)
    g.root.load_state_dict(g.root.state_dict(), assign=True)
    slots = list(slot_objects(g))
    refs = slot_refs(g)
    first = {}
    expected = [(f"n{i}.{name}", first.setdefault(refs[(i, name)], f"n{i}.{name}")) for i, name in slots]
    objects = slot_objects(g)
    actual = [(f"n{i}.{name}", next(f"n{j}.{m}" for j, m in slots if objects[(j, m)] is objects[(i, name)])) for i, name in slots]
    call = "root.load_state_dict(root.state_dict(), assign=True)\n" + "\n".join(
        f"print({a} is {b})" for (a, b) in expected if a != b)
    expect_equal(actual, expected, call=call, graph=g,
                 problem="each slot should hold the same object as the first slot that shared it before the load")


@invariant("load.shared_every_path_last_wins")
@given(data=st.data())
def test_load_shared_object_takes_last_key(data, backend):
    g = draw_graph(data, backend)
    sd = model_input(g)
    for n, key in enumerate(sd):  # a different value per key
        if torch.is_tensor(sd[key]):
            sd[key] = sd[key] ^ bool(n % 2) if sd[key].dtype == torch.bool else sd[key] + n
    g.root.load_state_dict(sd)
    call = (BUMPED_INPUT + "for n, k in enumerate(sd):\n    if torch.is_tensor(sd[k]):\n"
            "        sd[k] = sd[k] ^ bool(n % 2) if sd[k].dtype == torch.bool else sd[k] + n\n"
            "root.load_state_dict(sd)\n")
    for (i, name), ref in slot_refs(g).items():
        now, key = getattr(g.node(i), name), model_state.last_copied(g.blueprint)[ref]
        expect_true(torch.equal(now, sd[key]), call=call + f"print(n{i}.{name}, sd[{key!r}])", actual=now, expected=sd[key],
                    graph=g, problem=f"n{i}.{name} must end with the value of {key!r}, the last key that holds it")


def _record_load_hooks(g):
    seen = []
    for i in g.blueprint.reachable():
        label = f"n{i}"
        g.node(i).register_load_state_dict_pre_hook(
            lambda m, sd, pre, meta, strict, *rest, label=label: seen.append(("pre", label, pre, dict(meta), list(sd), strict)))
        g.node(i).register_load_state_dict_post_hook(lambda m, keys, label=label: seen.append(("post", label)))
    return seen


@invariant("load.local_metadata")
@given(data=st.data())
def test_load_local_metadata(data, backend):
    g = draw_graph(data, backend)
    assign = data.draw(st.booleans(), label="assign")
    plain = data.draw(st.booleans(), label="plain dict input")
    sd = g.root.state_dict()  # the input under test is one that carries _metadata
    seen = _record_load_hooks(g)
    g.root.load_state_dict(dict(sd) if plain else sd, assign=assign)
    flag = {"assign_to_params_buffers": True} if assign else {}
    expected = [(pre, ({} if plain else {"version": type(g.node(i))._version}) | flag) for pre, i in model_state.paths(g.blueprint)]
    call = ("for m in root.modules():\n"
            "    m.register_load_state_dict_pre_hook(lambda m, sd, pre, meta, *a: print(repr(pre), meta))\n"
            f"root.load_state_dict({'dict(root.state_dict())' if plain else 'root.state_dict()'}, assign={assign})")
    expect_equal([(e[2], e[3]) for e in seen if e[0] == "pre"], expected, call=call, graph=g)


@invariant("load.hooks")
@given(data=st.data())
def test_load_hooks_order_and_arguments(data, backend):
    g = draw_graph(data, backend)
    strict = data.draw(st.booleans(), label="strict")
    sd = model_input(g)
    seen = _record_load_hooks(g)
    g.root.load_state_dict(sd, strict=strict)
    expected = []
    for event, pre, i in model_state.state_dict_trace(g.blueprint):
        if event == "pre":
            expected.append(("pre", f"n{i}", pre, [k for k in sd if k.startswith(pre)], True))
        elif event == "post":
            expected.append(("post", f"n{i}"))
    actual = [e[:3] + e[4:] if e[0] == "pre" else e for e in seen]
    call = ("for m in root.modules():\n"
            "    m.register_load_state_dict_pre_hook(lambda m, sd, pre, meta, strict, *a: print('pre', type(m).__name__, repr(pre), list(sd), strict))\n"
            "    m.register_load_state_dict_post_hook(lambda m, keys: print('post', type(m).__name__))\n"
            + BUMPED_INPUT + f"root.load_state_dict(sd, strict={strict})")
    expect_equal(actual, expected, call=call, graph=g)


def _input_after_load(data, backend, assign):
    g = draw_graph(data, backend, max_nodes=4)
    sd = g.root.state_dict()
    before = (list(sd.items()), {k: dict(v) for k, v in sd._metadata.items()})
    g.root.load_state_dict(sd, assign=assign)
    after = (list(sd.items()), {k: dict(v) for k, v in sd._metadata.items()})
    call = f"sd = root.state_dict()\nprint(sd._metadata)\nroot.load_state_dict(sd, assign={assign})\nprint(sd._metadata)"
    expect_equal(after[1], before[1], call=call, graph=g, problem="load_state_dict changed its input's _metadata")
    expect_true(all(a[0] == b[0] and a[1] is b[1] for a, b in zip(after[0], before[0])) and len(after[0]) == len(before[0]),
                call=call, actual=[k for k, _ in after[0]], expected=[k for k, _ in before[0]], graph=g,
                problem="load_state_dict changed its input's entries")


@invariant("load.input_not_mutated")
@given(data=st.data())
def test_load_leaves_input_unchanged(data, backend):
    _input_after_load(data, backend, assign=False)


@invariant("load.input_not_mutated")
@given(data=st.data())
def test_load_assign_leaves_input_unchanged(data, backend):
    _input_after_load(data, backend, assign=True)


@invariant("load.input_not_mutated")
def test_load_pre_hook_may_rewrite_its_state_dict():
    def rename(module, sd, prefix, *rest):
        sd[prefix + "weight"] = sd.pop(prefix + "old_w")

    m = torch.nn.Module()
    m.weight = torch.nn.Parameter(torch.zeros(2))
    m.register_load_state_dict_pre_hook(rename)
    given = {"old_w": torch.full((2,), 9.0)}
    call = ("m = nn.Module()\nm.weight = nn.Parameter(torch.zeros(2))\n"
            "m.register_load_state_dict_pre_hook(lambda m, sd, p, *a: sd.__setitem__(p + 'weight', sd.pop(p + 'old_w')))\n"
            "given = {'old_w': torch.full((2,), 9.0)}\nprint(m.load_state_dict(given), m.weight, list(given))")
    result = m.load_state_dict(given)
    expect_equal((tuple(result), m.weight.tolist(), list(given)), (([], []), [9.0, 9.0], ["old_w"]), call=call)


@invariant("load.swap_flag")
@given(data=st.data())
def test_load_with_swap_flag(data, backend):
    g = draw_graph(data, backend)
    assign = data.draw(st.booleans(), label="assign")
    sd = _retyped_input(data, g, [torch.float32, torch.float64])
    before = {slot: (obj, obj.dtype) for slot, obj in slot_objects(g).items()}
    call = "torch.__future__.set_swap_module_params_on_conversion(True)\n" + key_call(sd, extra=f", assign={assign}", retyped=True)
    old = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        g.root.load_state_dict(sd, assign=assign)
    finally:
        torch.__future__.set_swap_module_params_on_conversion(old)
    writers = model_state.last_copied(g.blueprint)
    for (i, name), ref in slot_refs(g).items():
        obj, dtype = before[(i, name)]
        now, source = getattr(g.node(i), name), sd[writers[ref]]
        expect_equal((now is obj, now.dtype), (True, source.dtype if assign else dtype), call=call + f"\nprint(n{i}.{name})",
                     graph=g, problem=f"n{i}.{name}: swapped in place (same object), dtype {'of the source' if assign else 'kept'}")
        expect_true(torch.equal(now.detach(), source.detach().to(now.dtype)), call=call + f"\nprint(n{i}.{name})",
                    actual=now, expected=source, graph=g)


@invariant("load.meta")
@given(data=st.data())
def test_load_into_meta_module(data, backend):
    bp = data.draw(blueprints(kinds=KINDS), label="blueprint")
    g, cpu = backend.build(bp, device="meta"), backend.build(bp)
    assign = data.draw(st.booleans(), label="assign")
    sd = model_input(cpu)
    before = slot_objects(g)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g.root.load_state_dict(sd, assign=assign)
    call = ("state = root.state_dict()  # root is on meta: a CPU input of the same shapes\n"
            "sd = {k: torch.zeros(v.shape, dtype=v.dtype) if torch.is_tensor(v) else v for k, v in state.items()}\n"
            f"root.load_state_dict(sd, assign={assign})")
    if not assign:
        noop = [w for w in caught if issubclass(w.category, UserWarning) and "which is a no-op" in str(w.message)]
        expect_true(bool(noop) or not tensor_entries(g), call=call, actual=[str(w.message) for w in caught],
                    expected="a UserWarning: copying from a non-meta parameter ... is a no-op", graph=g)
    kinds, writers = slot_kinds(g), model_state.last_writers(g.blueprint)
    for (i, name), obj in before.items():
        now, is_param = getattr(g.node(i), name), kinds[(i, name)] == "param"
        if assign:  # a CPU tensor; a Parameter keeps the module's requires_grad, a buffer takes the source's
            actual = (now.device.type, isinstance(now, torch.nn.Parameter), now.requires_grad)
            expected = ("cpu", is_param, obj.requires_grad if is_param else sd[writers[(i, name)]].requires_grad)
        else:  # untouched
            actual, expected = (now.device.type, now is obj), ("meta", True)
        expect_equal(actual, expected, call=call + f"\nprint(n{i}.{name})", graph=g)


@invariant("load.hooks")
def test_load_post_hook_edits_incompatible_keys():
    def module():
        m = torch.nn.Module()
        m.w = torch.nn.Parameter(torch.zeros(1))
        return m

    head = "m = nn.Module()\nm.w = nn.Parameter(torch.zeros(1))\n"
    m = module()
    m.register_load_state_dict_post_hook(lambda mod, keys: (keys.missing_keys.clear(), keys.unexpected_keys.clear()) and None)
    call = head + "m.register_load_state_dict_post_hook(lambda mod, k: (k.missing_keys.clear(), k.unexpected_keys.clear()) and None)\nprint(m.load_state_dict({'x': torch.zeros(1)}))"
    expect_equal(tuple(m.load_state_dict({"x": torch.zeros(1)})), ([], []), call=call,
                 problem="a post-hook that clears both lists makes a strict load succeed")
    m = module()
    m.register_load_state_dict_post_hook(lambda mod, keys: keys.unexpected_keys.append("fake"))
    expect_raises(RuntimeError, lambda: m.load_state_dict({"w": torch.ones(1)}), match='Unexpected key(s) in state_dict: "fake"',
                  call=head + "m.register_load_state_dict_post_hook(lambda mod, k: k.unexpected_keys.append('fake'))\nm.load_state_dict({'w': torch.ones(1)})")
    m = module()
    m.register_load_state_dict_post_hook(lambda mod, keys: 5)
    expect_raises(AssertionError, lambda: m.load_state_dict({"w": torch.ones(1)}),
                  call=head + "m.register_load_state_dict_post_hook(lambda mod, k: 5)\nm.load_state_dict({'w': torch.ones(1)})")
