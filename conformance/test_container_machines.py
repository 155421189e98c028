"""Containers under interleaved operations: one Hypothesis state machine per container kind.

Each machine draws a graph holding a container, then applies a random sequence of documented
operations to it and to a plain list/dict model (``conformance.model_containers``). After every
step the container's contents, keys and order, and its ``named_parameters()`` and
``state_dict()`` keys must match the model. Every operation is also written to a log of torch
statements (``c.append(n2)``...), so a failure prints a reproducer that needs only torch.

The machines stay inside the behaviour torch 2.13 gets right and leave the known breaks to the
focused properties in ``test_containers.py`` (a machine that tripped over one would be a known
deviation as a whole and check nothing else): Sequential keeps positional keys (no slice or
OrderedDict container), ModuleList inserts at 0..len, parameter containers hold Parameters only,
and ParameterDict.pop is given present keys.
"""

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test
from hypothesis.stateful import invariant as always
from torch import nn

from conformance import model_containers as mc
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.draw_containers import (
    DICT_KEYS,
    SLICES,
    code,
    draw_container,
    lab,
    mapping,
    module_pool,
    obj,
    param_pool,
    with_imports,
)
from conformance.registry import invariant


def machine_settings():
    """The active profile, with runs of up to 30 steps, one minimal failure and no explain phase (slow)."""
    return settings(
        settings.default,
        stateful_step_count=30,
        report_multiple_bugs=False,
        phases=[p for p in settings.default.phases if p is not Phase.explain],
    )


class ContainerMachine(RuleBasedStateMachine):
    """Shared plumbing: the graph, the container ``c``, the model ``pairs`` and the statement log."""

    kind = ""

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    @initialize(data=st.data())
    def draw_graph(self, data):
        self.g, i = draw_container(data, self.backend, self.kind)
        self.c, self.pairs, self.log = self.g.node(i), mc.contents(self.g.blueprint, i), [f"c = n{i}"]
        self.pool = self.values(i)

    def values(self, i):
        return module_pool(self.g.blueprint, i) + [None]

    def do(self, stmt, fn=None):
        """Log a statement, then run it on the live container."""
        self.log.append(stmt)
        return fn() if fn else None

    def check_index(self, data, message=None):
        """``c[i]`` for an index in or out of range: the model's item, or IndexError
        (with ``message(i)`` in it, when given)."""
        n = len(self.pairs)
        index = data.draw(st.integers(-n - 2, n + 1), label="index")
        if mc.in_range(n, index):
            expect_equal(lab(self.g, self.c[index]), self.model_items[index], call=self.call(f"c[{index}]"), graph=self.g)
        else:
            expect_raises(IndexError, lambda: self.c[index], call=with_imports("\n".join(self.log) + f"\nc[{index}]"),
                          graph=self.g, match=message(index) if message else None)

    def call(self, show: str) -> str:
        return with_imports("\n".join(self.log) + f"\nprint({show})")

    def live(self, value):
        return obj(self.g, value)

    def draw_value(self, data, label="value"):
        return data.draw(st.sampled_from(self.pool), label=label)

    def draw_values(self, data):
        return data.draw(st.lists(st.sampled_from(self.pool), max_size=3), label="values")

    show = "list(c)"  # the expression shown_items() reads

    def shown_items(self):
        return [lab(self.g, v) for v in self.c]

    @property
    def model_items(self):
        return [v for _, v in self.pairs]

    @always()
    def contents_agree(self):
        if not hasattr(self, "g"):
            return
        g = self.g
        if isinstance(self.c, (nn.ModuleDict, nn.ParameterDict)):
            expect_equal(list(self.c.keys()), [k for k, _ in self.pairs], call=self.call("list(c.keys())"), graph=g)
        elif not isinstance(self.c, nn.ParameterList):
            expect_equal(list(self.c._modules), [k for k, _ in self.pairs], call=self.call("list(c._modules)"), graph=g)
        expect_equal(self.shown_items(), self.model_items, call=self.call(self.show), graph=g)
        expect_equal(len(self.c), len(self.pairs), call=self.call("len(c)"), graph=g)
        expect_equal(
            g.labelled(self.c.named_parameters()),
            mc.named_parameters(g.blueprint, self.kind, self.pairs),
            call=self.call("[n for n, _ in c.named_parameters()]"),
            graph=g,
        )
        expect_equal(
            list(self.c.state_dict()),
            mc.state_dict_keys(g.blueprint, self.kind, self.pairs),
            call=self.call("list(c.state_dict())"),
            graph=g,
        )


def has_items(machine):
    return hasattr(machine, "g") and len(machine.pairs) > 0


def small(machine):
    """Repeated doubling would make the container, and each step, exponentially slow."""
    return hasattr(machine, "g") and len(machine.pairs) <= 6


class ListMachine(ContainerMachine):
    """Operations Sequential and ModuleList share, with list semantics and renumbered keys."""

    def renumber(self, items):
        self.pairs = mc.renumbered(items)

    @rule(data=st.data())
    def append(self, data):
        v = self.draw_value(data)
        r = self.do(f"c.append({v})", lambda: self.c.append(self.live(v)))
        expect_true(
            r is self.c, call=self.call("c.append(...) is c"), actual=lab(self.g, r), expected="c", graph=self.g
        )
        self.renumber(self.model_items + [v])

    @rule(data=st.data())
    def extend(self, data):
        vs = self.draw_values(data)
        self.do(f"c.extend({code(vs)})", lambda: self.c.extend([self.live(v) for v in vs]))
        self.renumber(self.model_items + vs)

    @precondition(has_items)
    @rule(data=st.data())
    def setitem(self, data):
        n = len(self.pairs)
        index, v = data.draw(st.integers(-n, n - 1), label="index"), self.draw_value(data)
        self.do(f"c[{index}] = {v}", lambda: self.c.__setitem__(index, self.live(v)))
        items = self.model_items
        items[index] = v
        self.renumber(items)

    @precondition(has_items)
    @rule(data=st.data())
    def delitem(self, data):
        n = len(self.pairs)
        index = data.draw(st.integers(-n, n - 1), label="index")
        self.do(f"del c[{index}]", lambda: self.c.__delitem__(index))
        items = self.model_items
        del items[index]
        self.renumber(items)

    @rule(sl=SLICES)
    def del_slice(self, sl):
        text = f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")
        self.do(f"del c[{text}]", lambda: self.c.__delitem__(sl))
        items = self.model_items
        del items[sl]
        self.renumber(items)

    @precondition(has_items)
    @rule(data=st.data())
    def pop(self, data):
        n = len(self.pairs)
        index = data.draw(st.integers(-n, n - 1), label="index")
        got = self.do(f"c.pop({index})", lambda: self.c.pop(index))
        items = self.model_items
        expect_equal(lab(self.g, got), items.pop(index), call=self.call(f"c.pop({index})"), graph=self.g)
        self.renumber(items)

    @rule(data=st.data())
    def getitem(self, data):
        self.check_index(data, mc.out_of_range_message)

    @rule(sl=SLICES)
    def read_slice(self, sl):
        text = f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")
        expected = self.pairs[sl] if isinstance(self.c, nn.Sequential) else mc.renumbered(self.model_items[sl])
        r = self.c[sl]
        expect_equal(
            [(k, lab(self.g, m)) for k, m in r._modules.items()],
            expected,
            call=self.call(f"list(c[{text}]._modules.items())"),
            graph=self.g,
        )


class SequentialMachine(ListMachine):
    kind = "Sequential"

    @rule(data=st.data())
    def insert(self, data):
        n = len(self.pairs)
        index = data.draw(st.integers(-n, n), label="index")
        v = data.draw(st.sampled_from([m for m in self.pool if m is not None] or [None]), label="value")
        if v is None:  # documented: insert asserts a Module
            return
        self.do(f"c.insert({index}, {v})", lambda: self.c.insert(index, self.live(v)))
        self.renumber(mc.list_insert(self.model_items, index, v))

    @rule(data=st.data())
    def iadd(self, data):
        vs = self.draw_values(data)
        self.do(f"c += nn.Sequential(*{code(vs)})", lambda: self.c.__iadd__(nn.Sequential(*[self.live(v) for v in vs])))
        self.renumber(self.model_items + vs)

    @precondition(small)
    @rule(k=st.integers(1, 2))
    def imul(self, k):
        self.do(f"c *= {k}", lambda: self.c.__imul__(k))
        self.renumber(self.model_items * k)

    @rule(data=st.data())
    def add(self, data):
        vs = self.draw_values(data)
        self.c = self.do(
            f"c = c + nn.Sequential(*{code(vs)})", lambda: self.c + nn.Sequential(*[self.live(v) for v in vs])
        )
        self.renumber(self.model_items + vs)

    @precondition(small)
    @rule(k=st.integers(1, 2))
    def mul(self, k):
        self.c = self.do(f"c = c * {k}", lambda: self.c * k)
        self.renumber(self.model_items * k)


class ModuleListMachine(ListMachine):
    kind = "ModuleList"

    @rule(data=st.data())
    def insert(self, data):
        index = data.draw(st.integers(0, len(self.pairs)), label="index")
        v = self.draw_value(data)
        self.do(f"c.insert({index}, {v})", lambda: self.c.insert(index, self.live(v)))
        self.renumber(mc.list_insert(self.model_items, index, v))

    @rule(data=st.data())
    def iadd(self, data):
        vs = self.draw_values(data)
        self.do(f"c += {code(vs)}", lambda: self.c.__iadd__([self.live(v) for v in vs]))
        self.renumber(self.model_items + vs)

    @rule(data=st.data())
    def add(self, data):
        vs = self.draw_values(data)
        self.c = self.do(f"c = c + {code(vs)}", lambda: self.c + [self.live(v) for v in vs])
        self.renumber(self.model_items + vs)


class ParameterListMachine(ContainerMachine):
    """ParameterList has no del/pop/insert: append, extend, +=, setitem, getitem, slices."""

    kind = "ParameterList"

    def values(self, i):
        return param_pool(self.g.blueprint) or [None]

    @rule(data=st.data())
    def append(self, data):
        v = self.draw_value(data)
        self.do(f"c.append({v})", lambda: self.c.append(self.live(v)))
        self.pairs = mc.renumbered(self.model_items + [v])

    @rule(data=st.data(), inplace=st.booleans())
    def extend(self, data, inplace):
        vs = self.draw_values(data)
        stmt = f"c += {code(vs)}" if inplace else f"c.extend({code(vs)})"
        self.do(stmt, lambda: (self.c.__iadd__ if inplace else self.c.extend)([self.live(v) for v in vs]))
        self.pairs = mc.renumbered(self.model_items + vs)

    @precondition(has_items)
    @rule(data=st.data())
    def setitem(self, data):
        n = len(self.pairs)
        index, v = data.draw(st.integers(-n, n - 1), label="index"), self.draw_value(data)
        if v is None:
            return
        self.do(f"c[{index}] = {v}", lambda: self.c.__setitem__(index, self.live(v)))
        items = self.model_items
        items[index] = v
        self.pairs = mc.renumbered(items)

    @rule(data=st.data())
    def getitem(self, data):
        self.check_index(data)  # ParameterList's IndexError message is not pinned

    @rule(sl=SLICES)
    def read_slice(self, sl):
        text = f"{sl.start}:{sl.stop}:{sl.step}".replace("None", "")
        r = self.c[sl]
        expect_equal(
            [lab(self.g, p) for p in r], self.model_items[sl], call=self.call(f"list(c[{text}])"), graph=self.g
        )


class DictMachine(ContainerMachine):
    """Operations ModuleDict and ParameterDict share, with dict semantics."""

    container = nn.Module
    sources = ("OrderedDict", "pairs")
    show = "list(c.values())"

    def shown_items(self):
        return [lab(self.g, v) for v in self.c.values()]

    def draw_key(self, data, present=False):
        keys = [k for k, _ in self.pairs] if present else list(DICT_KEYS)
        return data.draw(st.sampled_from(keys), label="key")

    @rule(data=st.data())
    def setitem(self, data):
        k, v = self.draw_key(data), self.draw_value(data)
        self.do(f"c[{k!r}] = {v}", lambda: self.c.__setitem__(k, self.live(v)))
        self.pairs = mc.dict_update(self.pairs, [(k, v)])

    @precondition(has_items)
    @rule(data=st.data())
    def delitem(self, data):
        k = self.draw_key(data, present=True)
        self.do(f"del c[{k!r}]", lambda: self.c.__delitem__(k))
        self.pairs = mc.dict_delete(self.pairs, k)

    @precondition(has_items)
    @rule(data=st.data())
    def pop(self, data):
        k = self.draw_key(data, present=True)
        got = self.do(f"c.pop({k!r})", lambda: self.c.pop(k))
        expect_equal(lab(self.g, got), dict(self.pairs)[k], call=self.call(f"c.pop({k!r})"), graph=self.g)
        self.pairs = mc.dict_delete(self.pairs, k)

    @rule(data=st.data())
    def update(self, data):
        source = data.draw(st.sampled_from(self.sources), label="source")
        keys = data.draw(st.lists(st.sampled_from(DICT_KEYS), unique=True, max_size=3), label="keys")
        new = [(k, self.draw_value(data, f"value {k!r}")) for k in keys]
        src, text = mapping(source, new, self.g, self.container)
        self.do(f"c.update({text})", lambda: self.c.update(src))
        self.pairs = mc.dict_update(self.pairs, new, sort=self.sorts(source))

    def sorts(self, source):
        return False

    @rule()
    def clear(self):
        self.do("c.clear()", self.c.clear)
        self.pairs = []

    @rule(data=st.data())
    def contains(self, data):
        k = self.draw_key(data)
        expect_equal(k in self.c, k in dict(self.pairs), call=self.call(f"{k!r} in c"), graph=self.g)


class ModuleDictMachine(DictMachine):
    kind = "ModuleDict"
    container = nn.ModuleDict
    sources = ("dict", "OrderedDict", "pairs", "ModuleDict")


class ParameterDictMachine(DictMachine):
    kind = "ParameterDict"
    container = nn.ParameterDict
    sources = ("dict", "OrderedDict", "pairs", "ParameterDict")

    def values(self, i):
        return param_pool(self.g.blueprint) or [None]

    def sorts(self, source):
        return source == "dict"  # spec pd.order (IMPL): a plain dict is inserted in sorted key order

    @precondition(has_items)
    @rule()
    def popitem(self):
        got = self.do("c.popitem()", self.c.popitem)
        expected = self.pairs[-1]
        expect_equal((got[0], lab(self.g, got[1])), expected, call=self.call("c.popitem()"), graph=self.g)
        self.pairs = self.pairs[:-1]

    @rule(data=st.data())
    def setdefault(self, data):
        k, v = self.draw_key(data), self.draw_value(data)
        got = self.do(f"c.setdefault({k!r}, {v})", lambda: self.c.setdefault(k, self.live(v)))
        model = dict(self.pairs)
        expect_equal(
            lab(self.g, got), model.setdefault(k, v), call=self.call(f"c.setdefault({k!r}, {v})"), graph=self.g
        )
        self.pairs = list(model.items())

    @rule(data=st.data())
    def get(self, data):
        k = self.draw_key(data)
        expect_equal(lab(self.g, self.c.get(k)), dict(self.pairs).get(k), call=self.call(f"c.get({k!r})"), graph=self.g)

    @rule(data=st.data())
    def ior(self, data):
        keys = data.draw(st.lists(st.sampled_from(DICT_KEYS), unique=True, max_size=3), label="keys")
        new = [(k, self.draw_value(data, f"value {k!r}")) for k in keys]
        src, text = mapping("ParameterDict", new, self.g, nn.ParameterDict)
        self.do(f"c |= {text}", lambda: self.c.__ior__(src))
        self.pairs = mc.dict_update(self.pairs, new)


def _run(machine, backend):
    run_state_machine_as_test(lambda: machine(backend), settings=machine_settings())


@invariant("seq.operations_sequence")
def test_sequential_operation_sequences(backend):
    _run(SequentialMachine, backend)


@invariant("ml.operations_sequence")
def test_modulelist_operation_sequences(backend):
    _run(ModuleListMachine, backend)


@invariant("md.operations_sequence")
def test_moduledict_operation_sequences(backend):
    _run(ModuleDictMachine, backend)


@invariant("pl.operations_sequence")
def test_parameterlist_operation_sequences(backend):
    _run(ParameterListMachine, backend)


@invariant("pd.operations_sequence")
def test_parameterdict_operation_sequences(backend):
    _run(ParameterDictMachine, backend)
