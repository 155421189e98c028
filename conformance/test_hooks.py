"""Hooks: forward pre/post hook order and return values, kwargs, always_call, call vs forward,
full backward hooks, the global registration hooks, and forward hooks on generated graphs.

Most properties run a small hand-written program (``program``) around an ``Identity`` module:
its text is the reproducer, as with blueprints (``conformance.handle.script``). Generated graphs
are used for nested calls: ``Sequential`` graphs (an empty ``Sequential`` is the identity), the
registration hooks fired by a build, and whole graphs with a generated forward
(``conformance.forward``), where every module's hooks must fire once per call in the order of
the reference model (``conformance.model_hooks``).
"""
from __future__ import annotations

import dataclasses
import warnings
from contextlib import contextmanager

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch.nn.modules import module as module_mod
from torch.utils.hooks import RemovableHandle

from conformance import model_hooks
from conformance.check import expect_equal, expect_error, expect_no_error, expect_raises
from conformance.handle import script
from conformance.harness import draw_graph, needs
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


def logger(tag, fail=False, only=None):
    """A hook that logs (tag, *its arguments but the module) and returns None, or raises. With
    ``only`` (global hooks), it logs the calls of that module alone."""
    def hook(m, *args):
        if only is not None and m is not only:
            return
        m.log.append((tag, *args))
        if fail:
            raise RuntimeError(tag + " failed")
    return hook

'''


def _handles(value):
    """Every RemovableHandle in a namespace value (directly, or in a list/tuple/dict of them)."""
    if isinstance(value, RemovableHandle):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _handles(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _handles(item)


@contextmanager
def removing_handles(h):
    """On exit, remove every hook handle the handle's program and steps left bound: global hooks
    are process-wide state (the suite's guard fails a test that leaks them)."""
    try:
        yield h
    finally:
        for value in list(h.namespace.values()):
            for handle in _handles(value):
                handle.remove()


@contextmanager
def program(backend, build, *statements):
    """A hand-written torch-only program over ``HEADER`` as a live handle: ``HEADER`` plus
    ``build`` (which binds ``root``) is the build, which goes through ``backend``; then the
    ``statements`` (hook registrations) are the first step, with ``m`` bound to the hand-written
    root as the object under test holds it (``root`` itself, or the wrapped module at the
    backend's name map): hooks are registered on the live module, as users of a wrapper do.
    The calls judged are the following steps. Layers built in it draw from the RNG, so it runs
    under a forked one. Hook functions are defined in ``build``, not in a step: a step's text is
    compiled once per process and its code objects are shared by every handle that runs it,
    while torch.compile caches what it compiled per code object and binds it to the globals of
    the first handle that ran it (a later handle then fails with a NameError of dynamo's own)."""
    with torch.random.fork_rng(devices=[]):
        h = script(HEADER + build, backend=backend)
    with removing_handles(h):
        h.run(lines(f"m = {h.node_ref('')}", *statements))
        yield h


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
@needs("hooks")
@given(regs=REGISTRATIONS, removing=st.lists(st.booleans(), max_size=5), gpre=st.booleans(), gpost=st.booleans())
@example(regs=[("pre", False), ("pre", True), ("post", False), ("post", True)], removing=[], gpre=True, gpost=True)
def test_hook_order_prepend_global_remove(backend, regs, removing, gpre, gpost):
    # regs: hooks (kind, prepend); removing[i]: whether hook i is removed before the call.
    removed = {i for i, remove in enumerate(removing) if remove and i < len(regs)}
    body = []
    for i, (kind, prepend) in enumerate(regs):
        method = "register_forward_pre_hook" if kind == "pre" else "register_forward_hook"
        body.append(f"h{i} = m.{method}(logger('h{i}'), prepend={prepend})")
    # Global hooks fire for every module called (a wrapper's own too): they log m's calls.
    body += ["gpre = register_module_forward_pre_hook(logger('gpre', only=m))"] * gpre
    body += ["gpost = register_module_forward_hook(logger('gpost', only=m))"] * gpost
    body += [f"h{i}.remove()\nh{i}.remove()  # a second remove() is a no-op" for i in sorted(removed)]
    with program(backend, "root = Identity()", *body) as h:
        actual = h.run("root(1)\n[entry[0] for entry in m.log]")
    expect_equal(actual, expected_order(regs, removed, gpre, gpost), h)


# -- return values ----------------------------------------------------------------------------------
PRE_RETURNS = st.tuples(st.sampled_from(["none", "single", "tuple"]), st.integers(-3, 3))
POST_RETURNS = st.tuples(st.sampled_from(["none", "value"]), st.integers(-3, 3))


@invariant("hooks.return_values")
@needs("hooks", "forward")
@given(pres=st.lists(PRE_RETURNS, max_size=3), posts=st.lists(POST_RETURNS, max_size=3), x=st.integers(-5, 5))
@example(pres=[("single", 1), ("tuple", 2)], posts=[("value", 1), ("none", 0)], x=3)
def test_hook_return_values(backend, pres, posts, x):
    # pres/posts: pre-hooks and forward hooks as (return form, constant); x: the input.
    source = {"none": "None", "single": "a[0] * 10 + {c}", "tuple": "(a[0] + {c},)", "value": "o * 3 + {c}"}
    build = lines("root = Identity()",
                  *(f"pre{j} = lambda m, a: {source[form].format(c=c)}" for j, (form, c) in enumerate(pres)),
                  *(f"post{j} = lambda m, a, o: {source[form].format(c=c)}" for j, (form, c) in enumerate(posts)))
    body = [f"m.register_forward_pre_hook(pre{j})" for j in range(len(pres))]
    body += [f"m.register_forward_hook(post{j})" for j in range(len(posts))]
    # Model: a single value is wrapped into a 1-tuple and becomes the args; forward hooks chain.
    value = x
    for form, c in pres:
        value = {"none": value, "single": value * 10 + c, "tuple": value + c}[form]
    seen = value
    for form, c in posts:
        value = value * 3 + c if form == "value" else value
    with program(backend, build, *body) as h:
        # (the input forward saw, the output)
        actual = h.run("out = root(x)\n(m.log[0][1], out)", x=x)
    expect_equal(actual, (seen, value), h)


# -- kwargs ---------------------------------------------------------------------------------------
KWARG_HOOKS = st.lists(st.sampled_from(["pre", "kwpre", "post", "kwpost"]), max_size=4)

KWPRE = lines(
    "def kwpre(m, a, kw):",
    "    m.log.append(('kwpre', a, kw))",
    "    return (a[0] + 1,), {**kw, 'k': kw['k'] * 2}",
)


@invariant("hooks.kwargs")
@needs("hooks", "forward")
@given(data=st.data())
def test_hook_kwargs(data, backend):
    hooks = data.draw(KWARG_HOOKS, label="hooks in registration order")
    x, k = data.draw(st.integers(-5, 5), label="x"), data.draw(st.integers(-5, 5), label="k")
    register = {
        "pre": "m.register_forward_pre_hook(logger('pre'))",
        "kwpre": "m.register_forward_pre_hook(kwpre, with_kwargs=True)",
        "post": "m.register_forward_hook(logger('post'))",
        "kwpost": "m.register_forward_hook(logger('kwpost'), with_kwargs=True)",
    }
    # Model: hooks without with_kwargs see positional args only; a with_kwargs pre-hook's
    # (args, kwargs) replaces both; forward hooks see the args (and kwargs) forward got.
    args, kw = (x,), {"k": k}
    pre_log = []
    for hook in [hook for hook in hooks if hook in ("pre", "kwpre")]:
        pre_log.append(("pre", args) if hook == "pre" else ("kwpre", args, kw))
        if hook == "kwpre":
            args, kw = (args[0] + 1,), {"k": kw["k"] * 2}
    post_log = [("post", args, args[0]) if hook == "post" else ("kwpost", args, kw, args[0])
                for hook in hooks if hook in ("post", "kwpost")]
    expected = pre_log + [("forward", args[0], kw)] + post_log
    with program(backend, KWPRE + "root = Identity()", *(register[h] for h in hooks)) as h:
        actual = h.run("root(x, k=k)\nm.log", x=x, k=k)
    expect_equal(actual, expected, h)


@invariant("hooks.kwargs")
@needs("hooks", "forward")
def test_kwargs_pre_hook_bad_return_raises(backend):
    with program(backend, "root = Identity()\nbad = lambda m, a, kw: 5",
                 "m.register_forward_pre_hook(bad, with_kwargs=True)") as h:
        expect_error(h, "root(1)",
                     (RuntimeError, "forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got 5."))


# -- always_call ----------------------------------------------------------------------------------
SILENCED = "forward hook with ``always_call=True`` raised an exception that was silenced"

CALL_RECORDING_WARNINGS = lines(
    "import warnings",
    "with warnings.catch_warnings(record=True) as caught:",
    "    warnings.simplefilter('always')",
    "    try:",
    "        root(1)",
    "        error = None",
    "    except Exception as e:",
    "        error = (type(e).__name__, str(e))",
    "(error, m.log, [str(w.message) for w in caught if issubclass(w.category, UserWarning)])",
)


@invariant("hooks.always_call")
@needs("hooks", "forward")
@given(data=st.data())
def test_always_call_runs_when_forward_raises(data, backend):
    hooks = data.draw(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=4), label="hooks (always_call, raises)")
    glob = data.draw(st.sampled_from([None, "plain", "always"]), label="global forward hook")
    body = [f"m.register_forward_hook(logger('h{i}', fail={fails}), always_call={always})"
            for i, (always, fails) in enumerate(hooks)]
    if glob:
        body.append(f"g = register_module_forward_hook(logger('g', only=m), always_call={glob == 'always'})")
    # Model: forward raises, so only always_call hooks run (global first), each with output None;
    # a raising one is silenced with a UserWarning; the forward's exception propagates.
    ran = ["g"] * (glob == "always") + [f"h{i}" for i, (always, _) in enumerate(hooks) if always]
    expected = (("ValueError", "forward failed"), [("forward", 1, {})] + [(tag, (1,), None) for tag in ran],
                sum(always and fails for always, fails in hooks))
    with program(backend, "root = Identity(fail=True)", *body) as h:
        error, log, messages = h.run(CALL_RECORDING_WARNINGS)
    # (the exception root(1) raised, m.log, the number of silenced-exception UserWarnings)
    expect_equal((error, log, sum(SILENCED in m for m in messages)), expected, h)


# -- call vs forward, nesting, handle as context manager --------------------------------------------
# Hooks on every module, each logging (event, the live name it was registered under). The hooks
# take what they use as default arguments, not as globals of the step: torch.compile resolves an
# inlined function's globals through sys.modules[__name__], which is not the step's namespace.
HOOK_EACH = lines(
    "log = []",
    "handles = {}",
    "for name in names:",
    "    m = root.get_submodule(name)",
    "    handles[name] = (m.register_forward_pre_hook(lambda m, args, name=name, log=log: log.append(('pre', name))),",
    "                     m.register_forward_hook(lambda m, args, out, name=name, log=log: log.append(('post', name))))",
)
# Graphs whose root takes x (model_hooks [F4]), built with a generated forward (``forward=True``)
# whatever the backend: a wrapper wraps (and traces, or scripts) the graph with its forward, as
# its users' models have one, and the hooks are registered through the wrapper. Sequential-only
# graphs (an empty Sequential is the identity) nest calls without any generated class.
FORWARD_GRAPHS = blueprints().filter(model_hooks.root_accepts)
NESTED_GRAPHS = st.one_of(blueprints(kinds=("Sequential",), none_slots=False), FORWARD_GRAPHS)
CALL = "root(torch.zeros(1))"


def live_names(h, nodes) -> list[str]:
    """The live names (through the backend's name map) of blueprint nodes, for steps to reach them by."""
    return [h.names.live(h.paths[i]) for i in nodes]


def model_events(h, log) -> list[tuple[str, str]]:
    """``[(event, live name)]`` in model names; events of the wrapper's own modules dropped."""
    out = []
    for what, name in log:
        mapped = "<not in the graph>" if name is None else h.names.model(name)
        if mapped is not None:
            out.append((what, mapped))
    return out


def hooked_events(h, kept=None, *, glob: bool = False, tags=("",)) -> list[tuple[str, str]]:
    """Model: ``model_hooks.hook_events`` as ``(event + tag, model path)``: pre-hooks as calls
    begin, forward hooks as they return (a child's between its parent's), once per call. At each
    call the global hook fires first (``glob``: logged as ``gpre``/``gpost``), then the module's
    own hooks whose ``(node, tag)`` is in ``kept`` (default: all), in registration order."""
    out = []
    for what, i in model_hooks.hook_events(h.blueprint):
        out += [("g" + what, h.paths[i])] * glob
        out += [(what + tag, h.paths[i]) for tag in tags if kept is None or (i, tag) in kept]
    return out


@invariant("hooks.call_vs_forward_nested_ctx")
@needs("hooks", "forward")
@given(data=st.data())
def test_call_runs_hooks_forward_does_not(data, backend):
    h = draw_graph(data, backend, NESTED_GRAPHS, forward=True)
    how = data.draw(st.sampled_from(["root(torch.zeros(1))", "root.forward(torch.zeros(1))"]), label="call")
    with removing_handles(h):
        expect_no_error(h, HOOK_EACH, names=live_names(h, h.paths))
        expect_no_error(h, how)
        actual = model_events(h, h.run("log"))
    # Model: root.forward runs the object under test's forward without its hooks; the modules it
    # calls run theirs. A wrapper (the model's root at a prefixed name) is the object under test:
    # its forward calls the model's root as a module, hooks and all.
    skipped = h.paths[h.blueprint.root] if how.startswith("root.forward") and h.names.live("") == "" else None
    expected = [e for e in hooked_events(h) if e[1] != skipped]
    expect_equal(actual, expected, h)


@invariant("hooks.call_vs_forward_nested_ctx")
@needs("hooks", "forward")
def test_handle_as_context_manager_removes_hook(backend):
    with program(backend, "root = Identity()") as h:
        actual = h.run("with m.register_forward_hook(logger('h')):\n    root(1)\nroot(2)\n"
                       "[entry[0] for entry in m.log]")
    expect_equal(actual, ["forward", "h", "forward"], h)


# -- forward hooks on generated graphs ---------------------------------------------------------------
@invariant("hooks.fire_per_call")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_hooks_fire_per_call(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    calls = data.draw(st.integers(1, 2), label="calls")
    with removing_handles(h):
        expect_no_error(h, HOOK_EACH, names=live_names(h, h.paths))
        for _ in range(calls):
            expect_no_error(h, CALL)
        actual = model_events(h, h.run("log"))
    expect_equal(actual, hooked_events(h) * calls, h,
                 problem="forward pre-hooks and forward hooks do not fire once per call, in the model's call order")


# Global pre/post hooks logging (event, the module's first live name), before module hooks on ``names``.
GLOBAL_AND_EACH = lines(
    "from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook",
    "live = {id(m): name for name, m in root.named_modules()}",
    "log = []",
    "gpre = register_module_forward_pre_hook(lambda m, args, log=log, live=live: log.append(('gpre', live.get(id(m)))))",
    "gpost = register_module_forward_hook(lambda m, args, out, log=log, live=live: log.append(('gpost', live.get(id(m)))))",
) + HOOK_EACH.partition("log = []\n")[2]


@invariant("hooks.global_fire_per_call")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_global_hooks_fire_per_call(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    hooked = data.draw(st.sets(st.sampled_from(sorted(h.paths))), label="nodes with module hooks")
    with removing_handles(h):
        expect_no_error(h, GLOBAL_AND_EACH, names=live_names(h, sorted(hooked)))
        expect_no_error(h, CALL)
        actual = model_events(h, h.run("log"))
    expect_equal(actual, hooked_events(h, {(i, "") for i in hooked}, glob=True), h,
                 problem="global forward hooks do not fire once per call of every module, before the module's hooks")


# Two forward pre-hooks and two forward hooks on every module (tags '' and '+'), and global hooks
# when ``glob``: each logs (event + tag, the module's live name).
HOOK_EACH_TWICE = lines(
    "from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook",
    "live = {id(m): name for name, m in root.named_modules()}",
    "log = []",
    "if glob:",
    "    gpre = register_module_forward_pre_hook(lambda m, args, log=log, live=live: log.append(('gpre', live.get(id(m)))))",
    "    gpost = register_module_forward_hook(lambda m, args, out, log=log, live=live: log.append(('gpost', live.get(id(m)))))",
    "handles = {}",
    "for name in names:",
    "    m = root.get_submodule(name)",
    "    for tag in ('', '+'):",
    "        handles[name, tag] = (",
    "            m.register_forward_pre_hook(lambda m, args, name=name, tag=tag, log=log: log.append(('pre' + tag, name))),",
    "            m.register_forward_hook(lambda m, args, out, name=name, tag=tag, log=log: log.append(('post' + tag, name))))",
)
REMOVE = lines(
    "for key in removed:",
    "    for handle in handles[key]:",
    "        handle.remove()",
    "        handle.remove()  # a second remove() is a no-op",
)


@invariant("hooks.removed_handle_silent")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_removed_hooks_stop(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    pairs = [(i, tag) for i in sorted(h.paths) for tag in ("", "+")]
    removed = data.draw(st.sets(st.sampled_from(pairs)), label="(node, tag) of the hook pairs removed")
    glob = data.draw(st.sampled_from(["none", "kept", "removed"]), label="global hooks")
    with removing_handles(h):
        expect_no_error(h, HOOK_EACH_TWICE, names=live_names(h, sorted(h.paths)), glob=glob != "none")
        expect_no_error(h, CALL)
        expect_no_error(h, REMOVE + ("gpre.remove()\ngpost.remove()\n" if glob == "removed" else ""),
                        removed=[(h.names.live(h.paths[i]), tag) for i, tag in sorted(removed)])
        expect_no_error(h, CALL)
        actual = model_events(h, h.run("log"))
    # Model: the first call fires every hook; the second only those not removed.
    tags = ("", "+")
    expected = (hooked_events(h, glob=glob != "none", tags=tags)
                + hooked_events(h, set(pairs) - removed, glob=glob == "kept", tags=tags))
    expect_equal(actual, expected, h, problem="a removed hook still fires, or removing one stops another")


# -- full backward hooks ----------------------------------------------------------------------------
GRADS = "[([None if t is None else t.tolist() for t in gi], [t.tolist() for t in go]) for gi, go in grads]"


@invariant("hooks.backward_full_and_mixing")
@needs("hooks", "forward")
@given(requires_grad=st.booleans())
def test_full_backward_hook_grad_input(backend, requires_grad):
    weight = [[2.0, -3.0]]
    with program(backend,
                 "root = nn.Linear(2, 1)\n"
                 "with torch.no_grad():\n"
                 f"    root.weight.copy_(torch.tensor({weight}))\n"
                 "grads = []\n"
                 "record = lambda m, gi, go: grads.append((gi, go))\n",
                 "m.register_full_backward_hook(record)") as h:
        with warnings.catch_warnings():  # the documented "fires on outputs" case warns
            warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
            actual = h.run(f"x = torch.ones(1, 2, requires_grad=requires_grad)\nroot(x).sum().backward()\n{GRADS}",
                           requires_grad=requires_grad)
    # Model: one call; grad_output is d(sum)/d(out) = ones(1, 1); grad_input is None when the
    # input needs no grad, else d(sum)/dx = the weight row.
    expected = [([weight if requires_grad else None], [[[1.0]]])]
    expect_equal(actual, expected, h)


@invariant("hooks.backward_full_and_mixing")
@needs("hooks", "forward")
@given(k=st.integers(-3, 3), n=st.integers(1, 3))
def test_full_backward_hook_none_for_non_tensors(backend, k, n):
    with program(backend, "root = Scale()\ngrads = []\nrecord = lambda m, gi, go: grads.append((gi, go))\n",
                 "m.register_full_backward_hook(record)") as h:
        actual = h.run("out, k = root(torch.ones(n, requires_grad=True), k)\nout.sum().backward()\n"
                       "[tuple(tuple(None if t is None else t.tolist() for t in ts) for ts in pair) for pair in grads]",
                       n=n, k=k)
    # Model: the tensor entries are d(sum)/dx = k and d(sum)/d(out) = 1; the int entries None.
    expect_equal(actual, [(([float(k)] * n, None), ([1.0] * n, None))], h)


@invariant("hooks.backward_full_and_mixing")
@needs("hooks")
def test_mixing_regular_and_full_backward_hooks_raises(backend):
    with program(backend, "root = nn.Linear(2, 1)\nnothing = lambda m, gi, go: None\n",
                 "m.register_full_backward_hook(nothing)") as h:
        expect_raises(h, "m.register_backward_hook(nothing)", RuntimeError,
                      match="Cannot use both regular backward hooks and full backward hooks on a single Module.")


# -- full backward hooks on generated graphs -----------------------------------------------------
# Full backward pre-hooks and full backward hooks registered on every module in ``names``, in the
# drawn order ``regs`` of (kind, prepend); each logs (kind + its index in regs, live name).
BACKWARD_EACH = lines(
    "log = []",
    "handles = []",
    "for name in names:",
    "    m = root.get_submodule(name)",
    "    for j, (kind, prepend) in enumerate(regs):",
    "        if kind == 'bpre':",
    "            handles.append(m.register_full_backward_pre_hook(",
    "                lambda m, go, name=name, j=j, log=log: log.append((f'bpre{j}', name)), prepend=prepend))",
    "        else:",
    "            handles.append(m.register_full_backward_hook(",
    "                lambda m, gi, go, name=name, j=j, log=log: log.append((f'bpost{j}', name)), prepend=prepend))",
)
BACKWARD_CALL = "root(torch.zeros(1, requires_grad=True)).sum().backward()"


@invariant("hooks.backward_order_prepend")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_backward_hooks_order(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    path = model_hooks.on_path(h.blueprint)
    hooked = data.draw(st.sets(st.sampled_from(path), min_size=1), label="nodes on x's path with backward hooks")
    regs = data.draw(st.lists(st.tuples(st.sampled_from(["bpre", "bpost"]), st.booleans()), min_size=1, max_size=4),
                     label="backward hooks (kind, prepend) in registration order")
    with removing_handles(h):
        expect_no_error(h, BACKWARD_EACH, names=live_names(h, sorted(hooked)), regs=regs)
        expect_no_error(h, BACKWARD_CALL)
        actual = model_events(h, h.run("log"))
    # Model [B1]/[B2]: the backward events of the call tree; at each, that kind's hooks in prepend order.
    order = {kind: [j for j in model_hooks.hook_order([p for _, p in regs])
                    if regs[j][0] == kind] for kind in ("bpre", "bpost")}
    expected = [(f"{what}{j}", h.paths[i]) for what, i in model_hooks.backward_events(h.blueprint, hooked)
                for j in order[what]]
    expect_equal(actual, expected, h, problem="full backward (pre-)hooks do not fire once per call in reverse "
                                              "call order, in registration order with prepended ones first")


# -- registration hooks -----------------------------------------------------------------------------
KINDS = ("parameter", "buffer", "module")
RECORD_PRELUDE = (
    "import torch\nfrom torch.nn.modules import module as module_mod\n"
    "fired = []\n"
    f"record_handles = [getattr(module_mod, f'register_module_{{kind}}_registration_hook')(\n"
    "    lambda m, name, value, kind=kind: fired.append((kind, m, name, value))) for kind in "
    f"{KINDS}]\n"
)
KIND = {"param": "parameter", "buffer": "buffer", "child": "module"}


@contextmanager
def recording():
    """The three global registration hooks, appending (kind, module, name, value) to the list
    yielded (as ``RECORD_PRELUDE`` does in the reproducer); removed on exit, since they are
    process-wide state."""
    fired = []
    handles = [getattr(module_mod, f"register_module_{kind}_registration_hook")(
        lambda m, name, value, kind=kind: fired.append((kind, m, name, value))) for kind in KINDS]
    try:
        yield fired
    finally:
        for handle in handles:
            handle.remove()


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
@needs("torch-objects")
@needs("hooks")
@given(data=st.data())
def test_registration_hooks_fire_for_every_registration(data, backend):
    # No built-in layers: their constructors register members the blueprint does not list.
    kinds = ("Module", "ExtraState", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")
    with recording() as fired:
        h = draw_graph(data, backend, blueprints(kinds=kinds, none_slots=False))
    # The reproducer records from the start, as the build ran: RECORD_PRELUDE binds ``fired``.
    h = dataclasses.replace(h, program=RECORD_PRELUDE + h.program)
    h.namespace["fired"] = fired
    events = h.run("[(kind, m, name, value) for kind, m, name, value in fired]")
    # A wrapper registering its own members (DDP's ``module``) is the wrapper's, not the model's.
    own = h.wrapper_modules()
    actual = [(kind, h.label(m), name, h.label(value)) for kind, m, name, value in events if id(m) not in own]
    expect_equal(actual, expected_registrations(h.blueprint), h)


@invariant("hooks.registration_hooks")
@needs("hooks", "register")
@pytest.mark.parametrize("kind, statement", [
    ("parameter", "{m}.register_parameter('x', None)"),
    ("buffer", "{m}.register_buffer('x', None)"),
    ("module", "{m}.add_module('x', None)"),
], ids=["parameter", "buffer", "module"])
def test_registration_hooks_fire_for_none(kind, statement, backend):
    # Recording as in the generated test, so that a wrap step that raises leaves no hook behind.
    with recording() as fired:
        h = script("root = torch.nn.Module()", backend=backend)
        h = dataclasses.replace(h, program=RECORD_PRELUDE + h.program)
        h.namespace["fired"] = fired
        m = h.node_ref("")  # the hand-written root as the object under test holds it
        actual = h.run(f"{statement.format(m=m)}\n[(k, n, v) for k, mod, n, v in fired if mod is {m}]")
    expect_equal(actual, [(kind, "x", None)], h)


# -- drawn forward hooks at every depth: prepend, with_kwargs, global ones, removal, a raise --------
# Hooks registered in the order of ``specs``: (live name of the module, or None for a global hook,
# kind, prepend, with_kwargs, always_call, index of the hook it removes when it fires or None,
# returns, raises). Each logs (its index, the live name of the module it fires for, how many
# arguments it got after the module, whether its output argument is None): with_kwargs adds the
# kwargs. A returning pre-hook (with_kwargs) returns ``((args[0] + 1,), kwargs)``; a raising one
# raises RuntimeError('pre-hook raised'). Everything a hook uses is a default argument (see
# HOOK_EACH).
REGISTER_DRAWN = lines(
    "from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook",
    "live = {id(m): name for name, m in root.named_modules()}",
    "log = []",
    "handles = []",
    "def make(j, kind, target, returns, raises, log=log, live=live, handles=handles):",
    "    def hook(m, *a, j=j, kind=kind, target=target, returns=returns, raises=raises, log=log, live=live,",
    "             handles=handles):",
    "        log.append((j, live.get(id(m)), len(a), kind == 'post' and a[-1] is None))",
    "        if target is not None:",
    "            handles[target].remove()",
    "        if raises:",
    "            raise RuntimeError('pre-hook raised')",
    "        if returns:",
    "            return (a[0][0] + 1,), a[1]",
    "    return hook",
    "for j, (name, kind, prepend, kw, always, target, returns, raises) in enumerate(specs):",
    "    hook = make(j, kind, target, returns, raises)",
    "    if name is None and kind == 'pre':",
    "        handles.append(register_module_forward_pre_hook(hook))",
    "    elif name is None:",
    "        handles.append(register_module_forward_hook(hook, always_call=always))",
    "    elif kind == 'pre':",
    "        handles.append(root.get_submodule(name).register_forward_pre_hook(hook, prepend=prepend, with_kwargs=kw))",
    "    else:",
    "        handles.append(root.get_submodule(name).register_forward_hook(",
    "            hook, prepend=prepend, with_kwargs=kw, always_call=always))",
)
SPEC_FIELDS = ("node", "kind", "prepend", "kw", "always", "target", "returns", "raises")


def hook_spec(node, kind, prepend=False, kw=False, always=False, target=None, returns=False, raises=False) -> dict:
    return dict(zip(SPEC_FIELDS, (node, kind, prepend, kw, always, target, returns, raises)))


def drawn_hooks(data, h, *, glob=True, kwargs=True, returns=False, min_size=2, max_size=8,
                label="hooks (node or None: global, kind, prepend, with_kwargs, always_call) in registration order"):
    """Hooks on drawn modules (any depth; one or two, so that modules get several) and global
    ones, as ``hook_spec`` dicts."""
    nodes = data.draw(st.lists(st.sampled_from(sorted(h.paths)), min_size=1, max_size=2, unique=True),
                      label="modules hooked") + [None] * glob
    raw = data.draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(["pre", "post"]), st.booleans(),
                                       st.booleans() if kwargs else st.just(False), st.booleans()),
                             min_size=min_size, max_size=max_size), label=label)
    # Global hooks take neither prepend nor with_kwargs (register_module_forward_*_hook). The last
    # flag is always_call for a forward hook, and for a with_kwargs pre-hook on x's path whether it
    # returns ((args[0] + 1,), kwargs): every module there maps x to x + a constant [B1].
    on_path = set(model_hooks.on_path(h.blueprint))
    return [hook_spec(node, kind, node is not None and prepend, node is not None and kw, kind == "post" and flag,
                      returns=returns and kind == "pre" and node is not None and kw and flag and node in on_path)
            for node, kind, prepend, kw, flag in raw]


def register_drawn(h, specs):
    """Run REGISTER_DRAWN for ``specs`` (nodes as live names)."""
    rows = [(None if s["node"] is None else h.names.live(h.paths[s["node"]]),) + tuple(s[f] for f in SPEC_FIELDS[1:])
            for s in specs]
    expect_no_error(h, REGISTER_DRAWN, specs=rows)


def model_log(h, log) -> list[tuple]:
    """The hooks' log entries in model names; firings for the wrapper's own modules dropped."""
    out = []
    for j, name, nargs, none in log:
        mapped = "<not in the graph>" if name is None else h.names.model(name)
        if mapped is not None:
            out.append((j, mapped, nargs, none))
    return out


def expected_log(h, specs, firings) -> list[tuple]:
    """Model: the log entries of ``model_hooks.forward_firings``: a pre-hook gets ``(args,)``
    or ``(args, kwargs)``, a forward hook ``(args, output)`` or ``(args, kwargs, output)``, with
    output None only while an exception unwinds."""
    return [(j, h.paths[i], (1 if kind == "pre" else 2) + specs[j]["kw"], kind == "unwind") for j, i, kind in firings]


def as_hooks(specs):
    return [model_hooks.Hook(s["node"], s["kind"], s["prepend"], s["always"]) for s in specs]


@invariant("hooks.depth_order_prepend_kwargs")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_drawn_hooks_order_kwargs_returns(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    specs = drawn_hooks(data, h, returns=True, label="hooks (node or None: global, kind, prepend, with_kwargs, "
                                                     "always_call or returns) in registration order")
    # And at a drawn module on x's path, every case: a forward hook, then a prepended with_kwargs
    # one, a global one, and a returning with_kwargs pre-hook.
    at = data.draw(st.sampled_from(model_hooks.on_path(h.blueprint)), label="module with the fixed hooks")
    specs += [hook_spec(at, "post"), hook_spec(at, "post", prepend=True, kw=True), hook_spec(None, "post"),
              hook_spec(at, "pre", kw=True, returns=True)]
    with removing_handles(h):
        register_drawn(h, specs)
        # The call without hooks comes after: torch.compile does not guard on hooks registered
        # after the first call (torch._dynamo.config.skip_nnmodule_hook_guards).
        actual = expect_no_error(h, f"out = {CALL}\nfor handle in handles:\n    handle.remove()\n"
                                    f"base = {CALL}\n(log, round((out - base).item()))")
    firings, _ = model_hooks.forward_firings(h.blueprint, as_hooks(specs))
    # Model [H1]: the firings; each returning pre-hook adds 1 to its module's input, hence to the output.
    expected = (expected_log(h, specs, firings), sum(specs[j]["returns"] for j, _, _ in firings))
    expect_equal((model_log(h, actual[0]), actual[1]), expected, h,
                 problem="drawn forward hooks do not fire in the model's order (global first, prepended ones "
                         "before the module's earlier hooks) with their arguments, or a returned (args, kwargs) "
                         "is not what forward gets")


RAISING_CALL = lines(
    "log.clear()",
    "try:",
    f"    {CALL}",
    "    error = None",
    "except RuntimeError as e:",
    "    error = str(e)",
    "(error, log)",
)


@invariant("hooks.depth_always_call")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_always_call_hooks_when_a_call_raises(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    specs = drawn_hooks(data, h)
    called = sorted(set(model_hooks.call_order(h.blueprint)))
    at = data.draw(st.sampled_from(called), label="module whose pre-hook raises")
    # There, an always_call forward hook and a global one, then the raising pre-hook.
    specs += [hook_spec(at, "post", always=True), hook_spec(None, "post", always=True),
              hook_spec(at, "pre", data.draw(st.booleans(), label="raising hook prepended"), raises=True)]
    with removing_handles(h):
        register_drawn(h, specs)
        error, log = expect_no_error(h, RAISING_CALL)
    firings, raised = model_hooks.forward_firings(h.blueprint, as_hooks(specs), raises={len(specs) - 1})
    # Model [H3]: the firings up to the raise, then the always_call hooks of every call unwound.
    expected = ("pre-hook raised" if raised else None, expected_log(h, specs, firings))
    expect_equal((error, model_log(h, log)), expected, h,
                 problem="when a pre-hook raises at depth, the always_call forward hooks of the calls it unwinds "
                         "do not run (innermost first, global first, output None), or other hooks run")


@invariant("hooks.depth_remove_during_call")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_hooks_removed_during_a_call(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    # Without with_kwargs: test_generated_graph_kwargs_hook_removed_during_its_firing has those.
    specs = drawn_hooks(data, h, kwargs=False)
    # Module hooks (not global ones: those also fire for a wrapper's own modules) remove a hook.
    removers = [j for j, s in enumerate(specs) if s["node"] is not None]
    removes = data.draw(st.dictionaries(st.sampled_from(removers), st.sampled_from(range(len(specs))))
                        if removers else st.just({}), label="{hook: the hook it removes when it fires}")
    for j, k in removes.items():
        specs[j]["target"] = k
    # And at a drawn module, every case of the rule: hook n removes n + 1, a later pre-hook of the
    # same firing (which still fires in it), n + 1 removes n + 2, a forward hook of the same call
    # (which no longer fires in it), n + 3 removes itself (it fires once).
    called = sorted(set(model_hooks.call_order(h.blueprint)))
    at = data.draw(st.sampled_from(called), label="module with the fixed removals")
    n = len(specs)
    specs += [hook_spec(at, "pre", target=n + 1), hook_spec(at, "pre", target=n + 2), hook_spec(at, "post"),
              hook_spec(at, "post", target=n + 3)]
    removes = {**removes, n: n + 1, n + 1: n + 2, n + 3: n + 3}
    with removing_handles(h):
        register_drawn(h, specs)
        for _ in range(2):
            expect_no_error(h, CALL)
        log = h.run("log")
    firings, _ = model_hooks.forward_firings(h.blueprint, as_hooks(specs), removes=removes, calls=2)
    # Model [H2]: a hook fires from the set registered when its kind's firing begins at a call.
    expect_equal(model_log(h, log), expected_log(h, specs, firings), h,
                 problem="a hook removed during a call fires (or stops) other than the rule says: the hooks "
                         "registered when a firing begins fire in it, a removed one in no later firing")


# -- state_dict and load_state_dict hooks at every depth ---------------------------------------------
STATE_GRAPHS = blueprints()
# state_dict pre-hooks log (index, prefix, keep_vars), post-hooks (index, prefix, entries so far).
STATE_DICT_HOOKS = lines(
    "log = []",
    "handles = []",
    "for j, (name, kind) in enumerate(specs):",
    "    m = root.get_submodule(name)",
    "    if kind == 'pre':",
    "        handles.append(m.register_state_dict_pre_hook(lambda m, p, kv, j=j, log=log: log.append((j, p, kv))))",
    "    else:",
    "        handles.append(m.register_state_dict_post_hook(",
    "            lambda m, sd, p, meta, j=j, log=log: log.append((j, p, len(sd)))))",
)
# load pre-hooks log (index, 'pre', prefix), post-hooks (index, 'post', missing keys, unexpected keys).
LOAD_HOOKS = lines(
    "log = []",
    "handles = []",
    "for j, (name, kind) in enumerate(specs):",
    "    m = root.get_submodule(name)",
    "    if kind == 'pre':",
    "        handles.append(m.register_load_state_dict_pre_hook(",
    "            lambda m, sd, p, meta, strict, missing, unexpected, errors, j=j, log=log: log.append((j, 'pre', p))))",
    "    else:",
    "        handles.append(m.register_load_state_dict_post_hook(",
    "            lambda m, keys, j=j, log=log: log.append(",
    "                (j, 'post', list(keys.missing_keys), list(keys.unexpected_keys)))))",
)


def model_prefix(h, pre: str, prefix: str = "") -> str | None:
    """The model key prefix of a live one (``'_orig_mod.a.'`` -> ``'a.'``) after ``prefix``; None
    for the wrapper's own; a malformed one as it came."""
    rest = pre[len(prefix):]
    if not pre.startswith(prefix) or (rest and not rest.endswith(".")):
        return pre
    name = h.names.model(rest[:-1])
    return None if name is None else prefix + (name + "." if name else "")


def drawn_state_hooks(data, h, label):
    """Drawn hooks, then a pre- and a post-hook on the root and on the module of the last path."""
    from conformance import model_state

    nodes = sorted(h.paths)
    drawn = data.draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(["pre", "post"])), min_size=1,
                               max_size=6), label=label)
    last = model_state.paths(h.blueprint)[-1][1]
    return drawn + [(h.blueprint.root, "pre"), (h.blueprint.root, "post"), (last, "pre"), (last, "post")]


@invariant("hooks.depth_state_dict")
@needs("hooks")
@given(data=st.data())
def test_generated_graph_state_dict_hooks(data, backend):
    h = draw_graph(data, backend, STATE_GRAPHS)
    hooks = drawn_state_hooks(data, h, "state_dict hooks (node, kind) in registration order")
    removed = data.draw(st.sets(st.sampled_from(range(len(hooks)))), label="hooks removed before the call")
    prefix = data.draw(st.sampled_from(["", "x."]), label="prefix")
    keep_vars = data.draw(st.booleans(), label="keep_vars")
    with removing_handles(h):
        expect_no_error(h, STATE_DICT_HOOKS, specs=[(h.names.live(h.paths[i]), kind) for i, kind in hooks])
        expect_no_error(h, "for j in removed:\n    handles[j].remove()", removed=sorted(removed))
        log = expect_no_error(h, "root.state_dict(prefix=prefix, keep_vars=keep_vars)\nlog",
                              prefix=prefix, keep_vars=keep_vars)
    actual = [(j, model_prefix(h, p, prefix), arg) for j, p, arg in log]
    # Model [S1]: every path's pre-hooks, then its entries and its children's, then its post-hooks.
    expected = [(j, path, keep_vars if hooks[j][1] == "pre" else keys)
                for j, path, keys in model_hooks.state_dict_hook_firings(h.blueprint, hooks, prefix=prefix)
                if j not in removed]
    expect_equal(actual, expected, h, problem="state_dict hooks on drawn modules do not fire once per path, with "
                                              "that path's prefix, around its entries, in registration order")


@invariant("hooks.depth_load_state_dict")
@needs("load", "hooks")
@given(data=st.data())
def test_generated_graph_load_state_dict_hooks(data, backend):
    from conformance import model, model_state

    h = draw_graph(data, backend, STATE_GRAPHS)
    hooks = drawn_state_hooks(data, h, "load_state_dict hooks (node, kind) in registration order")
    keys = [key for key, _ in model.state_dict_entries(h.blueprint)]
    drop = data.draw(st.sets(st.sampled_from(keys)) if keys else st.just(set()), label="keys left out (missing)")
    strays = model_state.stray_keys(h.blueprint)["ordinary"]
    extra = data.draw(st.lists(st.sampled_from(strays), unique=True, max_size=3), label="stray keys added (unexpected)")
    strict = data.draw(st.booleans(), label="strict")
    with removing_handles(h):
        expect_no_error(h, LOAD_HOOKS, specs=[(h.names.live(h.paths[i]), kind) for i, kind in hooks])
        expect_no_error(h, "sd = root.state_dict()\nfor k in drop:\n    del sd[k]\nfor k in extra:\n"
                           "    sd[k] = torch.zeros(1)",
                        drop=[h.names.live(k) for k in keys if k in drop], extra=[h.names.live(k) for k in extra])
        raised, log = expect_no_error(h, "try:\n    root.load_state_dict(sd, strict=strict)\n    raised = False\n"
                                         "except RuntimeError:\n    raised = True\n(raised, log)", strict=strict)
    actual = [(j, "pre", model_prefix(h, e[0])) if what == "pre" else (j, "post", h.unmapped(e[0]), h.unmapped(e[1]))
              for j, what, *e in log]
    # Model [S2]: the paths in state_dict order; a post-hook sees the keys found so far.
    given = [k for k in keys if k not in drop] + extra
    firings = model_hooks.load_hook_firings(h.blueprint, hooks, given)
    failed = strict and bool(model_state.missing_keys(h.blueprint, given)
                             or model_state.unexpected_keys(h.blueprint, given))
    expect_equal((actual, raised), (firings, failed), h,
                 problem="load_state_dict hooks on drawn modules do not fire per path in state_dict order, or a "
                         "post-hook's incompatible_keys are not the keys found so far")


@invariant("hooks.depth_remove_during_call")
@needs("hooks", "forward")
@given(data=st.data())
def test_generated_graph_kwargs_hook_removed_during_its_firing(data, backend):
    h = draw_graph(data, backend, FORWARD_GRAPHS, forward=True)
    at = data.draw(st.sampled_from(sorted(set(model_hooks.call_order(h.blueprint)))), label="module hooked")
    kind = data.draw(st.sampled_from(["pre", "post"]), label="kind")
    # Hook 0 removes hook 1, a with_kwargs hook of the same kind and module, which fires after it.
    specs = [hook_spec(at, kind, target=1), hook_spec(at, kind, kw=True)]
    with removing_handles(h):
        register_drawn(h, specs)
        for _ in range(2):
            expect_no_error(h, CALL)
        log = h.run("log")
    firings, _ = model_hooks.forward_firings(h.blueprint, as_hooks(specs), removes={0: 1}, calls=2)
    # Model [H2]: hook 1 still fires in the firing that removed it, as registered (with its kwargs).
    expect_equal(model_log(h, log), expected_log(h, specs, firings), h,
                 problem="a with_kwargs hook removed by an earlier hook of the same firing is not called as it "
                         "was registered")
