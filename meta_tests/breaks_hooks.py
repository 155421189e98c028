"""Deliberate breaks for the hooks properties (registered into meta_tests.breaks.BREAKS)."""
from __future__ import annotations

import inspect
import re
import textwrap
from collections import OrderedDict

from torch import nn
from torch.nn.modules import module as module_mod

from meta_tests.breaks import brk, wrap  # noqa: F401


def _edit_call_impl(*edits: tuple[str, str]) -> None:
    """Replace ``nn.Module._call_impl`` by its own source with each ``(old, new)`` edit made (``old``
    found exactly once, whitespace-insensitive), compiled in torch's module namespace: one
    behaviour of a call changes."""
    source = textwrap.dedent(inspect.getsource(module_mod.Module._call_impl))
    for old, new in edits:
        pattern = r"\s*".join(map(re.escape, old.split()))
        if len(re.findall(pattern, source)) != 1:
            raise RuntimeError(f"break: {old!r} is not in Module._call_impl exactly once")
        source = re.sub(pattern, lambda _: new, source)
    namespace: dict = {}
    exec(compile(source, "<break _call_impl>", "exec"), vars(module_mod), namespace)
    nn.Module._call_impl = namespace["_call_impl"]


GLOBAL_POST = "*_global_forward_hooks.items(), *self._forward_hooks.items(),"


DRAWN = "test_generated_graph_drawn_hooks_order_kwargs_returns"


@brk("hooks.global_forward_hooks_after_module", "test_hooks.py", DRAWN)
def _():
    """At every call, global forward hooks run after the module's own forward hooks."""
    _edit_call_impl((GLOBAL_POST, "*self._forward_hooks.items(), *_global_forward_hooks.items(),"))


@brk("hooks.forward_hook_prepend_ignored", "test_hooks.py", DRAWN)
def _():
    """register_forward_hook ignores prepend=True."""
    wrap(nn.Module, "register_forward_hook",
         lambda orig: lambda self, hook, *, prepend=False, **kwargs: orig(self, hook, **kwargs))


@brk("hooks.kwargs_pre_hook_result_ignored", "test_hooks.py", DRAWN)
def _():
    """A with_kwargs forward pre-hook runs, but the (args, kwargs) it returns do not replace the input."""
    wrap(nn.Module, "register_forward_pre_hook",
         lambda orig: lambda self, hook, *, prepend=False, with_kwargs=False: orig(
             self, (lambda *a: (hook(*a), None)[1]) if with_kwargs else hook, prepend=prepend, with_kwargs=with_kwargs))


@brk("hooks.always_call_ignored", "test_hooks.py", "test_generated_graph_always_call_hooks_when_a_call_raises")
def _():
    """register_forward_hook ignores always_call=True: no forward hook runs when a call raises."""
    wrap(nn.Module, "register_forward_hook",
         lambda orig: lambda self, hook, *, always_call=False, **kwargs: orig(self, hook, **kwargs))


@brk("hooks.forward_hooks_snapshot_at_call_start", "test_hooks.py", "test_generated_graph_hooks_removed_during_a_call")
def _():
    """A call takes its forward hooks as they were when the call began: a forward hook removed by a
    pre-hook of the same call still fires in it."""
    _edit_call_impl(("def inner():", "post_hooks = (*_global_forward_hooks.items(), *self._forward_hooks.items())\n"
                                      "    def inner():"),
                    (GLOBAL_POST, "*post_hooks,"))


@brk("hooks.state_dict_post_hooks_root_prefix", "test_hooks.py", "test_generated_graph_state_dict_hooks")
def _():
    """state_dict post-hooks get the prefix of the outermost state_dict call, at every depth."""
    outer: list[str] = []

    def state_dict(orig):
        def f(self, *args, destination=None, prefix="", keep_vars=False):
            outer.append(outer[0] if outer else prefix)
            try:
                return orig(self, *args, destination=destination, prefix=prefix, keep_vars=keep_vars)
            finally:
                outer.pop()
        return f

    def register(orig):
        def f(self, hook):
            def shifted(m, sd, prefix, meta):
                return hook(m, sd, outer[0] if outer else prefix, meta)
            return orig(self, shifted)
        return f

    wrap(nn.Module, "state_dict", state_dict)
    wrap(nn.Module, "register_state_dict_post_hook", register)


@brk("hooks.load_pre_hooks_children_first", "test_hooks.py", "test_generated_graph_load_state_dict_hooks")
def _():
    """load_state_dict runs every module's load pre-hooks first, children's before their parent's."""
    def load_state_dict(orig):
        def f(self, state_dict, strict=True, assign=False):
            saved = {}

            def visit(m, prefix):
                for name, child in m._modules.items():
                    if child is not None:
                        visit(child, prefix + name + ".")
                for hook in list(m._load_state_dict_pre_hooks.values()):
                    hook(state_dict, prefix, {}, True, [], [], [])
                saved.setdefault(m, m._load_state_dict_pre_hooks)

            visit(self, "")
            for m in saved:
                m._load_state_dict_pre_hooks = OrderedDict()
            try:
                return orig(self, state_dict, strict=strict, assign=assign)
            finally:
                for m, hooks in saved.items():
                    m._load_state_dict_pre_hooks = hooks
        return f

    wrap(nn.Module, "load_state_dict", load_state_dict)


@brk("hooks.load_post_hooks_see_final_keys", "test_hooks.py", "test_generated_graph_load_state_dict_hooks")
def _():
    """Every load post-hook runs at the end of the load and sees its final missing and unexpected keys."""
    def load_state_dict(orig):
        def f(self, state_dict, strict=True, assign=False):
            deferred, saved = [], {}
            for m in self.modules():
                saved[m] = m._load_state_dict_post_hooks
                m._load_state_dict_post_hooks = OrderedDict(
                    (k, lambda mod, keys, hook=hook: deferred.append((hook, mod))) for k, hook in saved[m].items())
            try:
                result = orig(self, state_dict, strict=False, assign=assign)
            finally:
                for m, hooks in saved.items():
                    m._load_state_dict_post_hooks = hooks
            for hook, mod in deferred:
                hook(mod, result)
            found = (("Missing", result.missing_keys), ("Unexpected", result.unexpected_keys))
            msgs = [f"{what} key(s) in state_dict: {', '.join(f'{chr(34)}{k}{chr(34)}' for k in keys)}. "
                    for what, keys in found if keys]
            if strict and msgs:
                raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(msgs))
            return result
        return f

    wrap(nn.Module, "load_state_dict", load_state_dict)
