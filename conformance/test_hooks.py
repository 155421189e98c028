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
