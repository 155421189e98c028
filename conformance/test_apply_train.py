"""apply, train and eval: who is visited, in which order, and which training flags result."""
import torch
from hypothesis import given, target
from hypothesis import strategies as st

from conformance import model, model_modes
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.registry import invariant
from strategies import blueprints

# What fn returns must not matter to apply; these are written as they appear in the reproducer.
FN_RETURNS = ("None", "0", "'done'", "nn.Identity()")
# Calls that set every module's flag, with the flag they set.
MODE_CALLS = {"root.train()": True, "root.train(True)": True, "root.train(False)": False, "root.eval()": False}
# Non-bool modes train() must reject, as source text (the reproducer prints them the same way).
BAD_MODES = {"1": lambda: 1, "0": lambda: 0, "0.0": lambda: 0.0, "None": lambda: None,
             "'yes'": lambda: "yes", "torch.tensor(True)": lambda: torch.tensor(True)}




def draw_graph(data, backend, **kwargs):
    return backend.build(data.draw(blueprints(**kwargs), label="blueprint"))


def flags(g) -> list[tuple[str, bool]]:
    return [(f"n{i}", g.node(i).training) for i in g.blueprint.reachable()]


def expected_flags(g, calls) -> list[tuple[str, bool]]:
    return sorted((f"n{i}", mode) for i, mode in model_modes.training_after(g.blueprint, calls).items())


# -- apply ------------------------------------------------------------------------------------

def _apply_visits(g) -> list[str]:
    visits = []
    result = g.root.apply(visits.append)
    expect_true(result is g.root, call="print(root.apply(lambda m: None) is root)", actual=result, expected="root", graph=g)
    return [g.label(m) for m in visits]


@invariant("apply.postorder_returns_self")
@given(data=st.data())
def test_apply_postorder(data, backend):
    g = draw_graph(data, backend, sharing=False)
    expect_equal(_apply_visits(g), [f"n{i}" for i in model.apply_order(g.blueprint)],
                 call="visits = []\nroot.apply(visits.append)\nprint(visits)", graph=g)


def repeat_visits(bp) -> int:
    order = model.apply_order(bp)
    return len(order) - len(set(order))


@invariant("apply.shared_visited_per_parent")
@given(data=st.data())
def test_apply_shared_per_parent(data, backend):
    g = draw_graph(data, backend)
    # Only a module under two parents tells per-parent visits from de-duplication: seek those.
    target(repeat_visits(g.blueprint), label="modules visited twice")
    expect_equal(_apply_visits(g), [f"n{i}" for i in model.apply_order(g.blueprint)],
                 call="visits = []\nroot.apply(visits.append)\nprint(visits)", graph=g)


@invariant("apply.postorder_returns_self")
@given(data=st.data())
def test_apply_ignores_fn_return(data, backend):
    g = draw_graph(data, backend)
    returned = data.draw(st.sampled_from(FN_RETURNS), label="fn returns")
    fn = eval(f"lambda m: {returned}", {"nn": torch.nn})
    call = f"print(root.apply(lambda m: {returned}) is root)\nprint(root)"
    result = g.root.apply(fn)
    expect_true(result is g.root, call=call, actual=result, expected="root", graph=g)
    # The graph is unchanged: fn's return value replaced nothing.
    expect_equal(g.labelled(g.root.named_modules(remove_duplicate=False)),
                 g.expected(model.named_modules(g.blueprint, remove_duplicate=False)), call=call, graph=g)


# -- train / eval -----------------------------------------------------------------------------

@invariant("train.recursive_returns_self")
@given(data=st.data())
def test_train_sets_every_module(data, backend):
    g = draw_graph(data, backend)
    nodes = g.blueprint.reachable()
    # Start from mixed flags, so that a train() that sets only some modules is seen.
    first = data.draw(st.sampled_from(nodes), label="first eval() on")
    g.node(first).eval()
    text = data.draw(st.sampled_from(list(MODE_CALLS)), label="call")
    call = f"n{first}.eval()\nprint({text} is root)\nprint([m.training for m in root.modules()])"
    result = eval(text, {"root": g.root})
    expect_true(result is g.root, call=call, actual=result, expected="root", graph=g)
    expect_equal([(g.label(m), m.training) for m in g.root.modules()],
                 [(f"n{i}", MODE_CALLS[text]) for _, i in model.named_modules(g.blueprint)], call=call, graph=g)


@invariant("train.shared_and_child_only")
@given(data=st.data())
def test_train_on_submodule_changes_only_descendants(data, backend):
    g = draw_graph(data, backend)
    nodes = g.blueprint.reachable()
    calls = data.draw(st.lists(st.tuples(st.sampled_from(nodes), st.booleans()), min_size=1, max_size=3), label="train calls")
    lines = []
    for node, mode in calls:
        g.node(node).train(mode)
        lines.append(f"n{node}.train({mode})")
    call = "\n".join(lines) + "\nprint({name: m.training for name, m in root.named_modules()})"
    expect_equal(sorted(flags(g)), expected_flags(g, calls), call=call, graph=g)


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
    g = draw_graph(data, backend)
    # train() runs once per parent: only a module reached twice below the node shows it, so
    # prefer such nodes when the graph has any.
    reachable = g.blueprint.reachable()
    repeated = [i for i in reachable if len(set(calls := model_modes.train_calls(g.blueprint, i))) < len(calls)]
    node = data.draw(st.sampled_from(repeated or reachable), label="eval() on")
    call = RECORDER + f"n{node}.eval()\nprint(calls)"
    namespace = {"root": g.root}
    exec(RECORDER, namespace)
    g.node(node).eval()
    actual = sorted((g.label(m), mode) for m, mode in namespace["calls"])
    expected = [(f"n{i}", False) for i in model_modes.train_calls(g.blueprint, node)]
    expect_equal(actual, expected, call=call, graph=g)


@invariant("train.mode_must_be_bool")
@given(data=st.data())
def test_train_rejects_non_bool(data, backend):
    g = draw_graph(data, backend)
    text = data.draw(st.sampled_from(list(BAD_MODES)), label="mode")
    mode = BAD_MODES[text]()
    expect_raises(ValueError, lambda: g.root.train(mode), call=f"root.train({text})", graph=g,
                  match="training mode is expected to be boolean")
