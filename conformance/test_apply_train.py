"""apply, train and eval: who is visited, in which order, and which training flags result."""
from hypothesis import given, target
from hypothesis import strategies as st

from conformance import model, model_modes
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.harness import draw_graph
from conformance.registry import invariant
from strategies import blueprints

GRAPHS = blueprints()
UNSHARED = blueprints(sharing=False)

# What fn returns must not matter to apply; these are written as they appear in the reproducer.
FN_RETURNS = ("None", "0", "'done'", "nn.Identity()")
# Calls that set every module's flag, with the flag they set.
MODE_CALLS = {"root.train()": True, "root.train(True)": True, "root.train(False)": False, "root.eval()": False}
# Non-bool modes train() must reject, as source text (the step and the reproducer run them as written).
BAD_MODES = ("1", "0", "0.0", "None", "'yes'", "torch.tensor(True)")


def _which(h, obj) -> str:
    """``root`` for the object under test itself, else its label (for messages)."""
    return "root" if obj is h.root else h.label(obj)


def flags(h, code: str = "root.named_modules()") -> list[tuple[str, bool]]:
    """``[(label, training)]`` of a live ``named_modules()`` iteration, run as one step; the
    wrapper's own modules are dropped (see ``Handle.labelled``)."""
    rows = h.run(f"[(name, m, m.training) for name, m in {code}]")
    return [(h.label(m), mode) for name, m, mode in rows if h.names.model(name) is not None]


def expected_flags(h, calls) -> list[tuple[str, bool]]:
    return sorted((f"n{i}", mode) for i, mode in model_modes.training_after(h.blueprint, calls).items())


# -- apply ------------------------------------------------------------------------------------

def _apply_visits(h) -> list[str]:
    result, visits = h.run("visits = []\nroot.apply(visits.append), visits")
    expect_true(result is h.root, h, actual=_which(h, result), expected="root")
    own = h.wrapper_modules()
    return [h.label(m) for m in visits if id(m) not in own]


@invariant("apply.postorder_returns_self")
@given(data=st.data())
def test_apply_postorder(data, backend):
    h = draw_graph(data, backend, UNSHARED)
    expect_equal(_apply_visits(h), [f"n{i}" for i in model.apply_order(h.blueprint)], h)


def repeat_visits(bp) -> int:
    order = model.apply_order(bp)
    return len(order) - len(set(order))


@invariant("apply.shared_visited_per_parent")
@given(data=st.data())
def test_apply_shared_per_parent(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    # Only a module under two parents tells per-parent visits from de-duplication: seek those.
    target(repeat_visits(h.blueprint), label="modules visited twice")
    expect_equal(_apply_visits(h), [f"n{i}" for i in model.apply_order(h.blueprint)], h)


@invariant("apply.postorder_returns_self")
@given(data=st.data())
def test_apply_ignores_fn_return(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    returned = data.draw(st.sampled_from(FN_RETURNS), label="fn returns")
    result = h.run(f"root.apply(lambda m: {returned})")
    expect_true(result is h.root, h, actual=_which(h, result), expected="root")
    # The graph is unchanged: fn's return value replaced nothing.
    expect_equal(h.labelled(h.run("list(root.named_modules(remove_duplicate=False))")),
                 h.expected(model.named_modules(h.blueprint, remove_duplicate=False)), h)


# -- train / eval -----------------------------------------------------------------------------

@invariant("train.recursive_returns_self")
@given(data=st.data())
def test_train_sets_every_module(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    nodes = h.blueprint.reachable()
    # Start from mixed flags, so that a train() that sets only some modules is seen.
    first = data.draw(st.sampled_from(nodes), label="first eval() on")
    h.run(f"{h.node_ref(first)}.eval()")
    text = data.draw(st.sampled_from(list(MODE_CALLS)), label="call")
    result = h.run(text)
    expect_true(result is h.root, h, actual=_which(h, result), expected="root")
    expect_equal(flags(h), [(f"n{i}", MODE_CALLS[text]) for _, i in model.named_modules(h.blueprint)], h)


@invariant("train.shared_and_child_only")
@given(data=st.data())
def test_train_on_submodule_changes_only_descendants(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    nodes = h.blueprint.reachable()
    calls = data.draw(st.lists(st.tuples(st.sampled_from(nodes), st.booleans()), min_size=1, max_size=3), label="train calls")
    for node, mode in calls:
        h.run(f"{h.node_ref(node)}.train({mode})")
    expect_equal(sorted(flags(h)), expected_flags(h, calls), h)


RECORDER = '''\
calls = []
def _recording(cls):
    def train(self, mode=True):
        calls.append((self, mode))
        return cls.train(self, mode)
    return type(cls.__name__, (cls,), {"train": train})
for m in list(root.modules()):
    m.__class__ = _recording(type(m))
'''


@invariant("train.eval_is_train_false")
@given(data=st.data())
def test_eval_calls_overridden_train_with_false(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    # train() runs once per parent: only a module reached twice below the node shows it, so
    # prefer such nodes when the graph has any.
    reachable = h.blueprint.reachable()
    repeated = [i for i in reachable if len(set(calls := model_modes.train_calls(h.blueprint, i))) < len(calls)]
    node = data.draw(st.sampled_from(repeated or reachable), label="eval() on")
    h.run(RECORDER)
    recorded = h.run(f"{h.node_ref(node)}.eval()\ncalls")
    actual = sorted((h.label(m), mode) for m, mode in recorded)
    expected = sorted((f"n{i}", False) for i in model_modes.train_calls(h.blueprint, node))  # as actual: by label
    expect_equal(actual, expected, h)


@invariant("train.mode_must_be_bool")
@given(data=st.data())
def test_train_rejects_non_bool(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    text = data.draw(st.sampled_from(BAD_MODES), label="mode")
    expect_raises(h, f"root.train({text})", ValueError, match="training mode is expected to be boolean")
