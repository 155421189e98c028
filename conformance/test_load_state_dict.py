"""load_state_dict: round trips, key checking and its reports, copy vs assign, shared objects.

Inputs are made from the blueprint (``input_step``: each value written as the model's value
function ``_t(shape, dtype, seed)``), not from ``state_dict()``, so that a broken ``state_dict``
cannot hide a broken load. Values are "bumped" (+1, or negated for bool) so that a load that
copies nothing is seen. Keys fed to the object under test are live names (``h.names.live``);
keys it reports back are turned into model names (``unmap``) before they are compared.
"""
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conformance import build as builder
from conformance import model, model_state
from conformance.check import expect_equal, expect_no_error, expect_raises, expect_true
from conformance.handle import script
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import NODE_KINDS, blueprints

HOLDERS = ("Module", "ExtraState", "Sequential")  # graphs rich in None slots and non-persistent buffers
KINDS = st.sampled_from([NODE_KINDS, HOLDERS])  # half the graphs from holders only
GRAPHS = blueprints(kinds=KINDS)
# For tests that assume a rare graph feature: a backend that admits only some graphs (DDP: a
# parameter that requires a gradient) filters more, which is not a finding; keep the profile's
# other suppressions.
RARE = settings(suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.filter_too_much])

# Step text: the value change applied to the model's values (and, for BUMP_STATE, to extra state).
BUMP = ("def bump(v):\n"
        "    return ~v if v.dtype == torch.bool else v + 1\n")
BUMP_STATE = ("def bump(v):\n"
              "    if not torch.is_tensor(v):\n"
              "        return {'extra': v['extra'] + 1}\n"
              "    return ~v if v.dtype == torch.bool else v + 1\n")


def bump(t):
    return ~t if t.dtype == torch.bool else t + 1


# -- the model's values and keys, as Python values and as step text ----------------------------
def value(h, ref, *, bumped=True):
    """Tensor ``ref``'s value as the model gives it (the build's value function), bumped."""
    spec = h.blueprint.tensors[ref]
    v = h.namespace["_t"](spec.shape, getattr(torch, spec.dtype), spec.seed)
    return bump(v) if bumped else v


def value_src(h, ref, *, bumped=True) -> str:
    spec = h.blueprint.tensors[ref]
    v = f"_t({spec.shape!r}, torch.{spec.dtype}, {spec.seed})"
    return f"bump({v})" if bumped else v


def class_version(kind: str) -> int:
    """``_version`` of the class a node kind names (what ``state_dict()._metadata`` records)."""
    if kind == "ExtraState":
        return builder._runtime().ExtraState._version
    return getattr(torch.nn, kind)._version


def live_prefix(h, pre: str) -> str:
    """The live key prefix (trailing dot) of model key prefix ``pre``."""
    live = h.names.live(pre.removesuffix("."))
    return live + "." if live else ""


def unmap(h, keys) -> list[str]:
    """Reported live keys in model names; a key outside the wrapper's prefix is kept as it came
    (not dropped), so that a wrapper reporting its own names is still seen."""
    return [k if m is None else m for k, m in ((k, h.names.model(k)) for k in keys)]


def strict_error(h, missing, unexpected) -> str:
    """The strict load's message, naming the class of the object ``load_state_dict`` is called
    on (``self.__class__.__name__``): the root, which under a wrapper is the wrapper itself."""
    cls = h.cls if h.backend.wrap else model_state.class_name(h.blueprint, h.blueprint.root)
    return model_state.strict_error(cls, [h.names.live(k) for k in missing],
                                    [h.names.live(k) for k in unexpected])


def model_entries(h, *, bumped=True) -> dict[str, str]:
    """``{model key: value source}`` of the state the model says root has (extra state: +1)."""
    out = {}
    for key, (what, ref) in model.state_dict_entries(h.blueprint):
        if what == "tensor":
            out[key] = value_src(h, ref, bumped=bumped)
        else:
            out[key] = f"{{'extra': {h.blueprint.nodes[ref].args[0] + 1!r}}}"
    return out


def input_step(h, pairs) -> str:
    """Step text that builds ``sd`` from ``(model key, value source)`` pairs, in that order, under
    live keys, with ``_metadata`` as ``state_dict()`` makes it, so that classes with a
    version-dependent load (BatchNorm fills a missing ``num_batches_tracked`` for old versions)
    take the current-version path."""
    meta = [(h.names.live(path), {"version": class_version(h.blueprint.nodes[i].kind)})
            for path, i in model.metadata_paths(h.blueprint)]
    lines = ["from collections import OrderedDict", BUMP.rstrip(), "sd = OrderedDict()"]
    lines += [f"sd[{h.names.live(k)!r}] = {src}" for k, src in pairs]
    lines.append(f"sd._metadata = OrderedDict({meta!r})")
    return "\n".join(lines)


def model_input(h, *, bumped=True) -> list[tuple[str, str]]:
    return list(model_entries(h, bumped=bumped).items())


def tensor_entries(h):
    return [(key, ref) for key, (what, ref) in model.state_dict_entries(h.blueprint) if what == "tensor"]


def slot_objects(h):
    """``{(node, name): object}`` of every registered tensor slot, looked up through root."""
    return {(i, name): getattr(h.node(i), name) for key, i, _, name, _ in model_state.member_keys(h.blueprint)}


def slot_refs(h):
    """``{(node, name): tensor}`` of every registered tensor slot in the model's state_dict."""
    return {(i, name): ref for _, i, _, name, ref in model_state.member_keys(h.blueprint)}


def slot_kinds(h):
    """``{(node, name): 'param' or 'buffer'}`` of every registered tensor slot."""
    return {(i, name): kind for _, i, kind, name, _ in model_state.member_keys(h.blueprint)}


def draw_keys(data, h, reason="ordinary") -> list[tuple[str, str]]:
    """Keys to drop and stray keys to add, and the input order: a shuffled model input."""
    keys = model.state_dict_keys(h.blueprint)
    dropped = data.draw(st.lists(st.sampled_from(keys), unique=True, max_size=3) if keys else st.just([]), label="dropped keys")
    strays = model_state.stray_keys(h.blueprint)[reason]
    added = data.draw(st.lists(st.sampled_from(strays), unique=True, max_size=3) if strays else st.just([]), label="stray keys")
    pairs = [(k, v) for k, v in model_input(h) if k not in dropped] + [(k, "torch.zeros(1)") for k in added]
    return data.draw(st.permutations(pairs), label="input order")


def load(h, *, strict=True, extra=""):
    """The load of ``sd``, which must not raise; returns its result."""
    return expect_no_error(h, f"root.load_state_dict(sd{'' if strict else ', strict=False'}{extra})")


# -- tests ---------------------------------------------------------------------------------------
@invariant("load.roundtrip")
@needs("torch-objects")
@needs("load")
@given(data=st.data())
def test_load_roundtrip(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    result = expect_no_error(h, "from collections import OrderedDict\n" + BUMP_STATE
                             + "state = root.state_dict()\n"
                               "sd = OrderedDict((k, bump(v)) for k, v in state.items())\n"
                               "sd._metadata = state._metadata\n"
                               "root.load_state_dict(sd)")
    expect_equal(tuple(result), ([], []), h)
    actual = [(key, torch.equal(h.tensor(ref), value(h, ref))) for key, ref in tensor_entries(h)]
    expect_equal(actual, [(key, True) for key, _ in tensor_entries(h)], h,
                 problem="after the load every loaded tensor must equal the source's")
    extras = [i for i in h.blueprint.reachable() if h.blueprint.nodes[i].kind in model.EXTRA_STATE_KINDS]
    expect_equal([(f"n{i}", h.node(i).extra) for i in extras], [(f"n{i}", h.blueprint.nodes[i].args[0] + 1) for i in extras],
                 h, problem="extra state must be transferred")


@invariant("load.strict_exact_and_message")
@needs("load")
@given(data=st.data())
def test_load_strict_raises_on_key_mismatch(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    pairs = draw_keys(data, h)
    keys = [k for k, _ in pairs]
    missing = model_state.missing_keys(h.blueprint, keys)
    unexpected = model_state.unexpected_keys(h.blueprint, keys)
    h.run(input_step(h, pairs))
    if not missing and not unexpected:
        load(h)
        return
    exc = expect_raises(h, "root.load_state_dict(sd)", RuntimeError)
    expect_equal(str(exc), strict_error(h, missing, unexpected), h)


@invariant("load.strict_exact_and_message")
@needs("load")
@given(data=st.data())
def test_load_strict_rejects_key_under_none_child(data, backend):
    h = draw_graph(data, backend, kinds=("Module", "Sequential"), max_nodes=3)
    strays = model_state.stray_keys(h.blueprint)["none_child"]
    assume(strays)
    key = data.draw(st.sampled_from(strays), label="key under a None child")
    h.run(input_step(h, model_input(h) + [(key, "torch.zeros(1)")]))
    exc = expect_raises(h, "root.load_state_dict(sd)", RuntimeError)
    expect_equal(str(exc), strict_error(h, [], [key]), h)


@invariant("load.nonstrict_reports_and_order")
@needs("load")
@given(data=st.data())
def test_load_nonstrict_reports_missing_and_unexpected(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    pairs = draw_keys(data, h)
    keys = [k for k, _ in pairs]
    h.run(input_step(h, pairs))
    result = load(h, strict=False)
    expected = (model_state.missing_keys(h.blueprint, keys), model_state.unexpected_keys(h.blueprint, keys))
    expect_equal((unmap(h, result.missing_keys), unmap(h, result.unexpected_keys)), expected, h)


@invariant("load.nonstrict_reports_and_order")
@needs("load")
@given(data=st.data())
def test_load_unexpected_extra_state_keys_in_input_order(data, backend):
    h = draw_graph(data, backend, kinds=KINDS, max_nodes=3)
    extras = model_state.stray_keys(h.blueprint)["extra_state"]
    assume(extras)
    sd = dict(draw_keys(data, h, reason="extra_state"))
    sd.update((k, "torch.zeros(1)") for k in data.draw(
        st.lists(st.sampled_from(model_state.stray_keys(h.blueprint)["ordinary"]), unique=True, max_size=2), label="more strays"))
    pairs = data.draw(st.permutations(list(sd.items())), label="input order")
    # The order within a module only shows with another unexpected key of that module first:
    # end the input with one such pair, so every example exercises it.
    extra = data.draw(st.sampled_from(extras), label="extra-state stray")
    first = extra.removesuffix(model.EXTRA_STATE) + "zzz"
    pairs = [(k, v) for k, v in pairs if k not in (first, extra)] + [(first, "torch.zeros(1)"), (extra, "torch.zeros(1)")]
    h.run(input_step(h, pairs))
    result = load(h, strict=False)
    expect_equal(unmap(h, result.unexpected_keys), model_state.unexpected_keys(h.blueprint, [k for k, _ in pairs]), h)


@invariant("load.return_namedtuple")
@needs("load")
@given(data=st.data())
def test_load_returns_incompatible_keys(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    pairs = draw_keys(data, h)
    keys = [k for k, _ in pairs]
    h.run(input_step(h, pairs))
    result = load(h, strict=False)
    missing = model_state.missing_keys(h.blueprint, keys)
    unexpected = model_state.unexpected_keys(h.blueprint, keys)
    live_missing, live_unexpected = [h.names.live(k) for k in missing], [h.names.live(k) for k in unexpected]
    expected_repr = ("<All keys matched successfully>" if not missing and not unexpected
                     else f"_IncompatibleKeys(missing_keys={live_missing!r}, unexpected_keys={live_unexpected!r})")
    actual = (type(result).__name__, isinstance(result, tuple), getattr(result, "_fields", None),
              tuple(unmap(h, reported) for reported in result), repr(result))
    expected = ("_IncompatibleKeys", True, ("missing_keys", "unexpected_keys"), (missing, unexpected), expected_repr)
    expect_equal(actual, expected, h)


@invariant("load.none_registered_key")
@needs("load")
@RARE
@given(data=st.data())
def test_load_key_of_none_slot_raises(data, backend):
    h = draw_graph(data, backend, kinds=HOLDERS)
    nones = [pre + s.name for pre, i in model_state.paths(h.blueprint) for s in h.blueprint.nodes[i].slots
             if s.kind in ("param", "buffer") and s.ref is None]
    assume(nones)
    key = data.draw(st.sampled_from(nones), label="key of a None slot")
    h.run(input_step(h, model_input(h) + [(key, "torch.zeros(1)")]))
    exc = expect_raises(h, "root.load_state_dict(sd)", RuntimeError)
    expect_equal(str(exc), strict_error(h, [], [key]), h)


@invariant("load.nonpersistent_key_unexpected")
@needs("torch-objects")
@needs("load")
@RARE
@given(data=st.data())
def test_load_nonpersistent_buffer_key_unexpected_and_not_loaded(data, backend):
    h = draw_graph(data, backend, kinds=HOLDERS)
    slots = [(pre + s.name, s.ref) for pre, i in model_state.paths(h.blueprint) for s in h.blueprint.nodes[i].slots
             if s.kind == "buffer" and s.ref is not None and not s.persistent]
    assume(slots)
    key, ref = data.draw(st.sampled_from(slots), label="non-persistent buffer key")
    # the module's own values, plus the stray key with a changed value
    h.run(input_step(h, model_input(h, bumped=False) + [(key, value_src(h, ref))]))
    result = load(h, strict=False)
    expect_equal(unmap(h, result.unexpected_keys), [key], h)
    now, before = h.tensor(ref), value(h, ref, bumped=False)
    expect_true(torch.equal(now, before), h, actual=now, expected=before,
                problem="a non-persistent buffer must not be loaded")


@invariant("load.shape_mismatch_always_raises")
@needs("load")
@given(data=st.data())
def test_load_shape_mismatch_raises_even_nonstrict(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    assume(tensor_entries(h))
    key, ref = data.draw(st.sampled_from(tensor_entries(h)), label="key")
    strict = data.draw(st.booleans(), label="strict")
    spec = h.blueprint.tensors[ref]
    shape = spec.shape
    h.run(input_step(h, model_input(h)) + f"\nsd[{h.names.live(key)!r}] = torch.zeros({shape + (2,)!r}, dtype=torch.{spec.dtype})")
    expected = (f"size mismatch for {h.names.live(key)}: copying a param with shape torch.Size({list(shape) + [2]}) from checkpoint, "
                f"the shape in current model is torch.Size({list(shape)}).")
    expect_raises(h, f"root.load_state_dict(sd, strict={strict})", RuntimeError, match=expected)


@invariant("load.bad_inputs")
@needs("load")
@given(data=st.data())
def test_load_non_tensor_value_raises_even_nonstrict(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    assume(tensor_entries(h))
    key, _ = data.draw(st.sampled_from(tensor_entries(h)), label="key")
    strict = data.draw(st.booleans(), label="strict")
    h.run(input_step(h, model_input(h)) + f"\nsd[{h.names.live(key)!r}] = 1.5")
    expected = (f'While copying the parameter named "{h.names.live(key)}", expected torch.Tensor or Tensor-like object '
                "from checkpoint but received <class 'float'>")
    expect_raises(h, f"root.load_state_dict(sd, strict={strict})", RuntimeError, match=expected)


@invariant("load.bad_inputs")
@needs("load")
@given(data=st.data())
def test_load_accepts_any_mapping(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    h.run(input_step(h, model_input(h)))
    result = expect_no_error(h, "import types\nroot.load_state_dict(types.MappingProxyType(sd))")
    expect_equal(tuple(result), ([], []), h)


@invariant("load.bad_inputs")
@needs("load")
def test_load_non_mapping_raises_type_error(backend):
    h = script("root = nn.Module()", backend=backend)
    expect_raises(h, "root.load_state_dict([])", TypeError,
                  match="Expected state_dict to be dict-like, got <class 'list'>.")


@invariant("load.non_atomic")
@needs("torch-objects")
@needs("load")
@given(data=st.data())
def test_load_failed_strict_load_copies_matching_keys(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    entries = tensor_entries(h)
    assume(entries)
    stray = data.draw(st.sampled_from(model_state.stray_keys(h.blueprint)["ordinary"]), label="stray key")
    h.run(input_step(h, model_input(h) + [(stray, "torch.zeros(1)")]))
    expect_raises(h, "root.load_state_dict(sd)", RuntimeError)
    actual = [(key, torch.equal(h.tensor(ref), value(h, ref))) for key, ref in entries]
    expect_equal(actual, [(key, True) for key, _ in entries], h,
                 problem="the matching keys must have been copied before the error")


def _retyped_input(data, h, dtypes_for_float):
    """Bumped input whose floating values get a drawn dtype and requires_grad. Returns the input
    pairs and ``{model key: (source value, source requires_grad)}``."""
    pairs, sources = [], {}
    refs = dict(tensor_entries(h))
    for key, src in model_input(h):
        if key not in refs:
            pairs.append((key, src))
            continue
        source, requires_grad = value(h, refs[key]), False
        if source.is_floating_point():
            dtype = data.draw(st.sampled_from(dtypes_for_float), label=f"dtype of {key}")
            source = source.to(dtype)
            src += f".to({dtype})"
            if dtype.is_floating_point:
                requires_grad = data.draw(st.booleans(), label=f"requires_grad of {key}")
                src += f".requires_grad_({requires_grad})"
        pairs.append((key, src))
        sources[key] = (source, requires_grad)
    return pairs, sources


@invariant("load.copy_semantics")
@needs("torch-objects")
@needs("load")
@given(data=st.data())
def test_load_copy_keeps_objects_storage_dtype(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    pairs, sources = _retyped_input(data, h, [torch.float32, torch.float64, torch.float16, torch.int64])
    before = {slot: (obj, obj.data_ptr(), obj.dtype, obj.requires_grad, type(obj).__name__) for slot, obj in slot_objects(h).items()}
    h.run(input_step(h, pairs))
    load(h)
    writers, refs = model_state.last_copied(h.blueprint), slot_refs(h)
    for (i, name), (obj, ptr, dtype, requires_grad, kind) in before.items():
        now = getattr(h.node(i), name)
        actual = (now is obj, now.data_ptr(), now.dtype, now.requires_grad, type(now).__name__, now.is_leaf, now.grad_fn)
        expect_equal(actual, (True, ptr, dtype, requires_grad, kind, True, None), h,
                     problem=f"n{i}.{name}: identity, data_ptr, dtype, requires_grad, type, is_leaf, grad_fn must be kept")
        source = sources[writers[refs[(i, name)]]][0].to(dtype)
        expect_true(torch.equal(now, source), h, actual=now, expected=source,
                    problem=f"n{i}.{name} must hold the value of {writers[refs[(i, name)]]!r}, in its own dtype")


@invariant("load.assign")
@needs("torch-objects")
@needs("load")
@given(data=st.data())
def test_load_assign_takes_source_properties(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    pairs, sources = _retyped_input(data, h, [torch.float32, torch.float64, torch.float16])
    kinds = slot_kinds(h)
    module_grad = {slot: obj.requires_grad for slot, obj in slot_objects(h).items()}
    h.run(input_step(h, pairs))
    load(h, extra=", assign=True")
    for (i, name), key in model_state.last_writers(h.blueprint).items():
        now, (source, source_grad) = getattr(h.node(i), name), sources[key]
        is_param = kinds[(i, name)] == "param"
        grad = module_grad[(i, name)] if is_param else source_grad
        expect_equal((isinstance(now, torch.nn.Parameter), now.dtype, now.requires_grad), (is_param, source.dtype, grad), h,
                     problem=f"n{i}.{name} (from {key!r}): Parameter type, source dtype, requires_grad (module's for a Parameter)")
        expect_true(torch.equal(now.detach(), source), h, actual=now, expected=source,
                    problem=f"n{i}.{name} must hold the value of {key!r}")


@invariant("load.assign.keeps_sharing")
@needs("load")
@given(data=st.data())
def test_load_assign_roundtrip_keeps_sharing(data, backend):
    h = draw_graph(data, backend, kinds=KINDS, max_nodes=4)
    expect_no_error(h, "root.load_state_dict(root.state_dict(), assign=True)")
    slots = list(slot_objects(h))
    refs = slot_refs(h)
    first = {}
    expected = [(f"n{i}.{name}", first.setdefault(refs[(i, name)], f"n{i}.{name}")) for i, name in slots]
    objects = slot_objects(h)
    actual = [(f"n{i}.{name}", next(f"n{j}.{m}" for j, m in slots if objects[(j, m)] is objects[(i, name)])) for i, name in slots]
    expect_equal(actual, expected, h,
                 problem="each slot should hold the same object as the first slot that shared it before the load")


@invariant("load.shared_every_path_last_wins")
@needs("torch-objects")
@needs("load")
@given(data=st.data())
def test_load_shared_object_takes_last_key(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    pairs = model_input(h)
    h.run(input_step(h, pairs) + "\n"
          "for n, k in enumerate(sd):  # a different value per key\n"
          "    if torch.is_tensor(sd[k]):\n"
          "        sd[k] = sd[k] ^ bool(n % 2) if sd[k].dtype == torch.bool else sd[k] + n")
    load(h)
    refs = dict(tensor_entries(h))
    order = {key: n for n, (key, _) in enumerate(pairs)}

    def loaded(key):
        v, n = value(h, refs[key]), order[key]
        return v ^ bool(n % 2) if v.dtype == torch.bool else v + n

    for (i, name), ref in slot_refs(h).items():
        now, key = getattr(h.node(i), name), model_state.last_copied(h.blueprint)[ref]
        expect_true(torch.equal(now, loaded(key)), h, actual=now, expected=loaded(key),
                    problem=f"n{i}.{name} must end with the value of {key!r}, the last key that holds it")


def _record_load_hooks(h) -> str:
    """Step text: a pre- and a post-hook on every module (at its first path), recording into ``seen``."""
    lines = ["seen = []",
             "def record(m, label):",
             "    m.register_load_state_dict_pre_hook(",
             "        lambda m, sd, pre, meta, strict, *rest: seen.append(('pre', label, pre, dict(meta), list(sd), strict)))",
             "    m.register_load_state_dict_post_hook(lambda m, keys: seen.append(('post', label)))"]
    lines += [f"record({h.node_ref(i)}, 'n{i}')" for i in h.blueprint.reachable()]
    return "\n".join(lines)


@invariant("load.local_metadata")
@needs("load", "hooks")
@given(data=st.data())
def test_load_local_metadata(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    assign = data.draw(st.booleans(), label="assign")
    plain = data.draw(st.booleans(), label="plain dict input")
    h.run("sd = root.state_dict()  # the input under test is one that carries _metadata\n" + _record_load_hooks(h))
    expect_no_error(h, f"root.load_state_dict({'dict(sd)' if plain else 'sd'}, assign={assign})")
    seen = h.run("seen")
    flag = {"assign_to_params_buffers": True} if assign else {}
    expected = [(live_prefix(h, pre), ({} if plain else {"version": class_version(h.blueprint.nodes[i].kind)}) | flag)
                for pre, i in model_state.paths(h.blueprint)]
    expect_equal([(e[2], e[3]) for e in seen if e[0] == "pre"], expected, h)


@invariant("load.hooks")
@needs("load", "hooks")
@given(data=st.data())
def test_load_hooks_order_and_arguments(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    strict = data.draw(st.booleans(), label="strict")
    h.run(input_step(h, model_input(h)))
    h.run(_record_load_hooks(h))
    load(h, strict=strict)
    seen = h.run("seen")
    keys = [h.names.live(k) for k, _ in model_input(h)]
    expected = []
    for event, pre, i in model_state.state_dict_trace(h.blueprint):
        if event == "pre":
            expected.append(("pre", f"n{i}", live_prefix(h, pre), [k for k in keys if k.startswith(live_prefix(h, pre))], True))
        elif event == "post":
            expected.append(("post", f"n{i}"))
    actual = [e[:3] + e[4:] if e[0] == "pre" else e for e in seen]
    expect_equal(actual, expected, h)


def _input_after_load(data, backend, assign):
    h = draw_graph(data, backend, kinds=KINDS, max_nodes=4)
    snapshot = "(list(sd.items()), {k: dict(v) for k, v in sd._metadata.items()})"
    before = h.run("sd = root.state_dict()\n" + snapshot)
    expect_no_error(h, f"root.load_state_dict(sd, assign={assign})")
    after = h.run(snapshot)
    expect_equal(after[1], before[1], h, problem="load_state_dict changed its input's _metadata")
    expect_true(all(a[0] == b[0] and a[1] is b[1] for a, b in zip(after[0], before[0])) and len(after[0]) == len(before[0]),
                h, actual=[k for k, _ in after[0]], expected=[k for k, _ in before[0]],
                problem="load_state_dict changed its input's entries")


@invariant("load.input_not_mutated")
@needs("load")
@given(data=st.data())
def test_load_leaves_input_unchanged(data, backend):
    _input_after_load(data, backend, assign=False)


@invariant("load.input_not_mutated")
@needs("load")
@given(data=st.data())
def test_load_assign_leaves_input_unchanged(data, backend):
    _input_after_load(data, backend, assign=True)


@invariant("load.input_not_mutated")
@needs("load", "hooks")
def test_load_pre_hook_may_rewrite_its_state_dict(backend):
    h = script("root = nn.Module()\nroot.weight = nn.Parameter(torch.zeros(2))\n", backend=backend)
    m = h.node_ref("")  # the hand-written root as the object under test holds it
    h.run(f"{m}.register_load_state_dict_pre_hook(lambda m, sd, p, *a: sd.__setitem__(p + 'weight', sd.pop(p + 'old_w')))")
    actual = expect_no_error(h, "given = {key: torch.full((2,), 9.0)}\n"
                                "result = root.load_state_dict(given)\n"
                                f"(tuple(result), {m}.weight.tolist(), list(given))", key=h.names.live("old_w"))
    expect_equal(actual, (([], []), [9.0, 9.0], [h.names.live("old_w")]), h)


@invariant("load.swap_flag")
@needs("torch-objects")
@needs("load")
@given(data=st.data())
def test_load_with_swap_flag(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    assign = data.draw(st.booleans(), label="assign")
    pairs, sources = _retyped_input(data, h, [torch.float32, torch.float64])
    before = {slot: (obj, obj.dtype) for slot, obj in slot_objects(h).items()}
    h.run(input_step(h, pairs))
    expect_no_error(h, "old = torch.__future__.get_swap_module_params_on_conversion()\n"
                       "torch.__future__.set_swap_module_params_on_conversion(True)\n"
                       "try:\n"
                       f"    root.load_state_dict(sd, assign={assign})\n"
                       "finally:\n"
                       "    torch.__future__.set_swap_module_params_on_conversion(old)")
    writers = model_state.last_copied(h.blueprint)
    for (i, name), ref in slot_refs(h).items():
        obj, dtype = before[(i, name)]
        now, source = getattr(h.node(i), name), sources[writers[ref]][0]
        expect_equal((now is obj, now.dtype), (True, source.dtype if assign else dtype), h,
                     problem=f"n{i}.{name}: swapped in place (same object), dtype {'of the source' if assign else 'kept'}")
        expect_true(torch.equal(now.detach(), source.to(now.dtype)), h, actual=now, expected=source,
                    problem=f"n{i}.{name} must hold the value of {writers[ref]!r}")


@invariant("load.meta")
@needs("load", "devices")
@given(data=st.data())
def test_load_into_meta_module(data, backend):
    h = draw_graph(data, backend, GRAPHS, device="meta")
    assign = data.draw(st.booleans(), label="assign")
    before = slot_objects(h)
    h.run(input_step(h, model_input(h)) + "  # CPU values: root is on meta")
    caught = expect_no_error(h, "import warnings\n"
                                "with warnings.catch_warnings(record=True) as caught:\n"
                                "    warnings.simplefilter('always')\n"
                                f"    root.load_state_dict(sd, assign={assign})\n"
                                "[(w.category.__name__, issubclass(w.category, UserWarning), str(w.message)) for w in caught]")
    if not assign:
        noop = [w for w in caught if w[1] and "which is a no-op" in w[2]]
        expect_true(bool(noop) or not tensor_entries(h), h, actual=[w[2] for w in caught],
                    expected="a UserWarning: copying from a non-meta parameter ... is a no-op")
    kinds = slot_kinds(h)
    for (i, name), obj in before.items():
        now, is_param = getattr(h.node(i), name), kinds[(i, name)] == "param"
        if assign:  # a CPU tensor; a Parameter keeps the module's requires_grad, a buffer takes the source's (False)
            actual = (now.device.type, isinstance(now, torch.nn.Parameter), now.requires_grad)
            expected = ("cpu", is_param, obj.requires_grad if is_param else False)
        else:  # untouched
            actual, expected = (now.device.type, now is obj), ("meta", True)
        expect_equal(actual, expected, h, problem=f"n{i}.{name} after the load (assign={assign})")


@invariant("load.hooks")
@needs("load", "hooks")
def test_load_post_hook_edits_incompatible_keys(backend):
    def handle(hook: str):
        h = script("root = nn.Module()\nroot.w = nn.Parameter(torch.zeros(1))\n", backend=backend)
        h.run(f"{h.node_ref('')}.register_load_state_dict_post_hook({hook})")
        return h

    h = handle("lambda m, k: (k.missing_keys.clear(), k.unexpected_keys.clear()) and None")
    result = expect_no_error(h, "root.load_state_dict({key: torch.zeros(1)})", key=h.names.live("x"))
    expect_equal(tuple(result), ([], []), h, problem="a post-hook that clears both lists makes a strict load succeed")
    h = handle("lambda m, k: k.unexpected_keys.append('fake')")
    expect_raises(h, "root.load_state_dict({key: torch.ones(1)})", RuntimeError,
                  match='Unexpected key(s) in state_dict: "fake"', key=h.names.live("w"))
    h = handle("lambda m, k: 5")
    expect_raises(h, "root.load_state_dict({key: torch.ones(1)})", AssertionError, key=h.names.live("w"))
