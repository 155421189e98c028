"""Containers (spec section 9): Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict.

Each property draws a graph holding a container, applies one documented operation and compares
the result with a plain list/dict model (``conformance.model_containers``). Items are named by
their blueprint labels (``n3``, ``t5``) so the expectation never comes from the container itself.
Fixed examples pin the documented error types and messages. Interleaved operations are checked
by the state machines in ``test_container_machines.py``.
"""

from collections import OrderedDict

import pytest
import torch
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from conformance import model_containers as mc
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.draw_containers import (
    DICT_KEYS,
    SLICES,
    all_nodes,
    code,
    draw_container,
    draw_label,
    draw_labels,
    expect_list,
    expect_members,
    items,
    lab,
    mapping,
    module_pool,
    obj,
    param_pool,
    with_imports,
)
from conformance.registry import invariant

NAMES = ("x", "y", "z", "conv", "a0")  # Sequential/ModuleDict keys that are valid attribute names


@pytest.fixture(autouse=True)
def _layers_keep_rng():
    """Fixed examples build layers by hand, and layer init draws from the global RNG."""
    with torch.random.fork_rng(devices=[]):
        yield


# On failure: shrink to one minimal example and skip Hypothesis's explain phase (tens of seconds
# here), so that a known deviation stays cheap to run. Other settings come from the active profile.
one_bug = settings(
    settings.default, report_multiple_bugs=False, phases=[p for p in settings.default.phases if p is not Phase.explain]
)


# -- Sequential ----------------------------------------------------------------------------------
@invariant("seq.construct_index_len")
@one_bug
@given(data=st.data())
def test_sequential_index_len_iteration(data, backend):
    g, i = draw_container(data, backend, "Sequential", min_len=1)
    pairs = mc.contents(g.blueprint, i)
    expect_list(g, g.node(i), pairs, call=f"c = n{i}")
    expect_equal(
        list(g.node(i)._modules), [str(j) for j in range(len(pairs))], call=f"print(list(n{i}._modules))", graph=g
    )
    expect_indexing(g, i, items(pairs))


def expect_indexing(g, i, expected):
    """Every index from -len-2 to len+1: the item, or the documented IndexError."""
    __tracebackhide__ = True
    for index in range(-len(expected) - 2, len(expected) + 2):
        call = f"print(n{i}[{index}])"
        if mc.in_range(len(expected), index):
            expect_equal(lab(g, g.node(i)[index]), expected[index], call=call, graph=g)
        else:
            expect_raises(
                IndexError,
                lambda index=index: g.node(i)[index],
                call=call,
                graph=g,
                match=mc.out_of_range_message(index),
            )


@invariant("seq.construct_index_len")
@one_bug
@given(data=st.data())
def test_sequential_from_ordered_dict(data, backend):
    g, _i = draw_container(data, backend, "Sequential")
    names = data.draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4), label="names")
    pool = all_nodes(g.blueprint)
    pairs = [(name, data.draw(st.sampled_from(pool), label=name)) for name in names]
    s = nn.Sequential(OrderedDict((k, obj(g, v)) for k, v in pairs))
    call = with_imports("c = nn.Sequential(OrderedDict([" + ", ".join(f"({k!r}, {v})" for k, v in pairs) + "]))")
    expect_list(g, s, pairs, call=call)
    for name, label in pairs:
        expect_equal(lab(g, getattr(s, name)), label, call=f"{call}\nprint(c.{name})", graph=g)


@invariant("seq.slice")
@one_bug
@given(data=st.data())
def test_sequential_slice(data, backend):
    g, i = draw_container(data, backend, "Sequential")
    sl = data.draw(SLICES, label="slice")
    text = f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")
    r = g.node(i)[sl]
    call = f"c = n{i}[{text}]"
    expect_true(
        type(r) is type(g.node(i)) and r is not g.node(i),
        call=f"{call}\nprint(type(c), c is n{i})",
        actual=type(r).__name__,
        expected="a new Sequential",
        graph=g,
    )
    expect_list(g, r, mc.sequential_slice(mc.contents(g.blueprint, i), sl), call=call)


@invariant("seq.setitem_delitem")
@one_bug
@given(data=st.data())
def test_sequential_setitem(data, backend):
    g, i = draw_container(data, backend, "Sequential", min_len=1)
    pairs = mc.contents(g.blueprint, i)
    index = data.draw(st.integers(-len(pairs), len(pairs) - 1), label="index")
    new = draw_label(data, module_pool(g.blueprint, i))
    g.node(i)[index] = obj(g, new)
    expected = items(pairs)
    expected[index] = new
    expect_list(g, g.node(i), mc.renumbered(expected), call=f"c = n{i}\nc[{index}] = {new}")


@invariant("seq.setitem_delitem")
@one_bug
@given(data=st.data())
def test_sequential_delitem_and_pop_renumber(data, backend):
    g, i = draw_container(data, backend, "Sequential", min_len=1)
    pairs = mc.contents(g.blueprint, i)
    how = data.draw(st.sampled_from(["del index", "del slice", "pop"]), label="operation")
    expected = items(pairs)
    if how == "del slice":
        sl = data.draw(SLICES, label="slice")
        text = f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")
        del g.node(i)[sl]
        del expected[sl]
        call = f"c = n{i}\ndel c[{text}]"
    else:
        index = data.draw(st.integers(-len(pairs), len(pairs) - 1), label="index")
        if how == "pop":
            popped = g.node(i).pop(index)
            expect_equal(lab(g, popped), expected[index], call=f"print(n{i}.pop({index}))", graph=g)
            call = f"c = n{i}\nc.pop({index})"
        else:
            del g.node(i)[index]
            call = f"c = n{i}\ndel c[{index}]"
        del expected[index]
    expect_list(g, g.node(i), mc.renumbered(expected), call=call)


@invariant("seq.append_insert_extend")
@one_bug
@given(data=st.data())
def test_sequential_append_extend(data, backend):
    g, i = draw_container(data, backend, "Sequential")
    s, pool, expected = g.node(i), module_pool(g.blueprint, i), items(mc.contents(g.blueprint, i))
    if data.draw(st.booleans(), label="extend"):
        new = draw_labels(data, pool)
        how, args, result, expected = "extend", code(new), s.extend([obj(g, m) for m in new]), expected + new
    else:
        new = draw_label(data, pool)
        how, args, result, expected = "append", new, s.append(obj(g, new)), expected + [new]
    expect_returns_self(g, i, how, args, result)
    expect_list(g, s, mc.renumbered(expected), call=f"c = n{i}\nc.{how}({args})")


@invariant("seq.append_insert_extend")
@one_bug
@given(data=st.data())
def test_sequential_insert(data, backend):
    g, i = draw_container(data, backend, "Sequential", min_len=2)
    s, expected = g.node(i), items(mc.contents(g.blueprint, i))
    new = draw_label(data, module_pool(g.blueprint, i))
    index = data.draw(st.integers(-len(expected), len(expected)), label="index")
    result = s.insert(index, obj(g, new))
    expect_returns_self(g, i, "insert", f"{index}, {new}", result)
    expect_list(g, s, mc.renumbered(mc.list_insert(expected, index, new)), call=f"c = n{i}\nc.insert({index}, {new})")


def expect_returns_self(g, i, how, args, result):
    __tracebackhide__ = True
    expect_true(
        result is g.node(i),
        call=f"print(n{i}.{how}({args}) is n{i})",
        actual=lab(g, result),
        expected=f"n{i}",
        graph=g,
        problem=f"{how} should return self",
    )


def draw_keyed_sequential(data, g, i):
    """A Sequential whose keys are not ``'0'..'n-1'``: a slice, or one built from an OrderedDict."""
    before = items(mc.contents(g.blueprint, i))
    if len(before) >= 2 and data.draw(st.booleans(), label="from slice"):
        start = data.draw(st.integers(1, len(before) - 1), label="slice start")
        return g.node(i)[start:], f"c = n{i}[{start}:]", before[start:]
    pool = all_nodes(g.blueprint)
    names = data.draw(st.lists(st.sampled_from(NAMES + ("1", "2")), unique=True, min_size=1, max_size=3), label="names")
    pairs = [(k, data.draw(st.sampled_from(pool), label=k)) for k in names]
    call = with_imports("c = nn.Sequential(OrderedDict([" + ", ".join(f"({k!r}, {v})" for k, v in pairs) + "]))")
    return nn.Sequential(OrderedDict((k, obj(g, v)) for k, v in pairs)), call, items(pairs)


def _expect_no_error(g, op, call, what):
    __tracebackhide__ = True
    try:
        op()
    except Exception as exc:  # noqa: BLE001 - an error here is the finding
        expect_equal(f"{type(exc).__name__}: {exc}", "no exception", call=call, graph=g, problem=f"{what} raised")


@invariant("seq.append_insert_extend")
@one_bug
@given(data=st.data())
def test_sequential_append_extend_any_keys(data, backend):
    """append/extend add at the end whatever keys the Sequential has (a slice, OrderedDict names)."""
    g, i = draw_container(data, backend, "Sequential")
    s, call, expected = draw_keyed_sequential(data, g, i)
    new = draw_label(data, all_nodes(g.blueprint))
    how = data.draw(st.sampled_from(["append", "extend"]), label="operation")
    call += f"\nc.{how}({new if how == 'append' else code([new])})"
    _expect_no_error(g, lambda: getattr(s, how)(obj(g, new) if how == "append" else [obj(g, new)]), call, how)
    expect_list(g, s, list(enumerate(expected + [new])), call=call, keys=False)


@invariant("seq.append_insert_extend")
@one_bug
@given(data=st.data())
def test_sequential_insert_any_keys(data, backend):
    """insert puts the module at the index whatever keys the Sequential has (a slice, OrderedDict names)."""
    g, i = draw_container(data, backend, "Sequential")
    s, call, expected = draw_keyed_sequential(data, g, i)
    new = draw_label(data, all_nodes(g.blueprint))
    index = data.draw(st.integers(-len(expected), len(expected)), label="index")
    call += f"\nc.insert({index}, {new})"
    _expect_no_error(g, lambda: s.insert(index, obj(g, new)), call, "insert")
    expect_list(g, s, list(enumerate(mc.list_insert(expected, index, new))), call=call, keys=False)


@invariant("seq.add_mul")
@one_bug
@given(data=st.data())
def test_sequential_add_and_mul(data, backend):
    g, i = draw_container(data, backend, "Sequential")
    s, before = g.node(i), items(mc.contents(g.blueprint, i))
    if data.draw(st.booleans(), label="add"):
        other = draw_labels(data, module_pool(g.blueprint, i))
        r, expected = s + nn.Sequential(*[obj(g, m) for m in other]), before + other
        call = f"c = n{i} + nn.Sequential(*{code(other)})"
    else:
        k = data.draw(st.integers(1, 3), label="factor")
        left = data.draw(st.booleans(), label="k * s")
        r, expected = (k * s if left else s * k), before * k
        call = f"c = {k} * n{i}" if left else f"c = n{i} * {k}"
    expect_true(
        type(r) is nn.Sequential and r is not s,
        call=f"{call}\nprint(type(c), c is n{i})",
        actual=type(r).__name__,
        expected="a new Sequential",
        graph=g,
    )
    expect_list(g, r, mc.renumbered(expected), call=call)
    expect_members(g, r, "Sequential", mc.renumbered(expected), call=call, state_dict=False)
    expect_list(g, s, mc.contents(g.blueprint, i), call=f"{call}\nc = n{i}")


@invariant("seq.inplace_matches_binary")
@one_bug
@given(data=st.data())
def test_sequential_inplace_matches_binary(data, backend):
    g, i = draw_container(data, backend, "Sequential")
    s, call, before = (
        draw_keyed_sequential(data, g, i)
        if data.draw(st.booleans(), label="keyed")
        else (g.node(i), f"c = n{i}", items(mc.contents(g.blueprint, i)))
    )
    if data.draw(st.booleans(), label="+="):
        other = draw_labels(data, module_pool(g.blueprint, i))
        call += f"\nc += nn.Sequential(*{code(other)})"
        op, expected = lambda: s.__iadd__(nn.Sequential(*[obj(g, m) for m in other])), before + other
    else:
        k = data.draw(st.integers(1, 3), label="factor")
        call += f"\nc *= {k}"
        op, expected = lambda: s.__imul__(k), before * k
    _expect_no_error(g, op, call, "in-place operator")
    expect_list(g, s, list(enumerate(expected)), call=call, keys=False)


@invariant("seq.construct_index_len")
def test_sequential_construction_errors():
    expect_raises(TypeError, lambda: nn.Sequential(nn.Linear(1, 1))["0"], call="nn.Sequential(nn.Linear(1, 1))['0']")
    expect_raises(
        TypeError,
        lambda: nn.Sequential({"a": nn.Linear(1, 1)}),
        call="nn.Sequential({'a': nn.Linear(1, 1)})",
        match="dict is not a Module subclass",
    )
    s = nn.Sequential(nn.Linear(1, 1), None)
    expect_equal(len(s), 2, call="len(nn.Sequential(nn.Linear(1, 1), None))")
    expect_equal(nn.Sequential()(5), 5, call="nn.Sequential()(5)")
    s = nn.Sequential(OrderedDict(x=nn.Linear(1, 1)))
    expect_true(s.x is s[0], call=with_imports("s = nn.Sequential(OrderedDict(x=nn.Linear(1, 1)))\nprint(s.x is s[0])"),
                actual=type(s.x).__name__, expected="s[0]")


@invariant("seq.setitem_delitem")
def test_sequential_mutation_errors():
    s = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    call = "s = nn.Sequential(nn.Linear(1, 1), nn.ReLU())\n"
    expect_raises(TypeError, lambda: s.__setitem__(0, 5), call=call + "s[0] = 5")
    expect_raises(
        IndexError, lambda: s.__setitem__(5, nn.ReLU()), call=call + "s[5] = nn.ReLU()", match="index 5 is out of range"
    )
    named = nn.Sequential(OrderedDict(x=nn.ReLU(), y=nn.Tanh(), z=nn.ReLU()))
    del named[0]
    expect_equal(
        list(named._modules),
        ["0", "1"],
        call=with_imports("s = nn.Sequential(OrderedDict(x=nn.ReLU(), y=nn.Tanh(), z=nn.ReLU()))\ndel s[0]\nprint(list(s._modules))"),
    )


@invariant("seq.append_insert_extend")
def test_sequential_insert_errors_and_hooks():
    call = "s = nn.Sequential(nn.Linear(1, 1), nn.ReLU())\n"
    s = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    expect_raises(
        IndexError, lambda: s.insert(3, nn.ReLU()), call=call + "s.insert(3, nn.ReLU())", match="Index out of range: 3"
    )
    expect_raises(AssertionError, lambda: s.insert(0, 5), call=call + "s.insert(0, 5)")
    seen = []
    handle = nn.modules.module.register_module_module_registration_hook(lambda m, name, sub: seen.append(name))
    try:
        s.insert(0, nn.Tanh())
    finally:
        handle.remove()
    expect_equal(
        seen,
        [],
        call="nn.modules.module.register_module_module_registration_hook(print)\n" + call + "s.insert(0, nn.Tanh())",
    )


@invariant("seq.add_mul")
def test_sequential_add_mul_errors():
    call = "s = nn.Sequential(nn.ReLU())\n"
    s = nn.Sequential(nn.ReLU())
    expect_raises(
        ValueError,
        lambda: s + [nn.ReLU()],
        call=call + "s + [nn.ReLU()]",
        match="add operator supports only objects of Sequential class",
    )
    expect_raises(ValueError, lambda: s * 0, call=call + "s * 0", match="Non-positive multiplication factor")


@invariant("seq.forward_chains")
def test_sequential_forward_chains():
    out = nn.Sequential(nn.Linear(1, 2), nn.ReLU())(torch.ones(3, 1))
    expect_equal(tuple(out.shape), (3, 2), call="nn.Sequential(nn.Linear(1, 2), nn.ReLU())(torch.ones(3, 1)).shape")
    expect_true(
        bool((out >= 0).all()),
        call="(nn.Sequential(nn.Linear(1, 2), nn.ReLU())(torch.ones(3, 1)) >= 0).all()",
        actual=out.tolist(),
        expected="non-negative (ReLU applied last)",
    )


# -- ModuleList ----------------------------------------------------------------------------------
@invariant("ml.basics")
@one_bug
@given(data=st.data())
def test_modulelist_index_and_slice(data, backend):
    g, i = draw_container(data, backend, "ModuleList", min_len=1)
    ml, pairs = g.node(i), mc.contents(g.blueprint, i)
    expect_list(g, ml, pairs, call=f"c = n{i}")
    expect_indexing(g, i, items(pairs))
    sl = data.draw(SLICES, label="slice")
    text = f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")
    r = ml[sl]
    expect_true(
        type(r) is nn.ModuleList and r is not ml,
        call=f"print(type(n{i}[{text}]))",
        actual=type(r).__name__,
        expected="a new ModuleList",
        graph=g,
    )
    expect_list(g, r, mc.renumbered(items(pairs)[sl]), call=f"c = n{i}[{text}]")


@invariant("ml.basics")
@one_bug
@given(data=st.data())
def test_modulelist_mutations(data, backend):
    g, i = draw_container(data, backend, "ModuleList", min_len=1)
    ml, pool, expected = g.node(i), module_pool(g.blueprint, i), items(mc.contents(g.blueprint, i))
    how = data.draw(st.sampled_from(["append", "extend", "del", "pop", "+"]), label="operation")
    call = f"c = n{i}\n"
    if how in ("del", "pop"):
        index = data.draw(st.integers(-len(expected), len(expected) - 1), label="index")
        if how == "pop":
            expect_equal(lab(g, ml.pop(index)), expected[index], call=f"print(n{i}.pop({index}))", graph=g)
        else:
            del ml[index]
        call += f"c.pop({index})" if how == "pop" else f"del c[{index}]"
        del expected[index]
    elif how in ("extend", "+"):
        new = draw_labels(data, pool)
        if how == "+":
            r = ml + [obj(g, m) for m in new]
            call = f"c = n{i} + {code(new)}"
            expect_list(g, ml, mc.contents(g.blueprint, i), call=f"{call}\nc = n{i}")
            ml = r
        else:
            ml.extend([obj(g, m) for m in new])
            call += f"c.extend({code(new)})"
        expected += new
    else:
        new = draw_label(data, pool)
        expect_returns_self(g, i, "append", new, ml.append(obj(g, new)))
        call += f"c.append({new})"
        expected.append(new)
    expect_list(g, ml, mc.renumbered(expected), call=call)


@invariant("ml.basics")
@one_bug
@given(data=st.data())
def test_modulelist_insert(data, backend):
    g, i = draw_container(data, backend, "ModuleList", min_len=1)
    expected = items(mc.contents(g.blueprint, i))
    new = draw_label(data, module_pool(g.blueprint, i))
    index = data.draw(st.integers(0, len(expected)), label="index")
    g.node(i).insert(index, obj(g, new))
    expect_list(
        g, g.node(i), mc.renumbered(mc.list_insert(expected, index, new)), call=f"c = n{i}\nc.insert({index}, {new})"
    )


@invariant("ml.basics")
@one_bug
@given(data=st.data())
def test_modulelist_insert_like_list(data, backend):
    """insert(index, m) puts m before ``index`` as list.insert does: negative and large indices too."""
    g, i = draw_container(data, backend, "ModuleList")
    ml, expected = g.node(i), items(mc.contents(g.blueprint, i))
    new = draw_label(data, module_pool(g.blueprint, i))
    index = data.draw(st.integers(-len(expected) - 2, len(expected) + 2), label="index")
    call = f"c = n{i}\nc.insert({index}, {new})"
    _expect_no_error(g, lambda: ml.insert(index, obj(g, new)), call, "insert")
    expect_list(g, ml, mc.renumbered(mc.list_insert(expected, index, new)), call=call)


@invariant("ml.basics")
def test_modulelist_errors():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    call = "ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])\n"
    expect_raises(IndexError, lambda: ml[2], call=call + "ml[2]", match="index 2 is out of range")
    expect_raises(
        TypeError,
        lambda: ml.extend(nn.Linear(1, 1)),
        call=call + "ml.extend(nn.Linear(1, 1))",
        match="ModuleList.extend should be called with an iterable, but got Linear",
    )
    expect_raises(
        TypeError, lambda: nn.ModuleList([1]), call="nn.ModuleList([1])", match="int is not a Module subclass"
    )
    expect_raises(
        NotImplementedError, lambda: ml(1), call=call + "ml(1)", match='missing the required "forward" function'
    )


@invariant("ml.duplicates")
@one_bug
@given(data=st.data())
def test_modulelist_repeated_module(data, backend):
    g, _i = draw_container(data, backend, "ModuleList")
    m = draw_label(data, all_nodes(g.blueprint))
    k = data.draw(st.integers(1, 3), label="copies")
    ml = nn.ModuleList([obj(g, m)] * k)
    call = f"c = nn.ModuleList([{m}] * {k})"
    expect_list(g, ml, mc.renumbered([m] * k), call=call)
    expect_equal([lab(g, c) for c in ml.children()], [m], call=f"{call}\nprint(list(c.children()))", graph=g)
    pairs = mc.renumbered([m] * k)
    expect_members(g, ml, "ModuleList", pairs, call=call)


@invariant("ml.duplicates")
def test_modulelist_repr_folds_runs():
    text = repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()]))
    expect_equal(
        text,
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)",
        call="print(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()]))",
    )


@invariant("ml.insert_unchecked")
def test_modulelist_insert_unchecked():
    ml = nn.ModuleList([nn.ReLU()])
    ml.insert(0, 3)
    expect_equal(
        (ml._modules.get("0"), len(ml)),
        (3, 2),
        call="ml = nn.ModuleList([nn.ReLU()])\nml.insert(0, 3)\nprint(ml._modules['0'], len(ml))",
    )


# -- ModuleDict ----------------------------------------------------------------------------------
SOURCES = ("dict", "OrderedDict", "pairs", "ModuleDict")


def draw_pairs(data, pool, label):
    keys = data.draw(st.lists(st.sampled_from(DICT_KEYS), unique=True, max_size=4), label=f"{label} keys")
    return [(k, data.draw(st.sampled_from(pool), label=f"{label}[{k!r}]")) for k in keys] if pool else []


@invariant("md.order_update")
@one_bug
@given(data=st.data())
def test_moduledict_keeps_insertion_order(data, backend):
    g, _i = draw_container(data, backend, "ModuleDict")
    pool = all_nodes(g.blueprint)
    first, second = draw_pairs(data, pool, "init"), draw_pairs(data, pool, "update")
    kinds = [data.draw(st.sampled_from(SOURCES), label=f"source {n}") for n in (1, 2)]
    (src1, text1), (src2, text2) = mapping(kinds[0], first, g), mapping(kinds[1], second, g)
    md = nn.ModuleDict(src1)
    md.update(src2)
    call = with_imports(f"c = nn.ModuleDict({text1})\nc.update({text2})")
    expected = mc.dict_update(first, second)
    expect_equal([(k, lab(g, v)) for k, v in md.items()], expected, call=f"{call}\nprint(list(c.items()))", graph=g)
    expect_equal(list(md), [k for k, _ in expected], call=f"{call}\nprint(list(c))", graph=g)
    expect_equal(len(md), len(expected), call=f"{call}\nprint(len(c))", graph=g)
    expect_members(g, md, "ModuleDict", expected, call=call, state_dict=False)


@invariant("md.order_update")
@one_bug
@given(data=st.data())
def test_moduledict_pop_del_clear(data, backend):
    g, i = draw_container(data, backend, "ModuleDict")
    md, pairs = g.node(i), mc.contents(g.blueprint, i)
    key = data.draw(st.sampled_from(DICT_KEYS), label="key")
    how = data.draw(st.sampled_from(["pop", "del", "clear"]), label="operation")
    call = f"c = n{i}\n"
    expect_equal(key in md, key in dict(pairs), call=f"print({key!r} in n{i})", graph=g)
    if how == "clear":
        md.clear()
        call, expected = call + "c.clear()", []
    elif key not in dict(pairs):
        fn = (lambda: md.pop(key)) if how == "pop" else (lambda: md.__delitem__(key))
        expect_raises(KeyError, fn, call=call + (f"c.pop({key!r})" if how == "pop" else f"del c[{key!r}]"), graph=g)
        expected = pairs
    else:
        if how == "pop":
            expect_equal(lab(g, md.pop(key)), dict(pairs)[key], call=f"print(n{i}.pop({key!r}))", graph=g)
        else:
            del md[key]
        call += f"c.pop({key!r})" if how == "pop" else f"del c[{key!r}]"
        expected = mc.dict_delete(pairs, key)
    expect_equal([(k, lab(g, v)) for k, v in md.items()], expected, call=f"{call}\nprint(list(c.items()))", graph=g)


@invariant("md.errors")
def test_moduledict_errors():
    md = nn.ModuleDict()
    call = "md = nn.ModuleDict()\n"
    relu = nn.ReLU()
    expect_raises(TypeError, lambda: md.update(5), call=call + "md.update(5)")
    expect_raises(
        ValueError, lambda: md.update([("a",)]), call=call + "md.update([('a',)])", match="has length 1; 2 is required"
    )
    expect_raises(TypeError, lambda: md.update([5]), call=call + "md.update([5])")
    expect_raises(
        TypeError,
        lambda: md.__setitem__(1, relu),
        call=call + "md[1] = nn.ReLU()",
        match="module name should be a string. Got int",
    )
    expect_raises(KeyError, lambda: md.__setitem__("a.b", relu), call=call + "md['a.b'] = nn.ReLU()")
    for name in ("training", "forward", "update"):
        expect_raises(
            KeyError,
            lambda name=name: md.__setitem__(name, relu),
            call=call + f"md[{name!r}] = nn.ReLU()",
            match=f"attribute '{name}' already exists",
        )
    expect_raises(
        TypeError, lambda: md.__setitem__("a", 5), call=call + "md['a'] = 5", match="int is not a Module subclass"
    )
    expect_raises(KeyError, lambda: md["missing"], call=call + "md['missing']")
    expect_raises(KeyError, lambda: md.__delitem__("missing"), call=call + "del md['missing']")
    expect_raises(NotImplementedError, lambda: md(1), call=call + "md(1)")


# -- ParameterList -------------------------------------------------------------------------------
def float_params(bp) -> list[str]:
    return [f"t{j}" for j in sorted(bp.param_ids()) if bp.tensors[j].floating]


def same_storage(a, b) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


@invariant("pl.basics")
@one_bug
@given(data=st.data())
def test_parameterlist_converts_tensors(data, backend):
    """A plain tensor becomes a Parameter over the same storage; a Parameter is kept as is."""
    g, i = draw_container(data, backend, "ParameterList")
    source = draw_label(data, float_params(g.blueprint), "parameter")
    keep = data.draw(st.booleans(), label="pass the Parameter itself")
    value = obj(g, source) if keep else obj(g, source).detach()
    arg = source if keep else "x"
    how = data.draw(st.sampled_from(["constructor", "append", "extend", "setitem"]), label="operation")
    pl = g.node(i)
    if how == "constructor":
        pl, stmt = nn.ParameterList([value]), f"c = nn.ParameterList([{arg}])"
    elif how == "append":
        pl.append(value)
        stmt = f"c = n{i}\nc.append({arg})"
    elif how == "extend":
        pl.extend([value])
        stmt = f"c = n{i}\nc.extend([{arg}])"
    else:
        pl.append(None)
        pl[-1] = value
        stmt = f"c = n{i}\nc.append(None)\nc[-1] = {arg}"
    call = ("" if keep else f"x = {source}.detach()\n") + stmt + "\np = c[-1]"
    p = pl[-1]
    if keep:
        expect_equal(lab(g, p), source, call=f"{call}\nprint(p is {source})", graph=g)
        return
    expect_true(
        isinstance(p, nn.Parameter) and p.requires_grad and same_storage(p, value),
        call=f"{call}\nprint(type(p), p.requires_grad, p.untyped_storage().data_ptr() == {arg}.untyped_storage().data_ptr())",
        actual=(type(p).__name__, getattr(p, "requires_grad", None)),
        expected=("Parameter", True),
        graph=g,
    )


@invariant("pl.basics")
def test_parameterlist_mixed_items_and_errors():
    t = torch.zeros(2)
    p = nn.Parameter(torch.ones(1))
    call = "t = torch.zeros(2)\np = nn.Parameter(torch.ones(1))\n"
    pl = nn.ParameterList([t, p, 5, "s", nn.Linear(1, 1)])
    mixed = call + "pl = nn.ParameterList([t, p, 5, 's', nn.Linear(1, 1)])\n"
    expect_equal(
        [n for n, _ in pl.named_parameters()],
        ["0", "1", "4.weight", "4.bias"],
        call=mixed + "print([n for n, _ in pl.named_parameters()])",
    )
    expect_equal((pl[2], pl[3]), (5, "s"), call=mixed + "print(pl[2], pl[3])")
    expect_true(
        type(pl[1:]) is nn.ParameterList and pl.append(p) is pl,
        call=mixed + "print(type(pl[1:]), pl.append(p) is pl)",
        actual=type(pl[1:]).__name__,
        expected="ParameterList, append returns self",
    )
    expect_raises(
        TypeError,
        lambda: pl.extend(t),
        call=mixed + "pl.extend(t)",
        match="ParameterList.extend should be called with an iterable, but got Tensor",
    )
    expect_raises(IndexError, lambda: pl[9], call=mixed + "pl[9]")
    expect_raises(RuntimeError, lambda: pl(1), call=mixed + "pl(1)", match="ParameterList should not be called.")
    expect_raises(
        RuntimeError,
        lambda: nn.ParameterList([torch.zeros(1, dtype=torch.int64)]),
        call="nn.ParameterList([torch.zeros(1, dtype=torch.int64)])",
    )
    expect_true(
        not hasattr(type(pl), "__delitem__"),
        call="hasattr(nn.ParameterList, '__delitem__')",
        actual=True,
        expected=False,
    )
    twice = nn.ParameterList([p, p])
    expect_equal(
        (len(twice), len(list(twice.parameters())), list(twice.state_dict())),
        (2, 1, ["0", "1"]),
        call=call + "pl = nn.ParameterList([p, p])\nprint(len(pl), len(list(pl.parameters())), list(pl.state_dict()))",
    )


VALUES = st.sampled_from([7, "s", None])


@invariant("pl.list_semantics")
@one_bug
@given(data=st.data())
def test_parameterlist_setitem_any_value(data, backend):
    """``pl[i] = v`` stores any value, as a list does, whatever ``pl[i]`` held before."""
    g, i = draw_container(data, backend, "ParameterList")
    pl, before = g.node(i), items(mc.contents(g.blueprint, i))
    assume(before)
    index = data.draw(st.integers(-len(before), len(before) - 1), label="index")
    value = data.draw(VALUES, label="value")
    call = f"c = n{i}\nc[{index}] = {value!r}"
    _expect_no_error(g, lambda: pl.__setitem__(index, value), call, "setitem")
    expected = before[:]
    expected[index] = value
    expect_equal(
        [v if v is None or not isinstance(v, torch.Tensor) else lab(g, v) for v in pl],
        expected,
        call=f"{call}\nprint(list(c))",
        graph=g,
    )


@invariant("containers.parameter_order_follows_contents")
@one_bug
@given(data=st.data())
def test_parameterlist_parameters_follow_list_order(data, backend):
    """Whatever a slot held first (here a placeholder int), parameters come in list order."""
    g, i = draw_container(data, backend, "ParameterList")
    pairs = mc.contents(g.blueprint, i)
    assume(pairs)
    index = data.draw(st.integers(0, len(pairs) - 1), label="index")
    start = [0 if j == index else obj(g, v) for j, (_, v) in enumerate(pairs)]
    pl = nn.ParameterList(start)
    pl[index] = obj(g, pairs[index][1])
    call = f"c = nn.ParameterList({code(['0' if j == index else v for j, (_, v) in enumerate(pairs)])})\nc[{index}] = {pairs[index][1]}"
    expect_members(g, pl, "ParameterList", pairs, call=call)


# -- ParameterDict -------------------------------------------------------------------------------
@invariant("pd.order")
@one_bug
@given(data=st.data())
def test_parameterdict_keeps_ordered_sources(data, backend):
    g, _i = draw_container(data, backend, "ParameterDict")
    pool = param_pool(g.blueprint)
    first, second = draw_pairs(data, pool, "init"), draw_pairs(data, pool, "update")
    kinds = [data.draw(st.sampled_from(SOURCES[1:]), label=f"source {n}") for n in (1, 2)]
    (src1, text1), (src2, text2) = (mapping(k, p, g, nn.ParameterDict) for k, p in zip(kinds, (first, second)))
    pd = nn.ParameterDict(src1)
    pd.update(src2)
    call = with_imports(f"c = nn.ParameterDict({text1})\nc.update({text2})")
    expected = mc.dict_update(first, second)
    expect_equal([(k, lab(g, v)) for k, v in pd.items()], expected, call=f"{call}\nprint(list(c.items()))", graph=g)
    expect_members(g, pd, "ParameterDict", expected, call=call, state_dict=False)


@invariant("pd.order.plain_dict_sorted")
@one_bug
@given(data=st.data())
def test_parameterdict_sorts_plain_dict(data, backend):
    g, i = draw_container(data, backend, "ParameterDict")
    pd, pairs = g.node(i), mc.contents(g.blueprint, i)
    new = draw_pairs(data, param_pool(g.blueprint), "update")
    src, text = mapping("dict", new, g)
    if data.draw(st.booleans(), label="constructor"):
        pd, pairs, call = nn.ParameterDict(src), [], f"c = nn.ParameterDict({text})"
    else:
        pd.update(src)
        call = f"c = n{i}\nc.update({text})"
    expected = mc.dict_update(pairs, new, sort=True)
    expect_equal([(k, lab(g, v)) for k, v in pd.items()], expected, call=f"{call}\nprint(list(c.items()))", graph=g)


DICT_OPS = ("get", "setdefault", "pop", "popitem", "copy", "|", "|=", "reversed", "fromkeys", "clear")


@invariant("pd.dict_api")
@one_bug
@given(data=st.data())
def test_parameterdict_dict_methods(data, backend):
    """Each dict method gives what the same method gives on a dict of the same pairs."""
    g, i = draw_container(data, backend, "ParameterDict")
    pd, pairs, pool = g.node(i), mc.contents(g.blueprint, i), param_pool(g.blueprint)
    model = dict(pairs)
    how = data.draw(st.sampled_from(DICT_OPS), label="operation")
    # A missing key for pop is test_parameterdict_missing_key_errors' business.
    assume(how != "pop" or model)
    key = data.draw(st.sampled_from(list(model) if how == "pop" else DICT_KEYS), label="key")
    value = draw_label(data, pool, "value")
    other = draw_pairs(data, pool, "other")
    if how in ("|", "|="):
        src, text = mapping("ParameterDict", other, g, nn.ParameterDict)
        if how == "|":
            r, model_r = pd | src, dict(model) | dict(other)
            call = f"c = n{i}\nr = c | {text}"
            expect_equal(
                [(k, lab(g, v)) for k, v in r.items()],
                list(model_r.items()),
                call=f"{call}\nprint(list(r.items()))",
                graph=g,
            )
        else:
            pd |= src
            model |= dict(other)
            call = f"c = n{i}\nc |= {text}"
    elif how == "popitem" and not model:
        expect_raises(KeyError, pd.popitem, call=f"n{i}.popitem()", graph=g)
        call = f"c = n{i}"
    else:
        expr = {
            "get": f"c.get({key!r}, {value})",
            "setdefault": f"c.setdefault({key!r}, {value})",
            "pop": f"c.pop({key!r})",
            "popitem": "c.popitem()",
            "copy": "c.copy()",
            "reversed": "list(reversed(c))",
            "fromkeys": f"c.fromkeys([{key!r}], {value})",
            "clear": "c.clear()",
        }[how]
        result = eval(expr, {"c": pd, value: obj(g, value)})  # the reproducer's expression is what runs
        expected = {
            "get": lambda: model.get(key, value),
            "setdefault": lambda: model.setdefault(key, value),
            "pop": lambda: model.pop(key),
            "popitem": model.popitem,
            "copy": lambda: list(model.items()),
            "reversed": lambda: list(reversed(model)),
            "fromkeys": lambda: [(key, value)],
            "clear": model.clear,
        }[how]()
        call = f"c = n{i}\nr = {expr}"
        if how in ("copy", "fromkeys"):
            expect_true(
                type(result) is nn.ParameterDict and result is not pd,
                call=f"{call}\nprint(type(r), r is c)",
                actual=type(result).__name__,
                expected="a new ParameterDict",
                graph=g,
            )
            result = [(k, lab(g, v)) for k, v in result.items()]
        elif how == "popitem":
            result = (result[0], lab(g, result[1]))
        elif how not in ("reversed", "clear"):
            result = lab(g, result)
        expect_equal(result, expected, call=f"{call}\nprint(r)", graph=g)
    expect_equal(
        [(k, lab(g, v)) for k, v in pd.items()], list(model.items()), call=f"{call}\nprint(list(c.items()))", graph=g
    )
    expect_equal(len(pd), len(model), call=f"{call}\nprint(len(c))", graph=g)


@invariant("pd.dict_api")
@one_bug
@given(data=st.data())
def test_parameterdict_setitem_any_value(data, backend):
    """``pd[k] = v`` stores any value, as a dict does, whatever ``pd[k]`` held before."""
    g, i = draw_container(data, backend, "ParameterDict")
    pd, pairs = g.node(i), mc.contents(g.blueprint, i)
    assume(pairs)
    key = data.draw(st.sampled_from([k for k, _ in pairs]), label="key")
    value = data.draw(VALUES, label="value")
    call = f"c = n{i}\nc[{key!r}] = {value!r}"
    _expect_no_error(g, lambda: pd.__setitem__(key, value), call, "setitem")
    expected = [(k, value if k == key else v) for k, v in pairs]
    expect_equal(
        [(k, v if v is None or not isinstance(v, torch.Tensor) else lab(g, v)) for k, v in pd.items()],
        expected,
        call=f"{call}\nprint(list(c.items()))",
        graph=g,
    )


@invariant("containers.parameter_order_follows_contents")
@one_bug
@given(data=st.data())
def test_parameterdict_parameters_follow_key_order(data, backend):
    """Whatever a key held first (here a placeholder int), parameters come in key order."""
    g, i = draw_container(data, backend, "ParameterDict")
    pairs = mc.contents(g.blueprint, i)
    assume(pairs)
    key = data.draw(st.sampled_from([k for k, _ in pairs]), label="key")
    pd = nn.ParameterDict([(k, 0 if k == key else obj(g, v)) for k, v in pairs])
    pd[key] = obj(g, dict(pairs)[key])
    start = "[" + ", ".join(f"({k!r}, {0 if k == key else v})" for k, v in pairs) + "]"
    call = f"c = nn.ParameterDict({start})\nc[{key!r}] = {dict(pairs)[key]}"
    expect_members(g, pd, "ParameterDict", pairs, call=call, state_dict=False)


@invariant("pd.dict_api")
def test_parameterdict_pop_missing_key():
    """pop of a missing key raises KeyError as dict does (spec pd.dict_api: it "works as for a dict")."""
    expect_raises(KeyError, lambda: nn.ParameterDict().pop("missing"), call="nn.ParameterDict().pop('missing')")


@invariant("pd.dict_api")
def test_parameterdict_popitem_empty():
    expect_raises(KeyError, nn.ParameterDict().popitem, call="nn.ParameterDict().popitem()")


@invariant("pd.dict_api")
def test_parameterdict_lookup_errors_and_none():
    pd = nn.ParameterDict({"a": torch.zeros(1), "n": None})
    call = "pd = nn.ParameterDict({'a': torch.zeros(1), 'n': None})\n"
    expect_raises(AttributeError, lambda: pd["missing"], call=call + "pd['missing']")
    expect_raises(KeyError, lambda: pd.__delitem__("missing"), call=call + "del pd['missing']")
    expect_raises(RuntimeError, lambda: pd(1), call=call + "pd(1)", match="ParameterDict should not be called.")
    expect_equal(
        (pd["n"], "n" in pd, [k for k, _ in pd.named_parameters()], list(pd.state_dict())),
        (None, True, ["a"], ["a"]),
        call=call + "print(pd['n'], 'n' in pd, [k for k, _ in pd.named_parameters()], list(pd.state_dict()))",
    )


@invariant("pd.key_errors")
def test_parameterdict_key_errors():
    pd = nn.ParameterDict()
    call = "pd = nn.ParameterDict()\n"
    t = torch.zeros(1)
    expect_raises(
        TypeError,
        lambda: pd.__setitem__(1, t),
        call=call + "pd[1] = torch.zeros(1)",
        match="Index given to ParameterDict cannot be used as a key",
    )
    expect_raises(KeyError, lambda: pd.__setitem__("a.b", t), call=call + "pd['a.b'] = torch.zeros(1)")
    expect_raises(KeyError, lambda: pd.__setitem__("update", t), call=call + "pd['update'] = torch.zeros(1)")
    pd["training"] = t
    expect_true(
        isinstance(pd.training, nn.Parameter),
        call=call + "pd['training'] = torch.zeros(1)\nprint(type(pd.training))",
        actual=type(pd.training).__name__,
        expected="Parameter",
    )
    expect_raises(TypeError, pd.train, call=call + "pd['training'] = torch.zeros(1)\npd.train()")


# -- containers inside modules -------------------------------------------------------------------
@invariant("containers.nested_keys")
@one_bug
@given(data=st.data())
def test_nested_containers_round_trip(data, backend):
    """A parameter container's own state_dict loads back into it, strictly."""
    g, i = draw_container(data, backend, data.draw(st.sampled_from(["ParameterList", "ParameterDict"]), label="kind"))
    c = g.node(i)
    expected = mc.state_dict_keys(g.blueprint, g.blueprint.nodes[i].kind, mc.contents(g.blueprint, i))
    expect_equal(list(c.state_dict()), expected, call=f"print(list(n{i}.state_dict()))", graph=g)
    result = c.load_state_dict(c.state_dict())
    expect_equal(
        (result.missing_keys, result.unexpected_keys),
        ([], []),
        call=f"print(n{i}.load_state_dict(n{i}.state_dict()))",
        graph=g,
    )


@invariant("containers.nested_keys")
def test_nested_container_keys_example():
    m = nn.Module()
    m.pl = nn.ParameterList([torch.zeros(1)])
    m.pd = nn.ParameterDict({"w": torch.zeros(1)})
    expect_equal(
        list(m.state_dict()),
        ["pl.0", "pd.w"],
        call="m = nn.Module()\nm.pl = nn.ParameterList([torch.zeros(1)])\nm.pd = nn.ParameterDict({'w': torch.zeros(1)})\nprint(list(m.state_dict()))",
    )
