"""Traversal: modules/children/parameters/buffers, their names, order and de-duplication."""
import types

import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance import model
from conformance.check import expect_equal, expect_true
from conformance.registry import invariant
from strategies import blueprints

PREFIXES = st.sampled_from(["", "p", "a.b"])


def draw_graph(data, backend, **kwargs):
    return backend.build(data.draw(blueprints(**kwargs), label="blueprint"))


@invariant("traversal.named_modules.preorder")
@given(data=st.data())
def test_named_modules_preorder(data, backend):
    g = draw_graph(data, backend)
    expect_equal(g.labelled(g.root.named_modules()), g.expected(model.named_modules(g.blueprint)),
                 call="print([(name, m) for name, m in root.named_modules()])", graph=g)
    first = next(g.root.modules())
    expect_true(first is g.root, call="print(next(root.modules()) is root)", actual=g.label(first), expected="root", graph=g)


@invariant("traversal.named_modules.prefix")
@given(data=st.data())
def test_named_modules_prefix(data, backend):
    g = draw_graph(data, backend)
    prefix = data.draw(PREFIXES, label="prefix")
    expect_equal(g.labelled(g.root.named_modules(prefix=prefix)),
                 g.expected(model.named_modules(g.blueprint, prefix=prefix)),
                 call=f"print([name for name, _ in root.named_modules(prefix={prefix!r})])", graph=g)


@invariant("traversal.modules.dedup")
@given(data=st.data())
def test_named_modules_remove_duplicate_false(data, backend):
    g = draw_graph(data, backend)
    expected = g.expected(model.named_modules(g.blueprint, remove_duplicate=False))
    expect_equal(g.labelled(g.root.named_modules(remove_duplicate=False)), expected,
                 call="print([name for name, _ in root.named_modules(remove_duplicate=False)])", graph=g)
    expect_equal([g.label(m) for m in g.root.modules(remove_duplicate=False)], [label for _, label in expected],
                 call="print(list(root.modules(remove_duplicate=False)))", graph=g)


@invariant("traversal.modules.dedup")
@given(data=st.data())
def test_modules_matches_named_modules(data, backend):
    g = draw_graph(data, backend)
    expected = [f"n{i}" for _, i in model.named_modules(g.blueprint)]
    expect_equal([g.label(m) for m in g.root.modules()], expected, call="print(list(root.modules()))", graph=g)


@invariant("traversal.named_modules.memo")
@given(data=st.data())
def test_named_modules_memo(data, backend):
    g = draw_graph(data, backend)
    seeded = data.draw(st.sets(st.sampled_from(g.blueprint.reachable())), label="memo nodes")
    memo = {g.node(i) for i in seeded}
    labels = sorted(f"n{i}" for i in seeded)
    expected_names = g.expected(model.named_modules(g.blueprint, memo=set(seeded)))
    call = f"memo = {{{', '.join(labels)}}}\nprint([name for name, _ in root.named_modules(memo=memo)])\nprint(memo)"
    expect_equal(g.labelled(g.root.named_modules(memo=memo)), expected_names, call=call, graph=g)
    expected_memo = sorted(set(labels) | {label for _, label in expected_names})
    expect_equal(sorted(g.label(m) for m in memo), expected_memo, call=call, graph=g,
                 problem="memo after the call should hold every module yielded, plus what it held")


@invariant("traversal.children.immediate_and_dedup")
@given(data=st.data())
def test_named_children(data, backend):
    g = draw_graph(data, backend)
    expect_equal(g.labelled(g.root.named_children()), g.expected(model.named_children(g.blueprint, g.blueprint.root)),
                 call="print(list(root.named_children()))", graph=g)
    expect_equal([g.label(m) for m in g.root.children()], [f"n{i}" for _, i in model.named_children(g.blueprint, g.blueprint.root)],
                 call="print(list(root.children()))", graph=g)


def _members(data, backend, kind, **overrides):
    g = draw_graph(data, backend)
    kwargs = {
        "prefix": data.draw(PREFIXES, label="prefix"),
        "recurse": data.draw(st.booleans(), label="recurse"),
        "remove_duplicate": data.draw(st.booleans(), label="remove_duplicate"),
    }
    kwargs.update(overrides)
    method = "named_parameters" if kind == "param" else "named_buffers"
    actual = g.labelled(getattr(g.root, method)(**kwargs))
    expected = g.expected(model.named_members(g.blueprint, kind, **kwargs), prefix="t")
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    expect_equal(actual, expected, call=f"print([name for name, _ in root.{method}({args})])", graph=g)


@invariant("traversal.parameters.order")
@given(data=st.data())
def test_named_parameters_order(data, backend):
    _members(data, backend, "param", prefix="", recurse=True, remove_duplicate=True)


@invariant("traversal.parameters.recurse_false")
@given(data=st.data())
def test_named_parameters_recurse_false(data, backend):
    _members(data, backend, "param", recurse=False)


@invariant("traversal.named_parameters.dedup_tied")
@given(data=st.data())
def test_named_parameters_any_arguments(data, backend):
    _members(data, backend, "param")


@invariant("traversal.named_parameters.remove_duplicate_false_modules")
@given(data=st.data())
def test_named_parameters_remove_duplicate_false(data, backend):
    _members(data, backend, "param", remove_duplicate=False)


@invariant("traversal.named_buffers.dedup_and_nonpersistent")
@given(data=st.data())
def test_named_buffers_any_arguments(data, backend):
    _members(data, backend, "buffer")


@invariant("traversal.named_parameters.dedup_tied")
@given(data=st.data())
def test_parameters_match_named_parameters(data, backend):
    g = draw_graph(data, backend)
    recurse = data.draw(st.booleans(), label="recurse")
    expected = [f"t{i}" for _, i in model.named_members(g.blueprint, "param", recurse=recurse)]
    expect_equal([g.label(p) for p in g.root.parameters(recurse=recurse)], expected,
                 call=f"print(list(root.parameters(recurse={recurse})))", graph=g)


@invariant("traversal.named_buffers.dedup_and_nonpersistent")
@given(data=st.data())
def test_buffers_match_named_buffers(data, backend):
    g = draw_graph(data, backend)
    recurse = data.draw(st.booleans(), label="recurse")
    expected = [f"t{i}" for _, i in model.named_members(g.blueprint, "buffer", recurse=recurse)]
    expect_equal([g.label(b) for b in g.root.buffers(recurse=recurse)], expected,
                 call=f"print(list(root.buffers(recurse={recurse})))", graph=g)


@invariant("traversal.yields_live_objects_lazily")
@given(data=st.data())
def test_traversal_methods_are_generators(data, backend):
    g = draw_graph(data, backend)
    for method in ("modules", "named_modules", "children", "named_children", "parameters",
                   "named_parameters", "buffers", "named_buffers"):
        result = getattr(g.root, method)()
        expect_true(isinstance(result, types.GeneratorType), call=f"type(root.{method}())",
                    actual=type(result).__name__, expected="generator", graph=g)


@invariant("traversal.none_entries_skipped")
@given(data=st.data())
def test_none_slots_stay_registered(data, backend):
    g = draw_graph(data, backend)
    registry = {"child": "_modules", "param": "_parameters", "buffer": "_buffers"}
    for i in g.blueprint.reachable():
        for s in g.blueprint.nodes[i].slots:
            if s.ref is None and s.kind in registry:
                table = getattr(g.node(i), registry[s.kind])
                call = f"print({s.name!r} in n{i}.{registry[s.kind]}, getattr(n{i}, {s.name!r}))"
                expect_equal((s.name in table, getattr(g.node(i), s.name)), (True, None), call=call, graph=g)


@invariant("access.get_parameter_get_buffer")
@given(data=st.data())
def test_get_parameter_and_get_buffer_agree_with_traversal(data, backend):
    g = draw_graph(data, backend)
    for kind, getter in (("param", "get_parameter"), ("buffer", "get_buffer")):
        for name, ref in model.named_members(g.blueprint, kind, remove_duplicate=False):
            got = getattr(g.root, getter)(name)
            expect_equal(g.label(got), f"t{ref}", call=f"print(root.{getter}({name!r}))", graph=g)


@invariant("access.get_submodule")
@given(data=st.data())
def test_get_submodule_agrees_with_traversal(data, backend):
    g = draw_graph(data, backend)
    for name, i in model.named_modules(g.blueprint, remove_duplicate=False):
        expect_equal(g.label(g.root.get_submodule(name)), f"n{i}", call=f"print(root.get_submodule({name!r}))", graph=g)


@invariant("traversal.dedup.first_path_wins")
@given(data=st.data())
def test_shared_module_named_by_its_first_path(data, backend):
    """Each module de-duplicated by ``named_modules()`` keeps the first name that the
    non-de-duplicating walk gives it."""
    g = draw_graph(data, backend)
    first: dict[str, str] = {}
    for name, label in g.labelled(g.root.named_modules(remove_duplicate=False)):
        first.setdefault(label, name)
    expected = [(name, label) for label, name in first.items()]
    expect_equal(g.labelled(g.root.named_modules()), expected,
                 call="print([name for name, _ in root.named_modules()])\n"
                      "print([name for name, _ in root.named_modules(remove_duplicate=False)])", graph=g)


@invariant("traversal.dedup.identity_not_storage")
def test_dedup_is_by_object_not_storage():
    base = torch.zeros(2)
    m, child = torch.nn.Module(), torch.nn.Module()
    m.a, m.b = torch.nn.Parameter(base), torch.nn.Parameter(base)  # two objects over one tensor
    m.c = child
    child.register_buffer("pb", m.a)  # one Parameter as a buffer here and a parameter above
    call = ("import torch\nbase = torch.zeros(2)\nm, child = torch.nn.Module(), torch.nn.Module()\n"
            "m.a, m.b = torch.nn.Parameter(base), torch.nn.Parameter(base)\nm.c = child\n"
            "child.register_buffer('pb', m.a)\n")
    expect_equal([n for n, _ in m.named_parameters()], ["a", "b"], call=call + "print(list(dict(m.named_parameters())))")
    expect_equal([n for n, _ in m.named_buffers()], ["c.pb"], call=call + "print(list(dict(m.named_buffers())))")
    expect_equal(list(m.state_dict()), ["a", "b", "c.pb"], call=call + "print(list(m.state_dict()))")
