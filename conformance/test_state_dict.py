"""state_dict: keys, order, every path of shared objects, detaching, metadata, prefix, hooks."""
import warnings
from collections import OrderedDict

import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance import model, model_state
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.registry import invariant
from strategies import NODE_KINDS, blueprints

PREFIXES = st.sampled_from(["x.", "x", "a.b.", "_"])
# Half the graphs use module holders only: these carry more None slots, non-persistent buffers
# and extra state than graphs of built-in layers.
KINDS = st.sampled_from([NODE_KINDS, ("Module", "ExtraState", "Sequential")])


def draw_graph(data, backend, **kwargs):
    kwargs.setdefault("kinds", KINDS)
    return backend.build(data.draw(blueprints(**kwargs), label="blueprint"))


def tensor_entries(g):
    """``[(key, tensor index)]`` of the model's state_dict, tensors only."""
    return [(key, ref) for key, (what, ref) in model.state_dict_entries(g.blueprint) if what == "tensor"]


def storage(t) -> int:
    return t.untyped_storage().data_ptr()


@invariant("sd.keys.params_and_persistent_buffers")
@given(data=st.data())
def test_state_dict_keys(data, backend):
    g = draw_graph(data, backend)
    expect_equal(sorted(g.root.state_dict()), sorted(model.state_dict_keys(g.blueprint)),
                 call="print(sorted(root.state_dict()))", graph=g)


@invariant("sd.order")
@given(data=st.data())
def test_state_dict_order(data, backend):
    g = draw_graph(data, backend)
    expect_equal(list(g.root.state_dict()), model.state_dict_keys(g.blueprint),
                 call="print(list(root.state_dict()))", graph=g)


@invariant("sd.shared_module_every_path")
@given(data=st.data())
def test_state_dict_entries_share_storage_with_their_object(data, backend):
    g = draw_graph(data, backend)
    sd = g.root.state_dict()
    actual = [(key, key in sd and storage(sd[key]) == storage(g.tensor(ref))) for key, ref in tensor_entries(g)]
    call = "sd = root.state_dict()\nprint([(k, v.untyped_storage().data_ptr()) for k, v in sd.items() if torch.is_tensor(v)])"
    expect_equal(actual, [(key, True) for key, _ in tensor_entries(g)], call=call, graph=g,
                 problem="every key of an object must hold a tensor sharing that object's storage")


@invariant("sd.shared_module_every_path")
@given(data=st.data())
def test_state_dict_keys_agree_with_named_members(data, backend):
    g = draw_graph(data, backend)
    expected = [name for name, _ in g.root.named_parameters(remove_duplicate=False)]
    for path, m in g.root.named_modules(remove_duplicate=False):
        persistent = {name for name, _ in model.own(g.blueprint, int(g.label(m)[1:]), "buffer", persistent_only=True)}
        expected += [model.join(path, name) for name, _ in m.named_buffers(recurse=False, remove_duplicate=False)
                     if name in persistent]
        if type(m).get_extra_state is not torch.nn.Module.get_extra_state:
            expected.append(model.join(path, model.EXTRA_STATE))
    expect_equal(sorted(g.root.state_dict()), sorted(expected), graph=g,
                 call="print(sorted(root.state_dict()))  # vs named_parameters/named_buffers(remove_duplicate=False)")


@invariant("sd.detach_and_keep_vars")
@given(data=st.data())
def test_state_dict_values_are_detached_plain_tensors(data, backend):
    g = draw_graph(data, backend)
    sd = g.root.state_dict()
    actual = [(key, type(sd[key]).__name__, sd[key].requires_grad, sd[key] is g.tensor(ref)) for key, ref in tensor_entries(g)]
    expected = [(key, "Tensor", False, False) for key, _ in tensor_entries(g)]
    expect_equal(actual, expected, graph=g,
                 call="sd = root.state_dict()\nprint([(k, type(v).__name__, v.requires_grad) for k, v in sd.items() if torch.is_tensor(v)])")


@invariant("sd.detach_and_keep_vars")
@given(data=st.data())
def test_state_dict_keep_vars_returns_registered_objects(data, backend):
    g = draw_graph(data, backend)
    sd = g.root.state_dict(keep_vars=True)
    actual = [(key, g.label(sd.get(key))) for key, _ in tensor_entries(g)]
    expect_equal(actual, g.expected(tensor_entries(g), prefix="t"), graph=g,
                 call="print(list(root.state_dict(keep_vars=True).items()))")


@invariant("sd.shallow_reference")
@given(data=st.data())
def test_state_dict_writes_reach_the_module(data, backend):
    g = draw_graph(data, backend)
    entries = [(key, ref) for key, ref in tensor_entries(g) if g.blueprint.tensors[ref].numel]
    assume(entries)
    key, ref = data.draw(st.sampled_from(entries), label="key")
    target = g.tensor(ref)
    expected = ~target if target.dtype == torch.bool else target.detach() + 1
    value = g.root.state_dict()[key]
    value.logical_not_() if value.dtype == torch.bool else value.add_(1)
    call = f"root.state_dict()[{key!r}].{'logical_not_()' if target.dtype == torch.bool else 'add_(1)'}\nprint(t{ref})"
    expect_true(torch.equal(target, expected), call=call, actual=target, expected=expected, graph=g,
                problem="writing into a state_dict value must write into the registered tensor")


@invariant("sd.return_type_and_metadata")
@given(data=st.data())
def test_state_dict_type_and_metadata(data, backend):
    g = draw_graph(data, backend)
    sd = g.root.state_dict()
    meta = getattr(sd, "_metadata", None)
    expect_equal((type(sd).__name__, type(meta).__name__), ("OrderedDict", "OrderedDict"),
                 call="sd = root.state_dict()\nprint(type(sd), type(sd._metadata))", graph=g)
    expected = [(path, {"version": type(g.node(i))._version}) for path, i in model.metadata_paths(g.blueprint)]
    expect_equal(list(meta.items()), expected, call="print(root.state_dict()._metadata)", graph=g)


@invariant("sd.prefix_verbatim")
@given(data=st.data())
def test_state_dict_prefix_concatenated_verbatim(data, backend):
    g = draw_graph(data, backend)
    prefix = data.draw(PREFIXES, label="prefix")
    expect_equal(list(g.root.state_dict(prefix=prefix)), model.state_dict_keys(g.blueprint, prefix=prefix),
                 call=f"print(list(root.state_dict(prefix={prefix!r})))", graph=g)


def _metadata_paths_with_prefix(data, backend, prefixes, **kwargs):
    g = draw_graph(data, backend, **kwargs)
    prefix = data.draw(st.sampled_from(prefixes), label="prefix")
    expect_equal(list(g.root.state_dict(prefix=prefix)._metadata),
                 [path for path, _ in model.metadata_paths(g.blueprint, prefix=prefix)],
                 call=f"print(list(root.state_dict(prefix={prefix!r})._metadata))", graph=g)


@invariant("sd.prefix_verbatim")
@given(data=st.data())
def test_state_dict_prefix_metadata_paths(data, backend):
    _metadata_paths_with_prefix(data, backend, ["x.", "a.b."])


@invariant("sd.prefix_verbatim")
@given(data=st.data())
def test_state_dict_undotted_prefix_metadata_paths(data, backend):
    # The root's _metadata key is its key prefix without a trailing dot; 'x' has none to drop.
    _metadata_paths_with_prefix(data, backend, ["x", "_"], max_nodes=3, max_slots=2)


@invariant("sd.destination")
@given(data=st.data())
def test_state_dict_destination_filled_and_returned(data, backend):
    g = draw_graph(data, backend)
    cls = data.draw(st.sampled_from([dict, OrderedDict]), label="destination type")
    old = data.draw(st.sampled_from([{}, {"old": 0}]), label="destination contents")
    dest = cls(old)
    result = g.root.state_dict(destination=dest)
    call = f"import collections\nd = {'collections.' if cls is OrderedDict else ''}{cls.__name__}({old!r})\nr = root.state_dict(destination=d)\nprint(r is d, list(d), hasattr(d, '_metadata'))"
    expect_equal((result is dest, list(dest), hasattr(dest, "_metadata")),
                 (True, list(old) + model.state_dict_keys(g.blueprint), False), call=call, graph=g)


@invariant("sd.positional_args_deprecated")
@given(data=st.data())
def test_state_dict_positional_args_warn_and_work(data, backend):
    g = draw_graph(data, backend)
    prefix = data.draw(PREFIXES, label="prefix")
    dest = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = g.root.state_dict(dest, prefix, True)
    call = f"d = {{}}\nr = root.state_dict(d, {prefix!r}, True)  # FutureWarning\nprint(r is d, list(d))"
    expect_equal((result is dest, list(dest)), (True, model.state_dict_keys(g.blueprint, prefix=prefix)), call=call, graph=g)
    values = [(prefix + key, g.label(dest.get(prefix + key))) for key, _ in tensor_entries(g)]
    expect_equal(values, [(prefix + k, f"t{t}") for k, t in tensor_entries(g)], call=call, graph=g,
                 problem="the third positional argument is keep_vars")
    kinds = [w.category.__name__ for w in caught]
    expect_true("FutureWarning" in kinds, call=call, actual=kinds, expected="a FutureWarning", graph=g)


@invariant("sd.extra_state")
@given(data=st.data())
def test_state_dict_extra_state_values(data, backend):
    g = draw_graph(data, backend)
    sd = g.root.state_dict()
    extras = [(key, i) for key, (what, i) in model.state_dict_entries(g.blueprint) if what == "extra"]
    expect_equal([(key, sd.get(key)) for key, _ in extras],
                 [(key, {"extra": g.blueprint.nodes[i].args[0]}) for key, i in extras],
                 call="sd = root.state_dict()\nprint({k: v for k, v in sd.items() if k.endswith('_extra_state')})", graph=g)


@invariant("sd.extra_state")
def test_extra_state_needs_class_overrides():
    class GetOnly(torch.nn.Module):
        def get_extra_state(self):
            return 1

    m = GetOnly()
    expect_raises(RuntimeError, lambda: m.load_state_dict(m.state_dict()), match='Unexpected key(s) in state_dict: "_extra_state"',
                  call="class GetOnly(nn.Module):\n    def get_extra_state(self): return 1\nm = GetOnly()\nm.load_state_dict(m.state_dict())")
    m = torch.nn.Module()
    m.get_extra_state = lambda: 1
    expect_equal(list(m.state_dict()), [], call="m = nn.Module()\nm.get_extra_state = lambda: 1\nprint(list(m.state_dict()))",
                 problem="a get_extra_state set on an instance must be ignored")


@invariant("sd.hooks")
@given(data=st.data())
def test_state_dict_hooks_order_and_arguments(data, backend):
    g = draw_graph(data, backend)
    prefix = data.draw(st.sampled_from(["", "x."]), label="prefix")
    keep_vars = data.draw(st.booleans(), label="keep_vars")
    seen = []
    for i in g.blueprint.reachable():
        label = f"n{i}"
        g.node(i).register_state_dict_pre_hook(lambda m, p, kv, label=label: seen.append(("pre", label, p, kv)))
        g.node(i).register_state_dict_post_hook(
            lambda m, sd, p, meta, label=label: seen.append(("post", label, p, list(sd))))
    g.root.state_dict(prefix=prefix, keep_vars=keep_vars)
    expected, keys = [], []
    for event, path, i in model_state.state_dict_trace(g.blueprint, prefix=prefix):
        if event == "key":
            keys.append(path)
        else:
            expected.append((event, f"n{i}", path, keep_vars if event == "pre" else list(keys)))
    call = ("for m in root.modules():\n"
            "    m.register_state_dict_pre_hook(lambda m, p, kv: print('pre', type(m).__name__, p, kv))\n"
            "    m.register_state_dict_post_hook(lambda m, sd, p, meta: print('post', type(m).__name__, p, list(sd)))\n"
            f"root.state_dict(prefix={prefix!r}, keep_vars={keep_vars})")
    expect_equal(seen, expected, call=call, graph=g)


@invariant("sd.hooks")
def test_state_dict_public_post_hook_must_return_none():
    m = torch.nn.Module()
    m.register_state_dict_post_hook(lambda *args: {"replaced": 1})
    expect_raises(RuntimeError, m.state_dict, match="state_dict post-hook must return None",
                  call="m = nn.Module()\nm.register_state_dict_post_hook(lambda *a: {'replaced': 1})\nm.state_dict()")
