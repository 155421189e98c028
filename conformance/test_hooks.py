"""Hooks: forward pre/post hook order and return values, kwargs, always_call, call vs forward,
full backward hooks, and the global registration hooks.

Forward hooks need a ``forward``, which generated plain modules lack, so most properties run a
small hand-written program (``Program``) around an ``Identity`` module: its text is the
reproducer, as with blueprints. Generated graphs are used where no forward of a plain module is
needed: nested calls through ``Sequential`` graphs and the registration hooks fired by a build.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.modules import module as module_mod
from torch.utils.hooks import RemovableHandle

from conformance.check import expect_equal, expect_error, expect_raises
from conformance.registry import invariant
from strategies import blueprints

HEADER = '''import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook


class Scale(nn.Module):
    """Takes a tensor and a non-tensor argument, and returns both kinds."""

    def forward(self, x, k):
        return x * k, k


class Identity(nn.Module):
    """Returns its input; every forward call and hook call is appended to self.log."""

    def __init__(self, fail=False):
        super().__init__()
        self.log, self.fail = [], fail

    def forward(self, x, **kwargs):
        self.log.append(("forward", x, kwargs))
        if self.fail:
            raise ValueError("forward failed")
        return x


def logger(tag, fail=False):
    """A hook that logs (tag, *its arguments but the module) and returns None, or raises."""
    def hook(m, *args):
        m.log.append((tag, *args))
        if fail:
            raise RuntimeError(tag + " failed")
    return hook

'''


class Program:
    """A hand-written torch-only program run in a fresh namespace; ``HEADER + body + call`` is
    the reproducer. As a context manager it removes every hook handle the program left, since
    global hooks are process-wide state."""

    def __init__(self, body: str):
        self.body = body
        self.namespace: dict = {}

    def __enter__(self) -> dict:
        with torch.random.fork_rng(devices=[]):  # layers built in the body draw from the RNG
            try:
                exec(compile(HEADER + self.body, "<nnconform hooks>", "exec"), self.namespace)
            except BaseException:
                self._remove_handles()
                raise
        return self.namespace

    def __exit__(self, *exc):
        self._remove_handles()

    def _remove_handles(self):
        for value in self.namespace.values():
            if isinstance(value, RemovableHandle):
                value.remove()

    def repro(self, call: str) -> str:
        return HEADER + self.body + call.strip() + "\n"


def lines(*parts) -> str:
    return "".join(f"{p}\n" for p in parts)


# -- order, prepend, global hooks, removal --------------------------------------------------------
REGISTRATIONS = st.lists(st.tuples(st.sampled_from(["pre", "post"]), st.booleans()), max_size=5)


def expected_order(regs, removed, gpre, gpost):
    """Module hooks fire in registration order, a prepended one first; global pre-hooks before
    module pre-hooks and global forward hooks before module forward hooks."""
    hooks = {"pre": [], "post": []}
    for i, (kind, prepend) in enumerate(regs):
        if i not in removed:
            hooks[kind].insert(0, f"h{i}") if prepend else hooks[kind].append(f"h{i}")
    return ["gpre"] * gpre + hooks["pre"] + ["forward"] + ["gpost"] * gpost + hooks["post"]


@invariant("hooks.order_prepend_global")
@given(data=st.data())
def test_hook_order_prepend_global_remove(data):
    regs = data.draw(REGISTRATIONS, label="hooks (kind, prepend)")
    removed = data.draw(st.sets(st.sampled_from(range(len(regs))) if regs else st.nothing()), label="removed")
    gpre, gpost = data.draw(st.booleans(), label="global pre-hook"), data.draw(st.booleans(), label="global hook")
    body = ["root = Identity()"]
    for i, (kind, prepend) in enumerate(regs):
        method = "register_forward_pre_hook" if kind == "pre" else "register_forward_hook"
        body.append(f"h{i} = root.{method}(logger('h{i}'), prepend={prepend})")
    body += ["gpre = register_module_forward_pre_hook(logger('gpre'))"] * gpre
    body += ["gpost = register_module_forward_hook(logger('gpost'))"] * gpost
    body += [f"h{i}.remove()\nh{i}.remove()  # a second remove() is a no-op" for i in sorted(removed)]
    program = Program(lines(*body))
    with program as ns:
        ns["root"](1)
    actual = [entry[0] for entry in ns["root"].log]
    expect_equal(actual, expected_order(regs, removed, gpre, gpost), graph=program,
                 call="root(1)\nprint([entry[0] for entry in root.log])")


# -- return values ----------------------------------------------------------------------------------
PRE_RETURNS = st.tuples(st.sampled_from(["none", "single", "tuple"]), st.integers(-3, 3))
POST_RETURNS = st.tuples(st.sampled_from(["none", "value"]), st.integers(-3, 3))


@invariant("hooks.return_values")
@given(data=st.data())
def test_hook_return_values(data):
    pres = data.draw(st.lists(PRE_RETURNS, max_size=3), label="pre-hooks (return form, constant)")
    posts = data.draw(st.lists(POST_RETURNS, max_size=3), label="forward hooks (return form, constant)")
    x = data.draw(st.integers(-5, 5), label="input")
    source = {"none": "None", "single": "a[0] * 10 + {c}", "tuple": "(a[0] + {c},)", "value": "o * 3 + {c}"}
    body = ["root = Identity()"]
    body += [f"root.register_forward_pre_hook(lambda m, a: {source[form].format(c=c)})" for form, c in pres]
    body += [f"root.register_forward_hook(lambda m, a, o: {source[form].format(c=c)})" for form, c in posts]
    # Model: a single value is wrapped into a 1-tuple and becomes the args; forward hooks chain.
    value = x
    for form, c in pres:
        value = {"none": value, "single": value * 10 + c, "tuple": value + c}[form]
    seen = value
    for form, c in posts:
        value = value * 3 + c if form == "value" else value
    program = Program(lines(*body))
    with program as ns:
        out = ns["root"](x)
    expect_equal((ns["root"].log[0][1], out), (seen, value), graph=program,
                 call=f"out = root({x})\nprint(root.log[0][1], out)  # (input forward saw, output)")


# -- kwargs ---------------------------------------------------------------------------------------
KWARG_HOOKS = st.lists(st.sampled_from(["pre", "kwpre", "post", "kwpost"]), max_size=4)

KWPRE = lines(
    "def kwpre(m, a, kw):",
    "    m.log.append(('kwpre', a, kw))",
    "    return (a[0] + 1,), {**kw, 'k': kw['k'] * 2}",
)


@invariant("hooks.kwargs")
@given(data=st.data())
def test_hook_kwargs(data):
    hooks = data.draw(KWARG_HOOKS, label="hooks in registration order")
    x, k = data.draw(st.integers(-5, 5), label="x"), data.draw(st.integers(-5, 5), label="k")
    register = {
        "pre": "root.register_forward_pre_hook(logger('pre'))",
        "kwpre": "root.register_forward_pre_hook(kwpre, with_kwargs=True)",
        "post": "root.register_forward_hook(logger('post'))",
        "kwpost": "root.register_forward_hook(logger('kwpost'), with_kwargs=True)",
    }
    # Model: hooks without with_kwargs see positional args only; a with_kwargs pre-hook's
    # (args, kwargs) replaces both; forward hooks see the args (and kwargs) forward got.
    args, kw = (x,), {"k": k}
    pre_log = []
    for h in [h for h in hooks if h in ("pre", "kwpre")]:
        pre_log.append(("pre", args) if h == "pre" else ("kwpre", args, kw))
        if h == "kwpre":
            args, kw = (args[0] + 1,), {"k": kw["k"] * 2}
    post_log = [("post", args, args[0]) if h == "post" else ("kwpost", args, kw, args[0])
                for h in hooks if h in ("post", "kwpost")]
    expected = pre_log + [("forward", args[0], kw)] + post_log
    program = Program(KWPRE + lines("root = Identity()", *(register[h] for h in hooks)))
    with program as ns:
        ns["root"](x, k=k)
    expect_equal(ns["root"].log, expected, graph=program, call=f"root({x}, k={k})\nprint(root.log)")


@invariant("hooks.kwargs")
def test_kwargs_pre_hook_bad_return_raises():
    program = Program(lines("root = Identity()", "root.register_forward_pre_hook(lambda m, a, kw: 5, with_kwargs=True)"))
    with program as ns:
        expect_error((RuntimeError, "forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got 5."),
                     lambda: ns["root"](1), call="root(1)", graph=program)


# -- always_call ----------------------------------------------------------------------------------
SILENCED = "forward hook with ``always_call=True`` raised an exception that was silenced"


@invariant("hooks.always_call")
@given(data=st.data())
def test_always_call_runs_when_forward_raises(data):
    hooks = data.draw(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=4), label="hooks (always_call, raises)")
    glob = data.draw(st.sampled_from([None, "plain", "always"]), label="global forward hook")
    body = ["root = Identity(fail=True)"]
    body += [f"root.register_forward_hook(logger('h{i}', fail={fails}), always_call={always})"
             for i, (always, fails) in enumerate(hooks)]
    if glob:
        body.append(f"g = register_module_forward_hook(logger('g'), always_call={glob == 'always'})")
    # Model: forward raises, so only always_call hooks run (global first), each with output None;
    # a raising one is silenced with a UserWarning; the forward's exception propagates.
    ran = ["g"] * (glob == "always") + [f"h{i}" for i, (always, _) in enumerate(hooks) if always]
    expected = ([("forward", 1, {})] + [(tag, (1,), None) for tag in ran],
                sum(always and fails for always, fails in hooks))
    program = Program(lines(*body))
    with program as ns, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expect_error((ValueError, "forward failed"), lambda: ns["root"](1), call="root(1)", graph=program)
    silenced = sum(issubclass(w.category, UserWarning) and SILENCED in str(w.message) for w in caught)
    expect_equal((ns["root"].log, silenced), expected, graph=program,
                 call="import warnings\nwarnings.simplefilter('always')\ntry:\n    root(1)\nexcept ValueError:\n    pass\n"
                      "print(root.log)  # then: the number of silenced-exception UserWarnings")


# -- call vs forward, nesting, handle as context manager --------------------------------------------
def hook_calls(bp, i: int, hooked: bool = True) -> list[str]:
    """Pre-hooks on the way down, forward hooks on the way up: a child's before its parent's."""
    inner = [c for s in bp.nodes[i].slots_of("child") for c in hook_calls(bp, s.ref)]
    return [f"pre n{i}"] * hooked + inner + [f"post n{i}"] * hooked


@invariant("hooks.call_vs_forward_nested_ctx")
@given(data=st.data())
def test_call_runs_hooks_forward_does_not(data, backend):
    # Sequential-only graphs: an empty Sequential is the identity, so every node has a forward.
    g = backend.build(data.draw(blueprints(kinds=("Sequential",), none_slots=False), label="blueprint"))
    how = data.draw(st.sampled_from(["root(1)", "root.forward(1)"]), label="call")
    call = (
        "log = []\n"
        f"for name in {[f'n{i}' for i in g.blueprint.reachable()]}:\n"
        "    globals()[name].register_forward_pre_hook(lambda m, a, name=name: log.append('pre ' + name))\n"
        "    globals()[name].register_forward_hook(lambda m, a, o, name=name: log.append('post ' + name))\n"
        f"{how}\nprint(log)"
    )
    exec(call.replace("print(log)", ""), g.namespace)
    expect_equal(g.namespace["log"], hook_calls(g.blueprint, g.blueprint.root, hooked=how == "root(1)"),
                 call=call, graph=g)


@invariant("hooks.call_vs_forward_nested_ctx")
def test_handle_as_context_manager_removes_hook():
    program = Program(lines("root = Identity()", "with root.register_forward_hook(logger('h')):", "    root(1)", "root(2)"))
    with program as ns:
        actual = [entry[0] for entry in ns["root"].log]
    expect_equal(actual, ["forward", "h", "forward"], graph=program, call="print([entry[0] for entry in root.log])")


# -- full backward hooks ----------------------------------------------------------------------------
@invariant("hooks.backward_full_and_mixing")
@given(requires_grad=st.booleans())
def test_full_backward_hook_grad_input(requires_grad):
    program = Program(lines(
        "root = nn.Linear(2, 1)",
        "grads = []",
        "root.register_full_backward_hook(lambda m, gi, go: grads.append((gi, go)))",
        f"x = torch.ones(1, 2, requires_grad={requires_grad})",
        "root(x).sum().backward()",
    ))
    with warnings.catch_warnings():  # the documented "fires on outputs" case warns
        warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
        with program as ns:
            grads = ns["grads"]
    # Model: one call; grad_output is d(sum)/d(out) = ones(1, 1); grad_input is None when the
    # input needs no grad, else d(sum)/dx = the weight row.
    actual = [([None if t is None else t.tolist() for t in gi], [t.tolist() for t in go]) for gi, go in grads]
    weight = ns["root"].weight.detach().tolist()
    expected = [([weight if requires_grad else None], [[[1.0]]])]
    expect_equal(actual, expected, graph=program, call="print(grads)")


@invariant("hooks.backward_full_and_mixing")
@given(k=st.integers(-3, 3), n=st.integers(1, 3))
def test_full_backward_hook_none_for_non_tensors(k, n):
    program = Program(lines(
        "root = Scale()",
        "grads = []",
        "root.register_full_backward_hook(lambda m, gi, go: grads.append((gi, go)))",
        f"out, k = root(torch.ones({n}, requires_grad=True), {k})",
        "out.sum().backward()",
    ))
    with program as ns:
        grads = ns["grads"]
    # Model: the tensor entries are d(sum)/dx = k and d(sum)/d(out) = 1; the int entries None.
    actual = [tuple(tuple(None if t is None else t.tolist() for t in ts) for ts in pair) for pair in grads]
    expect_equal(actual, [(([float(k)] * n, None), ([1.0] * n, None))], graph=program, call="print(grads)")


@invariant("hooks.backward_full_and_mixing")
def test_mixing_regular_and_full_backward_hooks_raises():
    program = Program(lines("root = nn.Linear(2, 1)", "root.register_full_backward_hook(lambda m, gi, go: None)"))
    with program as ns:
        expect_raises(RuntimeError, lambda: ns["root"].register_backward_hook(lambda m, gi, go: None), graph=program,
                      match="Cannot use both regular backward hooks and full backward hooks on a single Module.",
                      call="root.register_backward_hook(lambda m, gi, go: None)")


# -- registration hooks -----------------------------------------------------------------------------
KINDS = ("parameter", "buffer", "module")
RECORD_PRELUDE = (
    "import torch\nfrom torch.nn.modules import module as module_mod\n"
    "fired = []\n"
    f"for kind in {KINDS}:\n"
    "    getattr(module_mod, f'register_module_{kind}_registration_hook')(\n"
    "        lambda m, name, value, kind=kind: fired.append((kind, m, name, value)))\n"
)
KIND = {"param": "parameter", "buffer": "buffer", "child": "module"}


class Recorded:
    """Reproducer for a graph built under recording hooks: the hooks go in first."""

    def __init__(self, g):
        self.g = g

    def repro(self, call: str) -> str:
        return RECORD_PRELUDE + self.g.repro(call)


@contextmanager
def recording():
    """The three global registration hooks, appending (kind, module, name, value) to the list
    yielded; removed on exit, since they are process-wide state."""
    fired = []
    handles = [getattr(module_mod, f"register_module_{kind}_registration_hook")(
        lambda m, name, value, kind=kind: fired.append((kind, m, name, value))) for kind in KINDS]
    try:
        yield fired
    finally:
        for h in handles:
            h.remove()


def expected_registrations(bp) -> list[tuple[str, str, str, str]]:
    """Every register_parameter/register_buffer/add_module call the build makes, directly or via
    attribute assignment or a container constructor, in program order; plain attributes fire none."""
    out = []
    for i, node in enumerate(bp.nodes):
        for s in node.slots:
            if s.kind != "plain":
                out.append((KIND[s.kind], f"n{i}", s.name, f"{'n' if s.kind == 'child' else 't'}{s.ref}"))
    return out


@invariant("hooks.registration_hooks")
@given(data=st.data())
def test_registration_hooks_fire_for_every_registration(data, backend):
    # No built-in layers: their constructors register members the blueprint does not list.
    kinds = ("Module", "ExtraState", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")
    bp = data.draw(blueprints(kinds=kinds, none_slots=False), label="blueprint")
    with recording() as fired:
        g = backend.build(bp)
    actual = [(kind, g.label(m), name, g.label(value)) for kind, m, name, value in fired]
    expect_equal(actual, expected_registrations(bp), graph=Recorded(g),
                 call="print([(kind, name) for kind, m, name, value in fired])")


@invariant("hooks.registration_hooks")
@pytest.mark.parametrize("kind, statement", [
    ("parameter", "root.register_parameter('x', None)"),
    ("buffer", "root.register_buffer('x', None)"),
    ("module", "root.add_module('x', None)"),
], ids=["parameter", "buffer", "module"])
def test_registration_hooks_fire_for_none(kind, statement):
    with recording() as fired:
        root = torch.nn.Module()
        exec(statement, {"root": root})
    expect_equal([(k, name, value) for k, m, name, value in fired if m is root], [(kind, "x", None)],
                 call=RECORD_PRELUDE + f"root = torch.nn.Module()\n{statement}\nprint([(k, n, v) for k, m, n, v in fired])")

