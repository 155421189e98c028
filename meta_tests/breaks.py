"""Deliberately broken ``torch.nn.Module`` implementations, to prove the suite catches them.

Each break changes one documented behaviour with a small monkeypatch and names the conformance
file (and ``-k`` expression) that must go red under it. As a pytest plugin
(``-p meta_tests.breaks``) this module applies the break named by ``NNCONFORM_BREAK`` at
configure time, in that pytest process only::

    NNCONFORM_BREAK=apply.preorder python -m pytest conformance/test_apply_train.py -x -p meta_tests.breaks

``meta_tests/test_breaks.py`` runs every break that way and expects a ConformanceError.
"""
from __future__ import annotations

import copy
import functools
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import Phase, settings
from torch import nn

ENV = "NNCONFORM_BREAK"
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]


@dataclass(frozen=True)
class Break:
    name: str
    what: str  # the one behaviour that is broken
    target: str  # conformance file expected to go red
    select: str  # -k expression within it
    apply: Callable[[], None]
    backend: str = "eager"  # the backend the target runs on (wrapper breaks break the wrapper)


BREAKS: dict[str, Break] = {}


def brk(name: str, target: str, select: str, backend: str = "eager"):
    """Register the decorated patch function as a break; its docstring says what it breaks."""
    def register(fn):
        BREAKS[name] = Break(name, fn.__doc__.strip(), f"conformance/{target}", select, fn, backend)
        return fn
    return register


def wrap(owner, attr: str, make: Callable[[Callable], Callable]) -> None:
    """Replace ``owner.attr`` by ``make(original)``."""
    original = getattr(owner, attr)
    setattr(owner, attr, functools.wraps(original)(make(original)))


def _walk(self, memo, prefix, remove_duplicate, *, reverse=False, dot=lambda p: "." if p else ""):
    """``named_modules`` written out, with the child order and the separator as knobs."""
    if memo is None:
        memo = set()
    if self in memo:
        return
    if remove_duplicate:
        memo.add(self)
    yield prefix, self
    items = list(self._modules.items())
    for name, child in reversed(items) if reverse else items:
        if child is not None:
            yield from _walk(child, memo, prefix + dot(prefix) + name, remove_duplicate, reverse=reverse, dot=dot)


# -- traversal ----------------------------------------------------------------------------------
@brk("traversal.children_reversed", "test_traversal.py", "test_named_modules_preorder")
def _():
    """named_modules visits children in reverse registration order."""
    nn.Module.named_modules = lambda self, memo=None, prefix="", remove_duplicate=True: _walk(
        self, memo, prefix, remove_duplicate, reverse=True)


@brk("traversal.prefix_always_dotted", "test_traversal.py", "test_named_modules_prefix")
def _():
    """named_modules joins names with a dot even after an empty prefix."""
    nn.Module.named_modules = lambda self, memo=None, prefix="", remove_duplicate=True: _walk(
        self, memo, prefix, remove_duplicate, dot=lambda p: ".")


@brk("traversal.modules_not_deduplicated", "test_traversal.py", "test_modules_matches_named_modules")
def _():
    """modules() yields a shared module once per path."""
    wrap(nn.Module, "modules", lambda orig: lambda self, *a, **k: (m for _, m in self.named_modules(remove_duplicate=False)))


@brk("traversal.children_not_deduplicated", "test_traversal.py", "test_named_children")
def _():
    """named_children yields a module registered under two names twice."""
    nn.Module.named_children = lambda self: ((n, m) for n, m in self._modules.items() if m is not None)


@brk("traversal.remove_duplicate_ignored", "test_traversal.py", "test_named_parameters_remove_duplicate_false")
def _():
    """named_parameters de-duplicates even with remove_duplicate=False."""
    wrap(nn.Module, "named_parameters",
         lambda orig: lambda self, prefix="", recurse=True, remove_duplicate=True: orig(self, prefix, recurse, True))


# -- state_dict ---------------------------------------------------------------------------------
@brk("state_dict.nonpersistent_saved", "test_state_dict.py", "test_state_dict_keys")
def _():
    """state_dict includes non-persistent buffers."""
    def make(orig):
        def save(self, destination, prefix, keep_vars):
            hidden, self._non_persistent_buffers_set = self._non_persistent_buffers_set, set()
            try:
                orig(self, destination, prefix, keep_vars)
            finally:
                self._non_persistent_buffers_set = hidden
        return save
    wrap(nn.Module, "_save_to_state_dict", make)


@brk("state_dict.buffers_before_parameters", "test_state_dict.py", "test_state_dict_order")
def _():
    """state_dict puts a module's buffers before its parameters."""
    def make(orig):
        def save(self, destination, prefix, keep_vars):
            own = OrderedDict()
            orig(self, own, prefix, keep_vars)
            buffers = {prefix + name for name in self._buffers}
            for key in sorted(own, key=lambda k: k not in buffers):  # stable: order within each group kept
                destination[key] = own[key]
        return save
    wrap(nn.Module, "_save_to_state_dict", make)


@brk("state_dict.not_detached", "test_state_dict.py", "test_state_dict_values_are_detached")
def _():
    """state_dict returns the registered objects even without keep_vars=True."""
    wrap(nn.Module, "state_dict", lambda orig: lambda self, *a, keep_vars=False, **k: orig(self, *a, keep_vars=True, **k))


@brk("state_dict.metadata_root_only", "test_state_dict.py", "test_state_dict_type_and_metadata")
def _():
    """state_dict()._metadata holds only the root's entry."""
    def make(orig):
        def state_dict(self, *args, destination=None, **kwargs):
            result = orig(self, *args, destination=destination, **kwargs)
            if destination is None and not args and hasattr(result, "_metadata"):
                result._metadata = OrderedDict(list(result._metadata.items())[:1])
            return result
        return state_dict
    wrap(nn.Module, "state_dict", make)


# -- load_state_dict ----------------------------------------------------------------------------
@brk("load.strict_ignored", "test_load_state_dict.py", "test_load_strict_raises_on_key_mismatch")
def _():
    """load_state_dict(strict=True) accepts missing and unexpected keys."""
    wrap(nn.Module, "load_state_dict",
         lambda orig: lambda self, state_dict, strict=True, assign=False: orig(self, state_dict, False, assign))


@brk("load.missing_keys_unreported", "test_load_state_dict.py", "test_load_nonstrict_reports_missing_and_unexpected")
def _():
    """load_state_dict(strict=False) reports no missing keys."""
    def make(orig):
        def load(self, state_dict, strict=True, assign=False):
            result = orig(self, state_dict, strict, assign)
            return result._replace(missing_keys=[]) if not strict else result
        return load
    wrap(nn.Module, "load_state_dict", make)


@brk("load.values_not_copied", "test_load_state_dict.py",
     "test_load_copy_keeps_objects_storage_dtype or test_load_shared_object_takes_last_key")
def _():
    """load_state_dict keeps the module's own values instead of the loaded ones."""
    def make(orig):
        def load_from(self, state_dict, prefix, *args):
            for name, tensor in [*self._parameters.items(), *self._buffers.items()]:
                key = prefix + name
                given = state_dict.get(key)
                if tensor is not None and isinstance(given, torch.Tensor) and given.shape == tensor.shape:
                    state_dict[key] = tensor.detach().clone()  # the local copy load_state_dict made
            return orig(self, state_dict, prefix, *args)
        return load_from
    wrap(nn.Module, "_load_from_state_dict", make)


# -- apply, train/eval --------------------------------------------------------------------------
@brk("apply.preorder", "test_apply_train.py", "test_apply_postorder")
def _():
    """apply calls fn on a module before its children."""
    def apply(self, fn):
        fn(self)
        for child in self.children():
            child.apply(fn)
        return self
    nn.Module.apply = apply


@brk("train.not_recursive", "test_apply_train.py", "test_train_sets_every_module")
def _():
    """train(mode) sets the flag on the module only, not its descendants."""
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        return self
    nn.Module.train = train


@brk("train.eval_bypasses_train", "test_apply_train.py", "test_eval_calls_overridden_train_with_false")
def _():
    """eval() sets training=False on every module without calling train(False)."""
    def eval_(self):
        for m in self.modules():
            m.training = False
        return self
    nn.Module.eval = eval_


@brk("train.mode_not_validated", "test_apply_train.py", "test_train_rejects_non_bool")
def _():
    """train(mode) accepts a non-bool mode."""
    wrap(nn.Module, "train", lambda orig: lambda self, mode=True: orig(self, bool(mode)))


# -- registration and attributes ----------------------------------------------------------------
@brk("registration.plain_tensor_as_parameter", "test_registration.py", "test_register and register_parameter")
def _():
    """register_parameter silently wraps a plain tensor instead of raising TypeError."""
    def make(orig):
        def register_parameter(self, name, param):
            if isinstance(param, torch.Tensor) and not isinstance(param, nn.Parameter):
                param = nn.Parameter(param.detach(), requires_grad=param.requires_grad)
            return orig(self, name, param)
        return register_parameter
    wrap(nn.Module, "register_parameter", make)


@brk("registration.dotted_module_name", "test_registration.py", "test_register_rejected_names and module")
def _():
    """add_module accepts a name containing a dot."""
    def make(orig):
        def add_module(self, name, module):
            if isinstance(name, str) and "." in name and (module is None or isinstance(module, nn.Module)):
                self._modules[name] = module
                return None
            return orig(self, name, module)
        return add_module
    wrap(nn.Module, "add_module", make)


@brk("attributes.delattr_keeps_parameter", "test_attributes.py", "test_delattr_removes_name")
def _():
    """del m.p registers None under the name instead of removing it."""
    def make(orig):
        def delattr_(self, name):
            if name in self._parameters:
                self._parameters[name] = None
            else:
                orig(self, name)
        return delattr_
    wrap(nn.Module, "__delattr__", make)


@brk("attributes.dir_hides_buffers", "test_attributes.py", "test_dir_lists_member_names")
def _():
    """dir(m) leaves out buffer names."""
    wrap(nn.Module, "__dir__", lambda orig: lambda self: [k for k in orig(self) if k not in self._buffers])


# -- zero_grad, requires_grad_, copies ----------------------------------------------------------
@brk("grad.zero_grad_keeps_tensors", "test_grad_and_copy.py", "test_zero_grad_set_to_none")
def _():
    """zero_grad() fills grads with zeros instead of setting them to None."""
    wrap(nn.Module, "zero_grad", lambda orig: lambda self, set_to_none=True: orig(self, False))


@brk("grad.requires_grad_argument_ignored", "test_grad_and_copy.py", "test_requires_grad_")
def _():
    """requires_grad_(False) turns requires_grad on."""
    wrap(nn.Module, "requires_grad_", lambda orig: lambda self, requires_grad=True: orig(self, True))


@brk("copy.deepcopy_loses_sharing", "test_grad_and_copy.py", "test_copy_preserves_sharing and deepcopy")
def _():
    """deepcopy copies each attribute with a fresh memo: objects shared across modules are duplicated."""
    def deepcopy(self, memo):
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            clone.__dict__[key] = copy.deepcopy(value, {})
        return clone
    nn.Module.__deepcopy__ = deepcopy


# -- containers ---------------------------------------------------------------------------------
@brk("containers.sequential_len_off_by_one", "test_containers.py", "test_sequential_index_len_iteration")
def _():
    """len(Sequential) counts one module too many."""
    wrap(nn.Sequential, "__len__", lambda orig: lambda self: orig(self) + 1)


@brk("containers.modulelist_insert_after", "test_containers.py", "modulelist and (insert or mutations)")
def _():
    """ModuleList.insert(i, m) inserts after index i."""
    wrap(nn.ModuleList, "insert", lambda orig: lambda self, index, module: orig(self, index + 1, module))


@brk("containers.moduledict_update_sorted", "test_containers.py", "test_moduledict_keeps_insertion_order")
def _():
    """ModuleDict.update inserts the new keys in sorted order."""
    def make(orig):
        def update(self, modules):
            pairs = list(modules.items()) if hasattr(modules, "items") else list(modules)
            return orig(self, sorted(pairs, key=lambda kv: kv[0]))
        return update
    wrap(nn.ModuleDict, "update", make)


# -- dtype and device moves ---------------------------------------------------------------------
@brk("dtype.float_family_casts_integers", "test_dtype.py", "test_float_family_casts_floating_only and default")
def _():
    """float(), double(), half() and bfloat16() cast integer and bool tensors too."""
    for method, dtype in (("float", torch.float32), ("double", torch.float64), ("half", torch.float16),
                          ("bfloat16", torch.bfloat16)):
        setattr(nn.Module, method, lambda self, dtype=dtype: self._apply(lambda t: t.to(dtype)))


@brk("dtype.to_replaces_parameters", "test_dtype.py", "test_parameter_objects and default")
def _():
    """to() replaces Parameters by new objects by default, as if the overwrite flag were set."""
    torch.__future__.get_overwrite_module_params_on_conversion = lambda: True


@brk("devices.to_ignores_device", "test_devices.py", "test_move_lands")
def _():
    """to(device) leaves the tensors where they are."""
    def make(orig):
        def to(self, *args, **kwargs):
            _, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*args, **kwargs)
            return orig(self, dtype, non_blocking) if dtype is not None else self
        return to
    wrap(nn.Module, "to", make)


@brk("devices.cpu_does_nothing", "test_devices.py", "test_named_method_moves_like_to")
def _():
    """cpu() returns self without moving anything."""
    nn.Module.cpu = lambda self: self


@brk("devices.buffers_stay", "test_devices.py", "test_move_lands")
def _():
    """Module._apply moves parameters but leaves buffers where they are."""
    def make(orig):
        def _apply(self, fn, recurse=True):
            buffers = {id(b) for b in self._buffers.values() if b is not None}
            return orig(self, lambda t: t if id(t) in buffers else fn(t), recurse)
        return _apply
    wrap(nn.Module, "_apply", make)


@brk("devices.plain_attributes_move", "test_devices.py", "test_move_lands")
def _():
    """to(device) also moves plain (unregistered) tensor attributes."""
    def make(orig):
        def to(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            device = torch._C._nn._parse_to(*args, **kwargs)[0]
            for m in self.modules() if device is not None else ():
                for k, v in list(vars(m).items()):
                    if isinstance(v, torch.Tensor):
                        m.__dict__[k] = v.to(device)
            return out
        return to
    wrap(nn.Module, "to", make)


@brk("devices.to_empty_casts", "test_devices.py", "test_meta_to_empty_load_restores")
def _():
    """to_empty() also casts floating tensors to float32."""
    wrap(nn.Module, "to_empty", lambda orig: lambda self, *, device, recurse=True: orig(self, device=device, recurse=recurse).float())


@brk("devices.non_blocking_ignored", "test_devices.py", "test_non_blocking_same_after_sync")
def _():
    """to(..., non_blocking=True) returns without moving anything."""
    wrap(nn.Module, "to", lambda orig: lambda self, *a, **k: self if k.get("non_blocking") else orig(self, *a, **k))


@brk("hooks.prepend_ignored", "test_hooks.py", "test_hook_order_prepend_global_remove")
def _():
    """register_forward_pre_hook ignores prepend=True."""
    wrap(nn.Module, "register_forward_pre_hook",
         lambda orig: lambda self, hook, *, prepend=False, **kwargs: orig(self, hook, **kwargs))


@brk("hooks.forward_hook_result_ignored", "test_hooks.py", "test_hook_return_values")
def _():
    """Forward hooks run, but what they return no longer replaces the output."""
    wrap(nn.Module, "register_forward_hook",
         lambda orig: lambda self, hook, **kwargs: orig(self, lambda *a: (hook(*a), None)[1], **kwargs))


# -- wrapper backends: the wrapper stops forwarding to the wrapped module -------------------------
@brk("wrapper.compile.train_not_forwarded", "test_apply_train.py", "test_train_sets_every_module", "compile")
def _():
    """torch.compile's OptimizedModule.train(mode) sets its own flag only, not the wrapped module's children."""
    from torch._dynamo.eval_frame import OptimizedModule

    def train(self, mode=True):
        self._orig_mod.__dict__["training"] = mode
        return self
    OptimizedModule.train = train


@brk("wrapper.ddp.train_not_forwarded", "test_apply_train.py", "test_train_sets_every_module", "ddp")
def _():
    """DistributedDataParallel.train(mode) sets the wrapper's flag without calling Module.train on the module."""
    from torch.nn.parallel import DistributedDataParallel

    def train(self, mode=True):
        self.__dict__["training"] = mode
        return self
    DistributedDataParallel.train = train


@brk("wrapper.ddp.to_not_forwarded", "test_dtype.py", "test_float_family_casts_floating_only", "ddp")
def _():
    """DistributedDataParallel converts nothing: its _apply returns without visiting the wrapped module."""
    from torch.nn.parallel import DistributedDataParallel

    DistributedDataParallel._apply = lambda self, fn, recurse=True: self


@brk("wrapper.module-compile.adds_state", "test_state_dict.py", "test_state_dict_keys", "module-compile")
def _():
    """Module.compile() registers a buffer of its own, which then shows in state_dict()."""
    wrap(nn.Module, "compile", lambda orig: lambda self, *a, **k: (
        orig(self, *a, **k), self.register_buffer("compiled_marker", torch.zeros(1)))[0])


@brk("wrapper.fx.zero_grad_ignored", "test_grad_and_copy.py", "test_zero_grad_set_to_none", "fx")
def _():
    """torch.fx's GraphModule.zero_grad() returns without touching its parameters' gradients."""
    torch.fx.GraphModule.zero_grad = lambda self, set_to_none=True: None


@brk("wrapper.export.zero_grad_ignored", "test_grad_and_copy.py", "test_zero_grad_in_place", "export")
def _():
    """The module torch.export's ExportedProgram.module() returns ignores zero_grad()."""
    original = torch.export.ExportedProgram.module

    def module(self, *args, **kwargs):
        root = original(self, *args, **kwargs)
        root.zero_grad = lambda set_to_none=True: None
        return root
    torch.export.ExportedProgram.module = module


@brk("wrapper.jit.zero_grad_ignored", "test_grad_and_copy.py", "test_zero_grad_set_to_none", "jit")
def _():
    """torch.jit's RecursiveScriptModule.zero_grad() returns without touching the gradients."""
    torch.jit.RecursiveScriptModule.zero_grad = lambda self, set_to_none=True: None


# -- the plugin ---------------------------------------------------------------------------------
def pytest_configure(config):
    name = os.environ.get(ENV)
    if not name:
        return
    if name not in BREAKS:
        raise pytest.UsageError(f"{ENV}={name!r} is not a known break; choose one of {', '.join(BREAKS)}")
    BREAKS[name].apply()


def pytest_sessionstart(session):
    # A break run only has to fail: skip shrinking, which is most of the time a failing test takes.
    if os.environ.get(ENV):
        settings.register_profile("nnconform-break", parent=settings.default, phases=NO_SHRINK)
        settings.load_profile("nnconform-break")


def pytest_terminal_summary(terminalreporter):
    # The summary, unlike the header, is printed under -q too.
    name = os.environ.get(ENV)
    if name in BREAKS:
        terminalreporter.write_line(f"nnconform: deliberately broken: {name} ({BREAKS[name].what})")


# -- issue 13 part 3: the API gaps filled --------------------------------------------------------
@brk("hooks.backward_prepend_ignored", "test_hooks.py", "test_generated_graph_backward_hooks_order")
def _():
    """register_full_backward_hook and register_full_backward_pre_hook ignore prepend=True."""
    for attr in ("register_full_backward_hook", "register_full_backward_pre_hook"):
        wrap(nn.Module, attr, lambda original: lambda self, hook, prepend=False: original(self, hook, prepend=False))


@brk("hooks.backward_pre_hook_not_called", "test_hooks.py", "test_generated_graph_backward_hooks_order")
def _():
    """register_full_backward_pre_hook returns a handle but the hook never fires."""
    wrap(nn.Module, "register_full_backward_pre_hook",
         lambda original: lambda self, hook, prepend=False: original(self, lambda *a: None, prepend=prepend))


@brk("containers.pd_get_ignores_default", "test_containers.py", "test_parameterdict_get_default")
def _():
    """ParameterDict.get returns None for a missing key whatever the default."""
    wrap(nn.ParameterDict, "get", lambda original: lambda self, key, default=None: original(self, key))


@brk("containers.pl_extra_repr_dict_layout", "test_containers.py", "test_parameter_container_extra_repr")
def _():
    """ParameterList.extra_repr names tensors by type name (ParameterDict's layout), not by dtype."""
    nn.ParameterList.extra_repr = lambda self: nn.ParameterDict.extra_repr(
        nn.ParameterDict({str(i): p for i, p in enumerate(self)}))


@brk("state_dict.functional_call_keeps_values", "test_state_dict.py", "test_functional_call_replaces_temporarily")
def _():
    """functional_call leaves the replacement tensors in the module."""
    from torch.nn.utils import stateless
    from torch.nn.utils._named_member_accessor import NamedMemberAccessor

    def make(original):
        def functional_call(module, parameters_and_buffers, *args, **kwargs):
            out = original(module, parameters_and_buffers, *args, **kwargs)
            NamedMemberAccessor(module).swap_tensors_dict(dict(parameters_and_buffers), allow_missing=True)
            return out
        return functional_call
    wrap(stateless, "functional_call", make)


@brk("state_dict.functional_call_ignores_strict", "test_state_dict.py", "test_functional_call_replaces_temporarily")
def _():
    """functional_call ignores strict=True: missing keys are accepted."""
    from torch.nn.utils import stateless

    def make(original):
        def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False):
            return original(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=False)
        return functional_call
    wrap(stateless, "functional_call", make)


@brk("state_dict.get_extra_state_default_returns", "test_state_dict.py", "test_extra_state_direct_calls")
def _():
    """Module.get_extra_state returns None instead of raising for a class without extra state."""
    nn.Module.get_extra_state = lambda self: None


@brk("state_dict.set_extra_state_default_silent", "test_state_dict.py", "test_extra_state_direct_calls")
def _():
    """Module.set_extra_state accepts any state silently instead of raising."""
    nn.Module.set_extra_state = lambda self, state: None


@brk("attributes.extra_repr_default_not_empty", "test_attributes.py", "test_extra_repr_default_is_empty")
def _():
    """Module.extra_repr() returns the class name instead of the empty string."""
    nn.Module.extra_repr = lambda self: type(self).__name__


# Breaks of later areas live in their own modules and register here (imported last: they use brk).
from meta_tests import breaks_hooks, breaks_layers, breaks_machine, breaks_mlx, breaks_paddle, breaks_tensors  # noqa: E402,F401
