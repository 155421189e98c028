"""Containers (spec section 9): Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict.

Each property draws a graph holding a container, applies one documented operation to it as a
step through ``root`` and compares the result with a plain list/dict model
(``conformance.model_containers``). Items are named by their blueprint labels (``n3``, ``t5``) as
built, so the expectation never comes from the container itself (Note [containers under test]).
Fixed examples pin the documented error types and messages on hand-written programs
(``conformance.handle.script``). Interleaved operations are checked by the state machines in
``test_container_machines.py``.
"""

import pytest
import torch
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from conformance import model_containers as mc
from conformance import model_state
from conformance.check import expect_equal, expect_no_error, expect_raises, expect_true
from conformance.draw_containers import (
    DICT_KEYS,
    SLICES,
    all_nodes,
    bind,
    code,
    draw_container,
    draw_label,
    draw_labels,
    expect_items,
    expect_list,
    expect_members,
    items,
    mapping,
    module_pool,
    open_container,
    param_pool,
    slice_text,
    with_imports,
)
from conformance.handle import script
from conformance.harness import needs
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


def ordered_dict(pairs) -> str:
    """Source of ``OrderedDict([...])`` over ``pairs`` of (key, label)."""
    return "OrderedDict([" + ", ".join(f"({k!r}, {v})" for k, v in pairs) + "])"


# -- Sequential ----------------------------------------------------------------------------------
@invariant("seq.construct_index_len")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_index_len_iteration(data, backend):
    h, i = draw_container(data, backend, "Sequential", min_len=1)
    pairs = mc.contents(h.blueprint, i)
    open_container(h, i)
    expect_list(h, pairs)
    expect_equal(h.run("list(c._modules)"), [str(j) for j in range(len(pairs))], h)
    expect_indexing(h, items(pairs))


def expect_indexing(h, expected):
    """Every index of ``c`` from -len-2 to len+1: the item, or the documented IndexError."""
    __tracebackhide__ = True
    for index in range(-len(expected) - 2, len(expected) + 2):
        if mc.in_range(len(expected), index):
            expect_equal(h.lab(h.run(f"c[{index}]")), expected[index], h)
        else:
            expect_raises(h, f"c[{index}]", IndexError, match=mc.out_of_range_message(index))


@invariant("seq.construct_index_len")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_from_ordered_dict(data, backend):
    h, _i = draw_container(data, backend, "Sequential")
    names = data.draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4), label="names")
    pool = all_nodes(h.blueprint)
    pairs = [(name, data.draw(st.sampled_from(pool), label=name)) for name in names]
    bind(h, items(pairs))
    h.run(with_imports(f"c = nn.Sequential({ordered_dict(pairs)})"))
    expect_list(h, pairs)
    for name, label in pairs:
        expect_equal(h.lab(h.run(f"c.{name}")), label, h)


@invariant("seq.slice")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_slice(data, backend):
    h, i = draw_container(data, backend, "Sequential")
    sl = data.draw(SLICES, label="slice")
    open_container(h, i)
    new = h.run(f"r = c[{slice_text(sl)}]\ntype(r) is type(c) and r is not c")
    expect_true(new, h, actual=type(h.namespace["r"]).__name__, expected="a new Sequential")
    expect_list(h, mc.sequential_slice(mc.contents(h.blueprint, i), sl), var="r")


@invariant("seq.setitem_delitem")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_setitem(data, backend):
    h, i = draw_container(data, backend, "Sequential", min_len=1)
    pairs = mc.contents(h.blueprint, i)
    index = data.draw(st.integers(-len(pairs), len(pairs) - 1), label="index")
    new = draw_label(data, module_pool(h.blueprint, i))
    open_container(h, i, [new])
    h.run(f"c[{index}] = {new}")
    expected = items(pairs)
    expected[index] = new
    expect_list(h, mc.renumbered(expected))


@invariant("seq.setitem_delitem")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_delitem_and_pop_renumber(data, backend):
    h, i = draw_container(data, backend, "Sequential", min_len=1)
    pairs = mc.contents(h.blueprint, i)
    how = data.draw(st.sampled_from(["del index", "del slice", "pop"]), label="operation")
    expected = items(pairs)
    open_container(h, i)
    if how == "del slice":
        sl = data.draw(SLICES, label="slice")
        h.run(f"del c[{slice_text(sl)}]")
        del expected[sl]
    else:
        index = data.draw(st.integers(-len(pairs), len(pairs) - 1), label="index")
        if how == "pop":
            expect_equal(h.lab(h.run(f"c.pop({index})")), expected[index], h)
        else:
            h.run(f"del c[{index}]")
        del expected[index]
    expect_list(h, mc.renumbered(expected))


def expect_returns_self(h, how, args):
    """The step ``c.<how>(<args>)`` returns ``c`` itself; returns nothing (the result is ``r``)."""
    __tracebackhide__ = True
    same = h.run(f"r = c.{how}({args})\nr is c")
    expect_true(same, h, actual=h.lab(h.namespace["r"]), expected=h.lab(h.namespace["c"]),
                problem=f"{how} should return self")


@invariant("seq.append_insert_extend")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_append_extend(data, backend):
    h, i = draw_container(data, backend, "Sequential")
    pool, expected = module_pool(h.blueprint, i), items(mc.contents(h.blueprint, i))
    if data.draw(st.booleans(), label="extend"):
        new = draw_labels(data, pool)
        how, args, expected, labels = "extend", code(new), expected + new, new
    else:
        new = draw_label(data, pool)
        how, args, expected, labels = "append", new, expected + [new], [new]
    open_container(h, i, labels)
    expect_returns_self(h, how, args)
    expect_list(h, mc.renumbered(expected))


@invariant("seq.append_insert_extend")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_insert(data, backend):
    h, i = draw_container(data, backend, "Sequential", min_len=2)
    expected = items(mc.contents(h.blueprint, i))
    new = draw_label(data, module_pool(h.blueprint, i))
    index = data.draw(st.integers(-len(expected), len(expected)), label="index")
    open_container(h, i, [new])
    expect_returns_self(h, "insert", f"{index}, {new}")
    expect_list(h, mc.renumbered(mc.list_insert(expected, index, new)))


def draw_keyed_sequential(data, h, i):
    """Bind as ``c`` a Sequential whose keys are not ``'0'..'n-1'``: a slice of node ``i``, or one
    built from an OrderedDict; return its items. Neither changes the graph."""
    before = items(mc.contents(h.blueprint, i))
    if len(before) >= 2 and data.draw(st.booleans(), label="from slice"):
        start = data.draw(st.integers(1, len(before) - 1), label="slice start")
        h.run(f"c = {h.node_ref(i)}[{start}:]")
        return before[start:]
    pool = all_nodes(h.blueprint)
    # Digit names first: the simplest draws (['1'], ['1', '2']) are the keys that str(len) meets.
    names = data.draw(st.lists(st.sampled_from(("1", "2") + NAMES), unique=True, min_size=1, max_size=3), label="names")
    pairs = [(k, data.draw(st.sampled_from(pool), label=k)) for k in names]
    bind(h, items(pairs))
    h.run(with_imports(f"c = nn.Sequential({ordered_dict(pairs)})"))
    return items(pairs)


@invariant("seq.append_insert_extend")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_append_extend_any_keys(data, backend):
    """append/extend add at the end whatever keys the Sequential has (a slice, OrderedDict names)."""
    h, i = draw_container(data, backend, "Sequential")
    expected = draw_keyed_sequential(data, h, i)
    new = draw_label(data, all_nodes(h.blueprint))
    how = data.draw(st.sampled_from(["append", "extend"]), label="operation")
    bind(h, [new])
    expect_no_error(h, f"c.{how}({new if how == 'append' else code([new])})")
    expect_list(h, list(enumerate(expected + [new])), keys=False)


@invariant("seq.append_insert_extend")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_insert_any_keys(data, backend):
    """insert puts the module at the index whatever keys the Sequential has (a slice, OrderedDict names)."""
    h, i = draw_container(data, backend, "Sequential")
    expected = draw_keyed_sequential(data, h, i)
    new = draw_label(data, all_nodes(h.blueprint))
    index = data.draw(st.integers(-len(expected), len(expected)), label="index")
    bind(h, [new])
    expect_no_error(h, f"c.insert({index}, {new})")
    expect_list(h, list(enumerate(mc.list_insert(expected, index, new))), keys=False)


@invariant("seq.add_mul")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_add_and_mul(data, backend):
    h, i = draw_container(data, backend, "Sequential")
    before = items(mc.contents(h.blueprint, i))
    if data.draw(st.booleans(), label="add"):
        other = draw_labels(data, module_pool(h.blueprint, i))
        open_container(h, i, other)
        step, expected = f"r = c + nn.Sequential(*{code(other)})", before + other
    else:
        k = data.draw(st.integers(1, 3), label="factor")
        left = data.draw(st.booleans(), label="k * s")
        open_container(h, i)
        step, expected = (f"r = {k} * c" if left else f"r = c * {k}"), before * k
    new = h.run(f"{step}\ntype(r) is nn.Sequential and r is not c")
    expect_true(new, h, actual=type(h.namespace["r"]).__name__, expected="a new Sequential")
    expect_list(h, mc.renumbered(expected), var="r")
    expect_members(h, "Sequential", mc.renumbered(expected), var="r", state_dict=False)
    expect_list(h, mc.contents(h.blueprint, i))


@invariant("seq.inplace_matches_binary")
@needs("containers")
@one_bug
@given(data=st.data())
def test_sequential_inplace_matches_binary(data, backend):
    h, i = draw_container(data, backend, "Sequential")
    # Keys other than '0'..'n-1' first: the simplest draw (Hypothesis tries it first) is the case
    # the two operators disagree on when they do.
    if not data.draw(st.booleans(), label="positional keys"):
        before = draw_keyed_sequential(data, h, i)
    else:
        open_container(h, i)
        before = items(mc.contents(h.blueprint, i))
    # The dunder call, not ``c += ...``: the container itself is judged, not what the operator returns.
    if data.draw(st.booleans(), label="+="):
        other = draw_labels(data, module_pool(h.blueprint, i))
        bind(h, other)
        step, expected = f"c.__iadd__(nn.Sequential(*{code(other)}))", before + other
    else:
        k = data.draw(st.integers(1, 3), label="factor")
        step, expected = f"c.__imul__({k})", before * k
    expect_no_error(h, step)
    expect_list(h, list(enumerate(expected)), keys=False)


@invariant("seq.construct_index_len")
@needs("containers")
def test_sequential_construction_errors():
    h = script("root = nn.Sequential(nn.Linear(1, 1))")
    expect_raises(h, "root['0']", TypeError)
    expect_raises(h, "nn.Sequential({'a': nn.Linear(1, 1)})", TypeError, match="dict is not a Module subclass")
    h = script("root = nn.Sequential(nn.Linear(1, 1), None)")
    expect_equal(h.run("len(root)"), 2, h)
    h = script("root = nn.Sequential()")
    expect_equal(h.run("root(5)"), 5, h)
    h = script("from collections import OrderedDict\nroot = nn.Sequential(OrderedDict(x=nn.Linear(1, 1)))")
    same, kind = h.run("root.x is root[0], type(root.x).__name__")
    expect_true(same, h, actual=kind, expected="root[0]")


@invariant("seq.setitem_delitem")
@needs("containers")
def test_sequential_mutation_errors():
    h = script("root = nn.Sequential(nn.Linear(1, 1), nn.ReLU())")
    expect_raises(h, "root[0] = 5", TypeError)
    expect_raises(h, "root[5] = nn.ReLU()", IndexError, match="index 5 is out of range")
    h = script("from collections import OrderedDict\n"
               "root = nn.Sequential(OrderedDict(x=nn.ReLU(), y=nn.Tanh(), z=nn.ReLU()))")
    h.run("del root[0]")
    expect_equal(h.run("list(root._modules)"), ["0", "1"], h)


@invariant("seq.append_insert_extend")
@needs("containers")
def test_sequential_insert_errors_and_hooks():
    h = script("root = nn.Sequential(nn.Linear(1, 1), nn.ReLU())")
    expect_raises(h, "root.insert(3, nn.ReLU())", IndexError, match="Index out of range: 3")
    expect_raises(h, "root.insert(0, 5)", AssertionError)
    seen = h.run(
        "seen = []\n"
        "hook = nn.modules.module.register_module_module_registration_hook(lambda m, name, sub: seen.append(name))\n"
        "try:\n"
        "    root.insert(0, nn.Tanh())\n"
        "finally:\n"
        "    hook.remove()\n"
        "seen"
    )
    expect_equal(seen, [], h)


@invariant("seq.add_mul")
@needs("containers")
def test_sequential_add_mul_errors():
    h = script("root = nn.Sequential(nn.ReLU())")
    expect_raises(h, "root + [nn.ReLU()]", ValueError, match="add operator supports only objects of Sequential class")
    expect_raises(h, "root * 0", ValueError, match="Non-positive multiplication factor")


@invariant("seq.forward_chains")
@needs("containers")
def test_sequential_forward_chains():
    h = script("root = nn.Sequential(nn.Linear(1, 2), nn.ReLU())")
    out = h.run("root(torch.ones(3, 1))")
    expect_equal(tuple(out.shape), (3, 2), h)
    expect_true(bool((out >= 0).all()), h, actual=out.tolist(), expected="non-negative (ReLU applied last)")


# -- ModuleList ----------------------------------------------------------------------------------
@invariant("ml.basics")
@needs("containers")
@one_bug
@given(data=st.data())
def test_modulelist_index_and_slice(data, backend):
    h, i = draw_container(data, backend, "ModuleList", min_len=1)
    pairs = mc.contents(h.blueprint, i)
    open_container(h, i)
    expect_list(h, pairs)
    expect_indexing(h, items(pairs))
    sl = data.draw(SLICES, label="slice")
    new = h.run(f"r = c[{slice_text(sl)}]\ntype(r) is nn.ModuleList and r is not c")
    expect_true(new, h, actual=type(h.namespace["r"]).__name__, expected="a new ModuleList")
    expect_list(h, mc.renumbered(items(pairs)[sl]), var="r")


@invariant("ml.basics")
@needs("containers")
@one_bug
@given(data=st.data())
def test_modulelist_mutations(data, backend):
    h, i = draw_container(data, backend, "ModuleList", min_len=1)
    pool, expected = module_pool(h.blueprint, i), items(mc.contents(h.blueprint, i))
    how = data.draw(st.sampled_from(["append", "extend", "del", "pop", "+"]), label="operation")
    var = "c"
    if how in ("del", "pop"):
        index = data.draw(st.integers(-len(expected), len(expected) - 1), label="index")
        open_container(h, i)
        if how == "pop":
            expect_equal(h.lab(h.run(f"c.pop({index})")), expected[index], h)
        else:
            h.run(f"del c[{index}]")
        del expected[index]
    elif how in ("extend", "+"):
        new = draw_labels(data, pool)
        open_container(h, i, new)
        if how == "+":
            h.run(f"r = c + {code(new)}")
            expect_list(h, mc.contents(h.blueprint, i))
            var = "r"
        else:
            h.run(f"c.extend({code(new)})")
        expected += new
    else:
        new = draw_label(data, pool)
        open_container(h, i, [new])
        expect_returns_self(h, "append", new)
        expected.append(new)
    expect_list(h, mc.renumbered(expected), var=var)


@invariant("ml.basics")
@needs("containers")
@one_bug
@given(data=st.data())
def test_modulelist_insert(data, backend):
    h, i = draw_container(data, backend, "ModuleList", min_len=1)
    expected = items(mc.contents(h.blueprint, i))
    new = draw_label(data, module_pool(h.blueprint, i))
    index = data.draw(st.integers(0, len(expected)), label="index")
    open_container(h, i, [new])
    h.run(f"c.insert({index}, {new})")
    expect_list(h, mc.renumbered(mc.list_insert(expected, index, new)))


@invariant("ml.basics")
@needs("containers")
@one_bug
@given(data=st.data())
def test_modulelist_insert_like_list(data, backend):
    """insert(index, m) puts m before ``index`` as list.insert does: negative and large indices too."""
    h, i = draw_container(data, backend, "ModuleList")
    expected = items(mc.contents(h.blueprint, i))
    new = draw_label(data, module_pool(h.blueprint, i))
    index = data.draw(st.integers(-len(expected) - 2, len(expected) + 2), label="index")
    open_container(h, i, [new])
    expect_no_error(h, f"c.insert({index}, {new})")
    expect_list(h, mc.renumbered(mc.list_insert(expected, index, new)))


@invariant("ml.basics")
@needs("containers")
def test_modulelist_errors():
    h = script("root = nn.ModuleList([nn.ReLU(), nn.Tanh()])")
    expect_raises(h, "root[2]", IndexError, match="index 2 is out of range")
    expect_raises(h, "root.extend(nn.Linear(1, 1))", TypeError,
                  match="ModuleList.extend should be called with an iterable, but got Linear")
    expect_raises(h, "nn.ModuleList([1])", TypeError, match="int is not a Module subclass")
    expect_raises(h, "root(1)", NotImplementedError, match='missing the required "forward" function')


@invariant("ml.duplicates")
@needs("containers")
@one_bug
@given(data=st.data())
def test_modulelist_repeated_module(data, backend):
    h, _i = draw_container(data, backend, "ModuleList")
    m = draw_label(data, all_nodes(h.blueprint))
    k = data.draw(st.integers(1, 3), label="copies")
    bind(h, [m])
    h.run(f"c = nn.ModuleList([{m}] * {k})")
    pairs = mc.renumbered([m] * k)
    expect_list(h, pairs)
    expect_equal([h.lab(c) for c in h.run("list(c.children())")], [m], h)
    expect_members(h, "ModuleList", pairs)


@invariant("ml.duplicates")
@needs("containers")
def test_modulelist_repr_folds_runs():
    h = script("root = nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])")
    expect_equal(h.run("repr(root)"), "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)", h)


@invariant("ml.insert_unchecked")
@needs("containers")
def test_modulelist_insert_unchecked():
    h = script("root = nn.ModuleList([nn.ReLU()])")
    h.run("root.insert(0, 3)")
    expect_equal(h.run("root._modules.get('0'), len(root)"), (3, 2), h)


# -- ModuleDict ----------------------------------------------------------------------------------
SOURCES = ("dict", "OrderedDict", "pairs", "ModuleDict")


def draw_pairs(data, pool, label):
    keys = data.draw(st.lists(st.sampled_from(DICT_KEYS), unique=True, max_size=4), label=f"{label} keys")
    return [(k, data.draw(st.sampled_from(pool), label=f"{label}[{k!r}]")) for k in keys] if pool else []


@invariant("md.order_update")
@needs("containers")
@one_bug
@given(data=st.data())
def test_moduledict_keeps_insertion_order(data, backend):
    h, _i = draw_container(data, backend, "ModuleDict")
    pool = all_nodes(h.blueprint)
    first, second = draw_pairs(data, pool, "init"), draw_pairs(data, pool, "update")
    kinds = [data.draw(st.sampled_from(SOURCES), label=f"source {n}") for n in (1, 2)]
    bind(h, items(first + second))
    h.run(with_imports(f"c = nn.ModuleDict({mapping(kinds[0], first)})\nc.update({mapping(kinds[1], second)})"))
    expected = mc.dict_update(first, second)
    expect_items(h, expected)
    expect_equal(h.run("list(c)"), [k for k, _ in expected], h)
    expect_equal(h.run("len(c)"), len(expected), h)
    expect_members(h, "ModuleDict", expected, state_dict=False)


@invariant("md.order_update")
@needs("containers")
@one_bug
@given(data=st.data())
def test_moduledict_pop_del_clear(data, backend):
    h, i = draw_container(data, backend, "ModuleDict")
    pairs = mc.contents(h.blueprint, i)
    key = data.draw(st.sampled_from(DICT_KEYS), label="key")
    how = data.draw(st.sampled_from(["pop", "del", "clear"]), label="operation")
    open_container(h, i)
    expect_equal(h.run(f"{key!r} in c"), key in dict(pairs), h)
    step = f"c.pop({key!r})" if how == "pop" else f"del c[{key!r}]"
    if how == "clear":
        h.run("c.clear()")
        expected = []
    elif key not in dict(pairs):
        expect_raises(h, step, KeyError)
        expected = pairs
    else:
        if how == "pop":
            expect_equal(h.lab(h.run(step)), dict(pairs)[key], h)
        else:
            h.run(step)
        expected = mc.dict_delete(pairs, key)
    expect_items(h, expected)


@invariant("md.errors")
@needs("containers")
def test_moduledict_errors():
    h = script("root = nn.ModuleDict()")
    expect_raises(h, "root.update(5)", TypeError)
    expect_raises(h, "root.update([('a',)])", ValueError, match="has length 1; 2 is required")
    expect_raises(h, "root.update([5])", TypeError)
    expect_raises(h, "root[1] = nn.ReLU()", TypeError, match="module name should be a string. Got int")
    expect_raises(h, "root['a.b'] = nn.ReLU()", KeyError)
    for name in ("training", "forward", "update"):
        expect_raises(h, f"root[{name!r}] = nn.ReLU()", KeyError, match=f"attribute '{name}' already exists")
    expect_raises(h, "root['a'] = 5", TypeError, match="int is not a Module subclass")
    expect_raises(h, "root['missing']", KeyError)
    expect_raises(h, "del root['missing']", KeyError)
    expect_raises(h, "root(1)", NotImplementedError)


# -- ParameterList -------------------------------------------------------------------------------
def float_params(bp) -> list[str]:
    return [f"t{j}" for j in sorted(bp.param_ids()) if bp.tensors[j].floating]


def same_storage(a, b) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


@invariant("pl.basics")
@needs("torch-objects")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterlist_converts_tensors(data, backend):
    """A plain tensor becomes a Parameter over the same storage; a Parameter is kept as is."""
    h, i = draw_container(data, backend, "ParameterList")
    source = draw_label(data, float_params(h.blueprint), "parameter")
    keep = data.draw(st.booleans(), label="pass the Parameter itself")
    how = data.draw(st.sampled_from(["constructor", "append", "extend", "setitem"]), label="operation")
    open_container(h, i, [source])
    arg = source
    if not keep:
        value = h.run(f"x = {source}.detach()\nx")
        arg = "x"
    step = {
        "constructor": f"c = nn.ParameterList([{arg}])",
        "append": f"c.append({arg})",
        "extend": f"c.extend([{arg}])",
        "setitem": f"c.append(None)\nc[-1] = {arg}",
    }[how]
    p = h.run(f"{step}\np = c[-1]\np")
    if keep:
        expect_equal(h.lab(p), source, h)
        return
    shared = isinstance(p, torch.Tensor) and same_storage(p, value)
    expect_true(
        isinstance(p, nn.Parameter) and p.requires_grad and shared,
        h,
        actual=(type(p).__name__, getattr(p, "requires_grad", None), shared),
        expected=("Parameter", True, True),
    )


@invariant("pl.basics")
@needs("containers")
def test_parameterlist_mixed_items_and_errors():
    setup = "t = torch.zeros(2)\np = nn.Parameter(torch.ones(1))\n"
    h = script(setup + "root = nn.ParameterList([t, p, 5, 's', nn.Linear(1, 1)])")
    expect_equal([n for n, _ in h.run("list(root.named_parameters())")], ["0", "1", "4.weight", "4.bias"], h)
    expect_equal(h.run("root[2], root[3]"), (5, "s"), h)
    sliced, appended = h.run("type(root[1:]), root.append(p) is root")
    expect_true(sliced is nn.ParameterList and appended, h, actual=(sliced.__name__, appended),
                expected="ParameterList, append returns self")
    expect_raises(h, "root.extend(t)", TypeError,
                  match="ParameterList.extend should be called with an iterable, but got Tensor")
    expect_raises(h, "root[9]", IndexError)
    expect_raises(h, "root(1)", RuntimeError, match="ParameterList should not be called.")
    expect_raises(h, "nn.ParameterList([torch.zeros(1, dtype=torch.int64)])", RuntimeError)
    expect_true(not h.run("hasattr(type(root), '__delitem__')"), h, actual=True, expected=False)
    h = script(setup + "root = nn.ParameterList([p, p])")
    expect_equal(h.run("len(root), len(list(root.parameters())), list(root.state_dict())"), (2, 1, ["0", "1"]), h)


VALUES = st.sampled_from([7, "s", None])


@invariant("pl.list_semantics")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterlist_setitem_any_value(data, backend):
    """``pl[i] = v`` stores any value, as a list does, whatever ``pl[i]`` held before."""
    h, i = draw_container(data, backend, "ParameterList")
    before = items(mc.contents(h.blueprint, i))
    assume(before)
    index = data.draw(st.integers(-len(before), len(before) - 1), label="index")
    value = data.draw(VALUES, label="value")
    open_container(h, i)
    expect_no_error(h, f"c[{index}] = {value!r}")
    expected = before[:]
    expected[index] = value
    expect_equal([h.lab(v) if isinstance(v, torch.Tensor) else v for v in h.run("list(c)")], expected, h)


@invariant("containers.parameter_order_follows_contents")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterlist_parameters_follow_list_order(data, backend):
    """Whatever a slot held first (here a placeholder int), parameters come in list order."""
    h, i = draw_container(data, backend, "ParameterList")
    pairs = mc.contents(h.blueprint, i)
    assume(pairs)
    index = data.draw(st.integers(0, len(pairs) - 1), label="index")
    bind(h, items(pairs))
    start = code(["0" if j == index else v for j, (_, v) in enumerate(pairs)])
    h.run(f"c = nn.ParameterList({start})\nc[{index}] = {pairs[index][1]}")
    expect_members(h, "ParameterList", pairs)


# -- ParameterDict -------------------------------------------------------------------------------
@invariant("pd.order")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterdict_keeps_ordered_sources(data, backend):
    h, _i = draw_container(data, backend, "ParameterDict")
    pool = param_pool(h.blueprint)
    first, second = draw_pairs(data, pool, "init"), draw_pairs(data, pool, "update")
    kinds = [data.draw(st.sampled_from(SOURCES[1:]), label=f"source {n}") for n in (1, 2)]
    text1, text2 = (mapping(k, p, "ParameterDict") for k, p in zip(kinds, (first, second)))
    bind(h, items(first + second))
    h.run(with_imports(f"c = nn.ParameterDict({text1})\nc.update({text2})"))
    expected = mc.dict_update(first, second)
    expect_items(h, expected)
    expect_members(h, "ParameterDict", expected, state_dict=False)


@invariant("pd.order.plain_dict_sorted")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterdict_sorts_plain_dict(data, backend):
    h, i = draw_container(data, backend, "ParameterDict")
    pairs = mc.contents(h.blueprint, i)
    new = draw_pairs(data, param_pool(h.blueprint), "update")
    text = mapping("dict", new)
    if data.draw(st.booleans(), label="constructor"):
        bind(h, items(new))
        h.run(f"c = nn.ParameterDict({text})")
        pairs = []
    else:
        open_container(h, i, items(new))
        h.run(f"c.update({text})")
    expect_items(h, mc.dict_update(pairs, new, sort=True))


DICT_OPS = ("get", "setdefault", "pop", "popitem", "copy", "|", "|=", "reversed", "fromkeys", "clear")


@invariant("pd.dict_api")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterdict_dict_methods(data, backend):
    """Each dict method gives what the same method gives on a dict of the same pairs."""
    h, i = draw_container(data, backend, "ParameterDict")
    pairs, pool = mc.contents(h.blueprint, i), param_pool(h.blueprint)
    model = dict(pairs)
    how = data.draw(st.sampled_from(DICT_OPS), label="operation")
    # A missing key for pop is test_parameterdict_missing_key_errors' business.
    assume(how != "pop" or model)
    key = data.draw(st.sampled_from(list(model) if how == "pop" else DICT_KEYS), label="key")
    value = draw_label(data, pool, "value")
    other = draw_pairs(data, pool, "other")
    used = items(other) if how in ("|", "|=") else [value] if how in ("get", "setdefault", "fromkeys") else []
    open_container(h, i, used)
    if how in ("|", "|="):
        text = mapping("ParameterDict", other, "ParameterDict")
        if how == "|":
            expect_items(h, list((dict(model) | dict(other)).items()), var=f"(c | {text})")
        else:
            h.run(f"c |= {text}")
            model |= dict(other)
    elif how == "popitem" and not model:
        expect_raises(h, "c.popitem()", KeyError)
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
        result = h.run(f"r = {expr}\nr")
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
        if how in ("copy", "fromkeys"):
            new = h.run("type(r) is nn.ParameterDict and r is not c")
            expect_true(new, h, actual=type(result).__name__, expected="a new ParameterDict")
            result = [(k, h.lab(v)) for k, v in h.run("list(r.items())")]
        elif how == "popitem":
            result = (result[0], h.lab(result[1]))
        elif how not in ("reversed", "clear"):
            result = h.lab(result)
        expect_equal(result, expected, h)
    expect_items(h, list(model.items()))
    expect_equal(h.run("len(c)"), len(model), h)


@invariant("pd.dict_api")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterdict_setitem_any_value(data, backend):
    """``pd[k] = v`` stores any value, as a dict does, whatever ``pd[k]`` held before."""
    h, i = draw_container(data, backend, "ParameterDict")
    pairs = mc.contents(h.blueprint, i)
    assume(pairs)
    key = data.draw(st.sampled_from([k for k, _ in pairs]), label="key")
    value = data.draw(VALUES, label="value")
    open_container(h, i)
    expect_no_error(h, f"c[{key!r}] = {value!r}")
    expected = [(k, value if k == key else v) for k, v in pairs]
    expect_equal([(k, h.lab(v) if isinstance(v, torch.Tensor) else v) for k, v in h.run("list(c.items())")],
                 expected, h)


GET_FORMS = {"omitted": "c.get({key!r})", "positional": "c.get({key!r}, {default!r})",
             "keyword": "c.get({key!r}, default={default!r})"}


@invariant("pd.dict_api")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterdict_get_default(data, backend):
    """``pd.get(key, default)`` is ``dict.get``: the value at a present key, else ``default``
    (``None`` when it is not given)."""
    h, i = draw_container(data, backend, "ParameterDict")
    model = dict(mc.contents(h.blueprint, i))
    key = data.draw(st.sampled_from(sorted(set(model) | set(DICT_KEYS))), label="key (present or missing)")
    form = data.draw(st.sampled_from(sorted(GET_FORMS)), label="default passed")
    default = data.draw(st.sampled_from([7, "s", None]), label="default")
    open_container(h, i)
    result = h.run("r = " + GET_FORMS[form].format(key=key, default=default)
                   + "\n(isinstance(r, torch.Tensor), r if not isinstance(r, torch.Tensor) else None)")
    actual = h.lab(h.run("r")) if result[0] else result[1]
    expect_equal(actual, model.get(key, default if form != "omitted" else None), h)


def extra_repr_entries(h, pairs):
    """[R1] entries of ``model_state.container_extra_repr`` for contents ``[(key, label)]``: a
    tensor label's (is a Parameter, shape, dtype) from the blueprint; ``None`` is ``NoneType``."""
    out = []
    for key, label in pairs:
        if label is None:
            out.append((key, "NoneType"))
        else:
            spec = h.blueprint.tensors[int(label[1:])]
            out.append((key, (int(label[1:]) in h.blueprint.param_ids(), spec.shape, spec.dtype)))
    return out


@invariant("containers.param_extra_repr")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameter_container_extra_repr(data, backend):
    """Rule [R1] of ``conformance.model_state``: one line per entry, in order."""
    kind = data.draw(st.sampled_from(["ParameterList", "ParameterDict"]), label="kind")
    h, i = draw_container(data, backend, kind)
    entries = extra_repr_entries(h, mc.contents(h.blueprint, i))
    extra = data.draw(st.sampled_from(["none", "7", "'s'", "None"]), label="non-tensor value added")
    open_container(h, i)
    if extra != "none":
        key = str(len(entries)) if kind == "ParameterList" else "extra"
        h.run(f"c.append({extra})" if kind == "ParameterList" else f"c['extra'] = {extra}")
        type_name = {"7": "int", "'s'": "str", "None": "NoneType"}[extra]
        entries = [e for e in entries if e[0] != key] + [(key, type_name)]
    expect_equal(h.run("c.extra_repr()"), model_state.container_extra_repr(kind, entries), h)


@invariant("containers.parameter_order_follows_contents")
@needs("containers")
@one_bug
@given(data=st.data())
def test_parameterdict_parameters_follow_key_order(data, backend):
    """Whatever a key held first (here a placeholder int), parameters come in key order."""
    h, i = draw_container(data, backend, "ParameterDict")
    pairs = mc.contents(h.blueprint, i)
    assume(pairs)
    key = data.draw(st.sampled_from([k for k, _ in pairs]), label="key")
    bind(h, items(pairs))
    start = "[" + ", ".join(f"({k!r}, {0 if k == key else v})" for k, v in pairs) + "]"
    h.run(f"c = nn.ParameterDict({start})\nc[{key!r}] = {dict(pairs)[key]}")
    expect_members(h, "ParameterDict", pairs, state_dict=False)


@invariant("pd.dict_api")
@needs("containers")
def test_parameterdict_pop_missing_key():
    """pop of a missing key raises KeyError as dict does (spec pd.dict_api: it "works as for a dict")."""
    expect_raises(script("root = nn.ParameterDict()"), "root.pop('missing')", KeyError)


@invariant("pd.dict_api")
@needs("containers")
def test_parameterdict_popitem_empty():
    expect_raises(script("root = nn.ParameterDict()"), "root.popitem()", KeyError)


@invariant("pd.dict_api")
@needs("containers")
def test_parameterdict_lookup_errors_and_none():
    h = script("root = nn.ParameterDict({'a': torch.zeros(1), 'n': None})")
    expect_raises(h, "root['missing']", AttributeError)
    expect_raises(h, "del root['missing']", KeyError)
    expect_raises(h, "root(1)", RuntimeError, match="ParameterDict should not be called.")
    expect_equal(
        h.run("root['n'], 'n' in root, [k for k, _ in root.named_parameters()], list(root.state_dict())"),
        (None, True, ["a"], ["a"]),
        h,
    )


@invariant("pd.key_errors")
@needs("containers")
def test_parameterdict_key_errors():
    h = script("root = nn.ParameterDict()")
    expect_raises(h, "root[1] = torch.zeros(1)", TypeError,
                  match="Index given to ParameterDict cannot be used as a key")
    expect_raises(h, "root['a.b'] = torch.zeros(1)", KeyError)
    expect_raises(h, "root['update'] = torch.zeros(1)", KeyError)
    stored = h.run("root['training'] = torch.zeros(1)\ntype(root.training)")
    expect_true(issubclass(stored, nn.Parameter), h, actual=stored.__name__, expected="Parameter")
    expect_raises(h, "root.train()", TypeError)


# -- containers inside modules -------------------------------------------------------------------
@invariant("containers.nested_keys")
@needs("containers", "load")
@one_bug
@given(data=st.data())
def test_nested_containers_round_trip(data, backend):
    """A parameter container's own state_dict loads back into it, strictly."""
    h, i = draw_container(data, backend, data.draw(st.sampled_from(["ParameterList", "ParameterDict"]), label="kind"))
    expected = mc.state_dict_keys(h.blueprint, h.blueprint.nodes[i].kind, mc.contents(h.blueprint, i))
    open_container(h, i)
    expect_equal(h.run("list(c.state_dict())"), expected, h)
    result = h.run("c.load_state_dict(c.state_dict())")
    expect_equal((result.missing_keys, result.unexpected_keys), ([], []), h)


@invariant("containers.nested_keys")
@needs("containers")
def test_nested_container_keys_example():
    h = script("root = nn.Module()\n"
               "root.pl = nn.ParameterList([torch.zeros(1)])\n"
               "root.pd = nn.ParameterDict({'w': torch.zeros(1)})")
    expect_equal(h.run("list(root.state_dict())"), ["pl.0", "pd.w"], h)
