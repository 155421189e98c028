"""Containers under interleaved operations: one Hypothesis state machine per container kind.

Each machine draws a graph holding a container, binds it as ``c`` through ``root``, then applies
a random sequence of documented operations to it and to a plain list/dict model
(``conformance.model_containers``). Every operation, and every observation, is a step on the
machine run's one handle, so a failure's reproducer is the whole step sequence that ran (Note
[containers under test]). After every step the container's contents, keys and order, and its
``named_parameters()`` and ``state_dict()`` keys must match the model.

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

from conformance import model_containers as mc
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.draw_containers import (
    DICT_KEYS,
    SLICES,
    code,
    draw_container,
    mapping,
    module_pool,
    open_container,
    param_pool,
    slice_text,
    with_imports,
)
from conformance.harness import needs
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
    """Shared plumbing: the handle ``h`` (the container bound as ``c``) and the model ``pairs``."""

    kind = ""
    keys = "list(c._modules)"  # the expression contents_agree() reads the keys with (None: no keys)
    show = "list(c)"  # the expression contents_agree() reads the items with

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    @initialize(data=st.data())
    def start(self, data):
        self.h, i = draw_container(data, self.backend, self.kind)
        self.pairs = mc.contents(self.h.blueprint, i)
        self.pool = self.values(i)
        open_container(self.h, i, self.pool)  # every value a rule may use, bound before any change

    def values(self, i):
        return module_pool(self.h.blueprint, i) + [None]

    def run(self, step):
        """Run one step on the handle; its value."""
        return self.h.run(with_imports(step))

    def lab(self, o):
        return self.h.lab(o)

    def check_index(self, data, message=None):
        """``c[i]`` for an index in or out of range: the model's item, or IndexError
        (with ``message(i)`` in it, when given)."""
        n = len(self.pairs)
        index = data.draw(st.integers(-n - 2, n + 1), label="index")
        if mc.in_range(n, index):
            expect_equal(self.lab(self.run(f"c[{index}]")), self.model_items[index], self.h)
        else:
            expect_raises(self.h, f"c[{index}]", IndexError, match=message(index) if message else None)

    def draw_value(self, data, label="value"):
        return data.draw(st.sampled_from(self.pool), label=label)

    def draw_values(self, data):
        return data.draw(st.lists(st.sampled_from(self.pool), max_size=3), label="values")

    @property
    def model_items(self):
        return [v for _, v in self.pairs]

    @always()
    def contents_agree(self):
        if not hasattr(self, "h"):
            return
        h = self.h
        reads = [*([self.keys] if self.keys else []), self.show, "len(c)", "list(c.named_parameters())",
                 "list(c.state_dict())"]
        *keys, shown, length, named, state = self.run(", ".join(reads))
        if keys:
            expect_equal(keys[0], [k for k, _ in self.pairs], h)
        expect_equal([self.lab(v) for v in shown], self.model_items, h)
        expect_equal(length, len(self.pairs), h)
        expect_equal([(n, self.lab(p)) for n, p in named], mc.named_parameters(h.blueprint, self.kind, self.pairs), h)
        expect_equal(state, mc.state_dict_keys(h.blueprint, self.kind, self.pairs), h)


def has_items(machine):
    return hasattr(machine, "h") and len(machine.pairs) > 0


def small(machine):
    """Repeated doubling would make the container, and each step, exponentially slow."""
    return hasattr(machine, "h") and len(machine.pairs) <= 6


class ListMachine(ContainerMachine):
    """Operations Sequential and ModuleList share, with list semantics and renumbered keys."""

    def renumber(self, items):
        self.pairs = mc.renumbered(items)

    @rule(data=st.data())
    def append(self, data):
        v = self.draw_value(data)
        same = self.run(f"r = c.append({v})\nr is c")
        expect_true(same, self.h, actual=self.lab(self.h.namespace["r"]), expected="c")
        self.renumber(self.model_items + [v])

    @rule(data=st.data())
    def extend(self, data):
        vs = self.draw_values(data)
        self.run(f"c.extend({code(vs)})")
        self.renumber(self.model_items + vs)

    @precondition(has_items)
    @rule(data=st.data())
    def setitem(self, data):
        n = len(self.pairs)
        index, v = data.draw(st.integers(-n, n - 1), label="index"), self.draw_value(data)
        self.run(f"c[{index}] = {v}")
        items = self.model_items
        items[index] = v
        self.renumber(items)

    @precondition(has_items)
    @rule(data=st.data())
    def delitem(self, data):
        n = len(self.pairs)
        index = data.draw(st.integers(-n, n - 1), label="index")
        self.run(f"del c[{index}]")
        items = self.model_items
        del items[index]
        self.renumber(items)

    @rule(sl=SLICES)
    def del_slice(self, sl):
        self.run(f"del c[{slice_text(sl)}]")
        items = self.model_items
        del items[sl]
        self.renumber(items)

    @precondition(has_items)
    @rule(data=st.data())
    def pop(self, data):
        n = len(self.pairs)
        index = data.draw(st.integers(-n, n - 1), label="index")
        got = self.run(f"c.pop({index})")
        items = self.model_items
        expect_equal(self.lab(got), items.pop(index), self.h)
        self.renumber(items)

    @rule(data=st.data())
    def getitem(self, data):
        self.check_index(data, mc.out_of_range_message)

    @rule(sl=SLICES)
    def read_slice(self, sl):
        expected = self.pairs[sl] if self.kind == "Sequential" else mc.renumbered(self.model_items[sl])
        got = self.run(f"list(c[{slice_text(sl)}]._modules.items())")
        expect_equal([(k, self.lab(m)) for k, m in got], expected, self.h)


class SequentialMachine(ListMachine):
    kind = "Sequential"

    @rule(data=st.data())
    def insert(self, data):
        n = len(self.pairs)
        index = data.draw(st.integers(-n, n), label="index")
        v = data.draw(st.sampled_from([m for m in self.pool if m is not None] or [None]), label="value")
        if v is None:  # documented: insert asserts a Module
            return
        self.run(f"c.insert({index}, {v})")
        self.renumber(mc.list_insert(self.model_items, index, v))

    # In-place operators as dunder calls: ``c`` stays the container under test whatever they return.
    @rule(data=st.data())
    def iadd(self, data):
        vs = self.draw_values(data)
        self.run(f"c.__iadd__(nn.Sequential(*{code(vs)}))")
        self.renumber(self.model_items + vs)

    @precondition(small)
    @rule(k=st.integers(1, 2))
    def imul(self, k):
        self.run(f"c.__imul__({k})")
        self.renumber(self.model_items * k)

    @rule(data=st.data())
    def add(self, data):
        vs = self.draw_values(data)
        self.run(f"c = c + nn.Sequential(*{code(vs)})")
        self.renumber(self.model_items + vs)

    @precondition(small)
    @rule(k=st.integers(1, 2))
    def mul(self, k):
        self.run(f"c = c * {k}")
        self.renumber(self.model_items * k)


class ModuleListMachine(ListMachine):
    kind = "ModuleList"

    @rule(data=st.data())
    def insert(self, data):
        index = data.draw(st.integers(0, len(self.pairs)), label="index")
        v = self.draw_value(data)
        self.run(f"c.insert({index}, {v})")
        self.renumber(mc.list_insert(self.model_items, index, v))

    @rule(data=st.data())
    def iadd(self, data):
        vs = self.draw_values(data)
        self.run(f"c.__iadd__({code(vs)})")
        self.renumber(self.model_items + vs)

    @rule(data=st.data())
    def add(self, data):
        vs = self.draw_values(data)
        self.run(f"c = c + {code(vs)}")
        self.renumber(self.model_items + vs)


class ParameterListMachine(ContainerMachine):
    """ParameterList has no del/pop/insert: append, extend, +=, setitem, getitem, slices."""

    kind = "ParameterList"
    keys = None

    def values(self, i):
        return param_pool(self.h.blueprint) or [None]

    @rule(data=st.data())
    def append(self, data):
        v = self.draw_value(data)
        self.run(f"c.append({v})")
        self.pairs = mc.renumbered(self.model_items + [v])

    @rule(data=st.data(), inplace=st.booleans())
    def extend(self, data, inplace):
        vs = self.draw_values(data)
        self.run(f"c.__iadd__({code(vs)})" if inplace else f"c.extend({code(vs)})")
        self.pairs = mc.renumbered(self.model_items + vs)

    @precondition(has_items)
    @rule(data=st.data())
    def setitem(self, data):
        n = len(self.pairs)
        index, v = data.draw(st.integers(-n, n - 1), label="index"), self.draw_value(data)
        if v is None:
            return
        self.run(f"c[{index}] = {v}")
        items = self.model_items
        items[index] = v
        self.pairs = mc.renumbered(items)

    @rule(data=st.data())
    def getitem(self, data):
        self.check_index(data)  # ParameterList's IndexError message is not pinned

    @rule(sl=SLICES)
    def read_slice(self, sl):
        got = self.run(f"list(c[{slice_text(sl)}])")
        expect_equal([self.lab(p) for p in got], self.model_items[sl], self.h)


class DictMachine(ContainerMachine):
    """Operations ModuleDict and ParameterDict share, with dict semantics."""

    container = "Module"
    sources = ("OrderedDict", "pairs")
    keys = "list(c.keys())"
    show = "list(c.values())"

    def draw_key(self, data, present=False):
        keys = [k for k, _ in self.pairs] if present else list(DICT_KEYS)
        return data.draw(st.sampled_from(keys), label="key")

    @rule(data=st.data())
    def setitem(self, data):
        k, v = self.draw_key(data), self.draw_value(data)
        self.run(f"c[{k!r}] = {v}")
        self.pairs = mc.dict_update(self.pairs, [(k, v)])

    @precondition(has_items)
    @rule(data=st.data())
    def delitem(self, data):
        k = self.draw_key(data, present=True)
        self.run(f"del c[{k!r}]")
        self.pairs = mc.dict_delete(self.pairs, k)

    @precondition(has_items)
    @rule(data=st.data())
    def pop(self, data):
        k = self.draw_key(data, present=True)
        got = self.run(f"c.pop({k!r})")
        expect_equal(self.lab(got), dict(self.pairs)[k], self.h)
        self.pairs = mc.dict_delete(self.pairs, k)

    @rule(data=st.data())
    def update(self, data):
        source = data.draw(st.sampled_from(self.sources), label="source")
        keys = data.draw(st.lists(st.sampled_from(DICT_KEYS), unique=True, max_size=3), label="keys")
        new = [(k, self.draw_value(data, f"value {k!r}")) for k in keys]
        self.run(f"c.update({mapping(source, new, self.container)})")
        self.pairs = mc.dict_update(self.pairs, new, sort=self.sorts(source))

    def sorts(self, source):
        return False

    @rule()
    def clear(self):
        self.run("c.clear()")
        self.pairs = []

    @rule(data=st.data())
    def contains(self, data):
        k = self.draw_key(data)
        expect_equal(self.run(f"{k!r} in c"), k in dict(self.pairs), self.h)


class ModuleDictMachine(DictMachine):
    kind = "ModuleDict"
    container = "ModuleDict"
    sources = ("dict", "OrderedDict", "pairs", "ModuleDict")


class ParameterDictMachine(DictMachine):
    kind = "ParameterDict"
    container = "ParameterDict"
    sources = ("dict", "OrderedDict", "pairs", "ParameterDict")

    def values(self, i):
        return param_pool(self.h.blueprint) or [None]

    def sorts(self, source):
        return source == "dict"  # spec pd.order (IMPL): a plain dict is inserted in sorted key order

    @precondition(has_items)
    @rule()
    def popitem(self):
        key, value = self.run("c.popitem()")
        expect_equal((key, self.lab(value)), self.pairs[-1], self.h)
        self.pairs = self.pairs[:-1]

    @rule(data=st.data())
    def setdefault(self, data):
        k, v = self.draw_key(data), self.draw_value(data)
        got = self.run(f"c.setdefault({k!r}, {v})")
        model = dict(self.pairs)
        expect_equal(self.lab(got), model.setdefault(k, v), self.h)
        self.pairs = list(model.items())

    @rule(data=st.data())
    def get(self, data):
        k = self.draw_key(data)
        expect_equal(self.lab(self.run(f"c.get({k!r})")), dict(self.pairs).get(k), self.h)

    @rule(data=st.data())
    def ior(self, data):
        keys = data.draw(st.lists(st.sampled_from(DICT_KEYS), unique=True, max_size=3), label="keys")
        new = [(k, self.draw_value(data, f"value {k!r}")) for k in keys]
        self.run(f"c.__ior__({mapping('ParameterDict', new, 'ParameterDict')})")
        self.pairs = mc.dict_update(self.pairs, new)


def _run(machine, backend):
    run_state_machine_as_test(lambda: machine(backend), settings=machine_settings())


@invariant("seq.operations_sequence")
@needs("containers")
def test_sequential_operation_sequences(backend):
    _run(SequentialMachine, backend)


@invariant("ml.operations_sequence")
@needs("containers")
def test_modulelist_operation_sequences(backend):
    _run(ModuleListMachine, backend)


@invariant("md.operations_sequence")
@needs("containers")
def test_moduledict_operation_sequences(backend):
    _run(ModuleDictMachine, backend)


@invariant("pl.operations_sequence")
@needs("containers")
def test_parameterlist_operation_sequences(backend):
    _run(ParameterListMachine, backend)


@invariant("pd.operations_sequence")
@needs("containers")
def test_parameterdict_operation_sequences(backend):
    _run(ParameterDictMachine, backend)
