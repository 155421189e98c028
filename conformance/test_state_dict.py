"""state_dict: keys, order, every path of shared objects, detaching, metadata, prefix, hooks."""
import keyword

import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn

from conformance import model, model_hooks, model_state
from conformance.check import ConformanceError, expect_equal, expect_raises, expect_true
from conformance.handle import script
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import NODE_KINDS, blueprints

PREFIXES = st.sampled_from(["x.", "x", "a.b.", "_"])
# Half the graphs use module holders only: these carry more None slots, non-persistent buffers
# and extra state than graphs of built-in layers.
KINDS = st.sampled_from([NODE_KINDS, ("Module", "ExtraState", "Sequential")])
GRAPHS = blueprints(kinds=KINDS)


def tensor_entries(h):
    """``[(key, tensor index)]`` of the model's state_dict, tensors only."""
    return [(key, ref) for key, (what, ref) in model.state_dict_entries(h.blueprint) if what == "tensor"]


def storage(t) -> int:
    return t.untyped_storage().data_ptr()


# -- live names -> model names -------------------------------------------------------------------
# A wrapper backend renames every key (``_orig_mod.``/``module.``, see NameMap). state_dict puts
# the caller's prefix before the live name, verbatim; these strip it, map the rest through the
# name map and put it back. On a backend without a name map they return the keys unchanged.

def model_key(h, key: str, prefix: str = "") -> str | None:
    """The model key of a live state_dict key made under ``prefix``; None for the wrapper's own
    keys; a key not under ``prefix`` is returned as it is (it then differs from the model)."""
    if not key.startswith(prefix):
        return key
    name = h.names.model(key[len(prefix):])
    return None if name is None else prefix + name


def model_keys(h, keys, prefix: str = "") -> list[str]:
    return [k for k in (model_key(h, key, prefix) for key in keys) if k is not None]


def by_model_key(h, items, prefix: str = "") -> dict:
    """``{model key: value}`` of live ``(key, value)`` pairs; the wrapper's own keys dropped."""
    out = {}
    for key, value in items:
        mapped = model_key(h, key, prefix)
        if mapped is not None:
            out[mapped] = value
    return out


def model_key_prefix(h, pre: str, prefix: str = "") -> str | None:
    """The model key prefix (``'x.a.'``) of a module's live key prefix (``'x._orig_mod.a.'``);
    None for the wrapper's own modules; a malformed one is returned as it is."""
    rest = pre[len(prefix):]
    if not pre.startswith(prefix) or (rest and (not rest.endswith(".") or rest == ".")):
        return pre
    name = h.names.model(rest[:-1])
    return None if name is None else prefix + (name + "." if name else "")


def model_metadata_key(h, key: str, prefix: str = "") -> str | None:
    """The model ``_metadata`` key (a module's key prefix without its trailing dot) of a live one."""
    mapped = model_key_prefix(h, key + "." if key else "", prefix)
    return None if mapped is None else mapped.removesuffix(".")


def model_metadata_keys(h, keys, prefix: str = "") -> list[str]:
    return [k for k in (model_metadata_key(h, key, prefix) for key in keys) if k is not None]


def tensor_ref(h, i: int) -> str:
    """Source text reaching tensor ``i`` through ``root``, as ``h.ref`` but also for member names
    that are not identifiers (a ParameterList's ``'0'``)."""
    _, name = h.tensor_paths[i]
    owner, _, attr = name.rpartition(".")
    if attr.isidentifier() and not keyword.iskeyword(attr):
        return h.ref(i)
    return f"getattr({h.node_ref(owner)}, {attr!r})"


def class_version(h, i: int) -> int:
    """``_version`` of node ``i``'s class, from the blueprint's node kind (not the live object)."""
    kind = h.blueprint.nodes[i].kind
    cls = h.namespace["ExtraState"] if kind in model.EXTRA_STATE_KINDS else getattr(nn, kind)
    return cls._version


# -- tests ---------------------------------------------------------------------------------------

@invariant("sd.keys.params_and_persistent_buffers")
@given(data=st.data())
def test_state_dict_keys(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    keys = h.run("list(root.state_dict())")
    expect_equal(sorted(model_keys(h, keys)), sorted(model.state_dict_keys(h.blueprint)), h)


@invariant("sd.order")
@given(data=st.data())
def test_state_dict_order(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    keys = h.run("list(root.state_dict())")
    expect_equal(model_keys(h, keys), model.state_dict_keys(h.blueprint), h)


@invariant("sd.shared_module_every_path")
@given(data=st.data())
def test_state_dict_entries_share_storage_with_their_object(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    ptrs = by_model_key(h, h.run(
        "sd = root.state_dict()\n"
        "[(k, v.untyped_storage().data_ptr()) for k, v in sd.items() if torch.is_tensor(v)]"))
    actual = [(key, key in ptrs and ptrs[key] == storage(h.tensor(ref))) for key, ref in tensor_entries(h)]
    expect_equal(actual, [(key, True) for key, _ in tensor_entries(h)], h,
                 problem="every key of an object must hold a tensor sharing that object's storage")


@invariant("sd.shared_module_every_path")
@given(data=st.data())
def test_state_dict_keys_agree_with_named_members(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    expected = [name for name, _ in h.run("list(root.named_parameters(remove_duplicate=False))")]
    walk = h.run("[(path, m, [name for name, _ in m.named_buffers(recurse=False, remove_duplicate=False)],\n"
                 "  type(m).get_extra_state is not nn.Module.get_extra_state)\n"
                 " for path, m in root.named_modules(remove_duplicate=False)]")
    for path, m, buffers, extra in walk:
        label = h.label(m)
        if not label.startswith("n"):
            if h.names.model(path) is None:
                continue  # the wrapper's own module: no model counterpart, its keys are dropped below
            raise ConformanceError("named_modules yields a module the graph does not hold", h=h,
                                   actual=(path, label), expected="a module of the graph")
        persistent = {name for name, _ in model.own(h.blueprint, int(label[1:]), "buffer", persistent_only=True)}
        expected += [model.join(path, name) for name in buffers if name in persistent]
        if extra:
            expected.append(model.join(path, model.EXTRA_STATE))
    keys = h.run("list(root.state_dict())")
    expect_equal(sorted(h.unmapped(keys)), sorted(h.unmapped(expected)), h,
                 problem="state_dict keys differ from named_parameters/named_buffers(remove_duplicate=False)")


@invariant("sd.detach_and_keep_vars")
@given(data=st.data())
def test_state_dict_values_are_detached_plain_tensors(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    seen = by_model_key(h, ((k, (kind, grad)) for k, kind, grad in h.run(
        "sd = root.state_dict()\n"
        "[(k, type(v).__name__, v.requires_grad) for k, v in sd.items() if torch.is_tensor(v)]")))
    sd = by_model_key(h, h.namespace["sd"].items())
    actual = [(key, *seen.get(key, ("missing", None)), sd.get(key) is h.tensor(ref)) for key, ref in tensor_entries(h)]
    expected = [(key, "Tensor", False, False) for key, _ in tensor_entries(h)]
    expect_equal(actual, expected, h)


@invariant("sd.detach_and_keep_vars")
@given(data=st.data())
def test_state_dict_keep_vars_returns_registered_objects(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    sd = by_model_key(h, h.run("list(root.state_dict(keep_vars=True).items())"))
    actual = [(key, h.label(sd.get(key))) for key, _ in tensor_entries(h)]
    expect_equal(actual, h.expected(tensor_entries(h), prefix="t"), h)


@invariant("sd.shallow_reference")
@needs("torch-objects")
@given(data=st.data())
def test_state_dict_writes_reach_the_module(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    entries = [(key, ref) for key, ref in tensor_entries(h) if h.blueprint.tensors[ref].numel]
    assume(entries)
    key, ref = data.draw(st.sampled_from(entries), label="key")
    spec = h.blueprint.tensors[ref]
    value = h.namespace["_t"](spec.shape, getattr(torch, spec.dtype), spec.seed)
    boolean = value.dtype == torch.bool
    expected = ~value if boolean else value + 1
    before = h.tensor(ref)
    h.run(f"root.state_dict()[key].{'logical_not_()' if boolean else 'add_(1)'}", key=h.names.live(key))
    after = h.run(tensor_ref(h, ref))
    problem = "writing into a state_dict value must write into the registered tensor"
    expect_true(torch.equal(after, expected), h, actual=after, expected=expected, problem=problem)
    expect_true(torch.equal(before, expected), h, actual=before, expected=expected,
                problem=problem + " (the object registered before the write)")


@invariant("sd.return_type_and_metadata")
@given(data=st.data())
def test_state_dict_type_and_metadata(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    types = h.run("sd = root.state_dict()\n(type(sd).__name__, type(getattr(sd, '_metadata', None)).__name__)")
    expect_equal(types, ("OrderedDict", "OrderedDict"), h)
    meta = [(model_metadata_key(h, path), value) for path, value in h.run("list(sd._metadata.items())")]
    expected = [(path, {"version": class_version(h, i)}) for path, i in model.metadata_paths(h.blueprint)]
    expect_equal([(path, value) for path, value in meta if path is not None], expected, h)


@invariant("sd.prefix_verbatim")
@given(data=st.data())
def test_state_dict_prefix_concatenated_verbatim(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    prefix = data.draw(PREFIXES, label="prefix")
    keys = h.run("list(root.state_dict(prefix=prefix))", prefix=prefix)
    expect_equal(model_keys(h, keys, prefix), model.state_dict_keys(h.blueprint, prefix=prefix), h)


def _metadata_paths_with_prefix(data, backend, prefixes, graphs=GRAPHS):
    h = draw_graph(data, backend, graphs)
    prefix = data.draw(st.sampled_from(prefixes), label="prefix")
    keys = h.run("list(root.state_dict(prefix=prefix)._metadata)", prefix=prefix)
    expect_equal(model_metadata_keys(h, keys, prefix),
                 [path for path, _ in model.metadata_paths(h.blueprint, prefix=prefix)], h)


@invariant("sd.prefix_verbatim")
@given(data=st.data())
def test_state_dict_prefix_metadata_paths(data, backend):
    _metadata_paths_with_prefix(data, backend, ["x.", "a.b."])


SMALL_GRAPHS = blueprints(kinds=KINDS, max_nodes=3, max_slots=2)


@invariant("sd.prefix_verbatim")
@given(data=st.data())
def test_state_dict_undotted_prefix_metadata_paths(data, backend):
    # The root's _metadata key is its key prefix without a trailing dot; 'x' has none to drop.
    _metadata_paths_with_prefix(data, backend, ["x", "_"], SMALL_GRAPHS)


@invariant("sd.destination")
@given(data=st.data())
def test_state_dict_destination_filled_and_returned(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    cls = data.draw(st.sampled_from(["dict", "OrderedDict"]), label="destination type")
    old = data.draw(st.sampled_from([{}, {"old": 0}]), label="destination contents")
    same, keys, has_meta = h.run(
        "from collections import OrderedDict\n"
        f"d = {cls}({old!r})\n"
        "r = root.state_dict(destination=d)\n"
        "(r is d, list(d), hasattr(d, '_metadata'))")
    keys = keys[:len(old)] + model_keys(h, keys[len(old):])
    expect_equal((same, keys, has_meta), (True, list(old) + model.state_dict_keys(h.blueprint), False), h)


@invariant("sd.positional_args_deprecated")
@given(data=st.data())
def test_state_dict_positional_args_warn_and_work(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    prefix = data.draw(PREFIXES, label="prefix")
    same, items, kinds = h.run(
        "import warnings\n"
        "d = {}\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    r = root.state_dict(d, prefix, True)\n"
        "(r is d, list(d.items()), [w.category.__name__ for w in caught])", prefix=prefix)
    dest = by_model_key(h, items, prefix)
    expect_equal((same, model_keys(h, [k for k, _ in items], prefix)),
                 (True, model.state_dict_keys(h.blueprint, prefix=prefix)), h)
    values = [(prefix + key, h.label(dest.get(prefix + key))) for key, _ in tensor_entries(h)]
    expect_equal(values, [(prefix + k, f"t{t}") for k, t in tensor_entries(h)], h,
                 problem="the third positional argument is keep_vars")
    expect_true("FutureWarning" in kinds, h, actual=kinds, expected="a FutureWarning")


@invariant("sd.extra_state")
@given(data=st.data())
def test_state_dict_extra_state_values(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    sd = by_model_key(h, h.run("[(k, v) for k, v in root.state_dict().items() if k.endswith('_extra_state')]"))
    extras = [(key, i) for key, (what, i) in model.state_dict_entries(h.blueprint) if what == "extra"]
    expect_equal([(key, sd.get(key)) for key, _ in extras],
                 [(key, {"extra": h.blueprint.nodes[i].args[0]}) for key, i in extras], h)


@invariant("sd.extra_state")
@needs("load", "register")
def test_extra_state_needs_class_overrides(backend):
    h = script("class GetOnly(nn.Module):\n"
               "    def get_extra_state(self):\n"
               "        return 1\n\n\n"
               "root = GetOnly()", backend=backend)
    expect_raises(h, "root.load_state_dict(root.state_dict())", RuntimeError,
                  match=f'Unexpected key(s) in state_dict: "{h.names.live("_extra_state")}"')
    h = script("root = nn.Module()", backend=backend)
    h.run(f"{h.node_ref('')}.get_extra_state = lambda: 1")
    expect_equal(h.unmapped(h.run("list(root.state_dict())")), [], h,
                 problem="a get_extra_state set on an instance must be ignored")


@invariant("sd.hooks")
@needs("hooks")
@given(data=st.data())
def test_state_dict_hooks_order_and_arguments(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    prefix = data.draw(st.sampled_from(["", "x."]), label="prefix")
    keep_vars = data.draw(st.booleans(), label="keep_vars")
    modules = ", ".join(f"({f'n{i}'!r}, {h.node_ref(i)})" for i in h.blueprint.reachable())
    h.run("seen = []\n"
          f"for label, m in [{modules}]:\n"
          "    m.register_state_dict_pre_hook(lambda m, p, kv, label=label: seen.append(('pre', label, p, kv)))\n"
          "    m.register_state_dict_post_hook(\n"
          "        lambda m, sd, p, meta, label=label: seen.append(('post', label, p, list(sd))))")
    seen = h.run("root.state_dict(prefix=prefix, keep_vars=keep_vars)\nseen", prefix=prefix, keep_vars=keep_vars)
    actual = []
    for event, label, pre, arg in seen:
        mapped = model_key_prefix(h, pre, prefix)
        if mapped is not None:
            actual.append((event, label, mapped, arg if event == "pre" else model_keys(h, arg, prefix)))
    expected, keys = [], []
    for event, path, i in model_state.state_dict_trace(h.blueprint, prefix=prefix):
        if event == "key":
            keys.append(path)
        else:
            expected.append((event, f"n{i}", path, keep_vars if event == "pre" else list(keys)))
    expect_equal(actual, expected, h)


@invariant("sd.hooks")
@needs("hooks")
def test_state_dict_public_post_hook_must_return_none(backend):
    h = script("root = nn.Module()", backend=backend)
    h.run(f"hook = {h.node_ref('')}.register_state_dict_post_hook(lambda *args: {{'replaced': 1}})")
    expect_raises(h, "root.state_dict()", RuntimeError, match="state_dict post-hook must return None")


# -- get_extra_state / set_extra_state called directly -------------------------------------------
@invariant("sd.extra_state_direct")
@given(data=st.data())
def test_extra_state_direct_calls(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    i = data.draw(st.sampled_from(sorted(h.paths)), label="node")
    value = data.draw(st.integers(-3, 3), label="state set")
    m = h.node_ref(i)
    if h.blueprint.nodes[i].kind in model.EXTRA_STATE_KINDS:
        # The class implements both: get returns its state; set then get round-trips.
        got = h.run(f"{m}.get_extra_state()")
        h.run(f"{m}.set_extra_state({{'extra': value}})", value=value)
        expect_equal((got, h.run(f"{m}.get_extra_state()")),
                     ({"extra": h.blueprint.nodes[i].args[0]}, {"extra": value}), h)
    else:
        # Module's own methods: this class has no extra state to get or set.
        expect_raises(h, f"{m}.get_extra_state()", RuntimeError)
        expect_raises(h, f"{m}.set_extra_state({{'extra': value}})", RuntimeError, value=value)


# -- torch.nn.utils.stateless.functional_call ------------------------------------------------------
# Graphs without built-in layers whose root takes x: root(x) is x plus the sum of every member
# read (conformance.model_hooks.member_reads), so its value follows from the members alone.
FC_GRAPHS = blueprints(kinds=("Module", "ExtraState", "Sequential", "ModuleList", "ModuleDict",
                              "ParameterList", "ParameterDict")).filter(model_hooks.root_accepts)
FC_UNSHARED = blueprints(kinds=("Module", "ExtraState", "Sequential", "ModuleList", "ModuleDict",
                                "ParameterList", "ParameterDict"), sharing=False).filter(model_hooks.root_accepts)
SNAPSHOT = "list(root.named_parameters(remove_duplicate=False)) + list(root.named_buffers(remove_duplicate=False))"


def member_names(bp) -> list[tuple[str, int, str, int]]:
    """``(name, owner node, slot name, tensor)`` of every parameter and buffer name, every path."""
    out = []
    for path, node in model.named_modules(bp, remove_duplicate=False):
        for kind in ("param", "buffer"):
            out += [(model.join(path, name), node, name, ref) for name, ref in model.own(bp, node, kind)]
    return out


def forward_value(bp, replaced: dict, unit) -> float:
    """root(zeros(1)) with the members of the replaced units (``unit(node, slot, tensor)``) filled with their value."""
    total = 0
    for node, slot, ref in model_hooks.member_reads(bp):
        spec = bp.tensors[ref]
        k = replaced.get(unit(node, slot, ref))
        total += (model_state.full_sum(spec.shape, spec.dtype, k) if k is not None
                  else model_state.value_sum(spec.shape, spec.dtype, spec.seed))
    return float(total)


@invariant("util.functional_call")
@needs("forward", "register")
@given(data=st.data())
def test_functional_call_replaces_temporarily(data, backend):
    check_functional_call(data, backend, FC_UNSHARED)


@invariant("util.functional_call")
@needs("forward", "register")
@given(data=st.data())
def test_functional_call_on_shared_modules(data, backend):
    """As above, on graphs that may hold a module under several paths (torch 2.13 keeps a
    replacement there: a known deviation, so the property also has a test id without sharing)."""
    check_functional_call(data, backend, FC_GRAPHS)


def check_functional_call(data, backend, graphs):
    h = draw_graph(data, backend, graphs, forward=True)
    bp = h.blueprint
    tie = data.draw(st.booleans(), label="tie_weights")
    strict = data.draw(st.booleans(), label="strict")
    names = member_names(bp)
    # A replaced unit: with tie_weights a tensor (every name of it), without it one slot of one module.
    unit = (lambda node, slot, ref: ref) if tie else (lambda node, slot, ref: (node, slot))
    units = sorted({unit(node, slot, ref) for _, node, slot, ref in names}, key=repr)
    every = data.draw(st.booleans(), label="every name given") if units else False
    chosen = units if every else data.draw(st.lists(st.sampled_from(units), unique=True) if units else st.just([]),
                                           label="units replaced")
    values = {u: data.draw(st.integers(0, 3), label=f"value of {u}") for u in chosen}
    lines_ = ["d = {}"]
    for j, u in enumerate(chosen):
        given = [n for n, node, slot, ref in names if unit(node, slot, ref) == u]
        # With tie_weights one name of a tensor is enough (the others follow it) unless every name is
        # drawn; without, a slot's every path (a shared module's slot has several) is given.
        given = given if every or not tie else given[:1]
        owner, _, attr = given[0].rpartition(".")
        lines_.append(f"v{j} = torch.full_like({h.node_ref(owner)}.{attr}" if attr.isidentifier()
                      else f"v{j} = torch.full_like(getattr({h.node_ref(owner)}, {attr!r})")
        lines_[-1] += f", {values[u]})"
        lines_ += [f"d[{h.names.live(n)!r}] = v{j}" for n in given]
    h.run("from torch.nn.utils import stateless\n" + "\n".join(lines_) + f"\nsnap = {SNAPSHOT}")
    call = f"stateless.functional_call(root, d, (torch.zeros(1),), {{}}, tie_weights={tie}, strict={strict}).tolist()"
    # strict: the given names (with tie_weights, every name of a given tensor) must be every name.
    covered = {n for n, node, slot, ref in names if unit(node, slot, ref) in values}
    if strict and covered != {n for n, *_ in names}:
        expect_raises(h, call, RuntimeError, match="Missing key(s)")
    else:
        expect_equal(h.run(call), [forward_value(bp, values, unit)], h,
                     problem="functional_call does not compute the module with the given tensors")
    # Law: a rejected or temporary call changes nothing.
    after = h.run(f"now = {SNAPSHOT}\n[(n, m == n and t is u) for (n, t), (m, u) in zip(snap, now)], len(now) == len(snap)")
    expect_equal(after, ([(n, True) for n, _ in after[0]], True), h,
                 problem="after functional_call the module does not hold its own tensors")
    expect_equal(h.run("root(torch.zeros(1)).tolist()"), [forward_value(bp, {}, unit)], h,
                 problem="after functional_call the module computes with other values")
    if units:  # strict: every name of one unit left out of an otherwise complete dict must raise
        gone = {h.names.live(n) for n, node, slot, ref in names if unit(node, slot, ref) == units[0]}
        expect_raises(h, f"d2 = {{n: t for n, t in snap if n not in {sorted(gone)!r}}}\n"
                         f"stateless.functional_call(root, d2, (torch.zeros(1),), {{}}, tie_weights={tie}, strict=True)",
                      RuntimeError, match="Missing key")
