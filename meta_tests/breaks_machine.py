"""Deliberate breaks for the machine properties (registered into meta_tests.breaks.BREAKS)."""
from __future__ import annotations

import copy
from collections import OrderedDict

from torch import nn

from meta_tests.breaks import brk, wrap


def _reorder(module, name, index):
    """Move ``name`` of ``module._modules`` to position ``index``."""
    items = list(module._modules.items())
    entry = next(e for e in items if e[0] == name)
    items.remove(entry)
    items.insert(min(index, len(items)), entry)
    module._modules.clear()
    module._modules.update(OrderedDict(items))


@brk("machine.readd_child_old_position", "test_graph_machine.py", "test_graph_operation_sequences")
def _():
    """A child deleted and registered again under its name returns to its old place instead of going last."""
    def make_del(orig):
        def delattr_(self, name):
            if name in self._modules:
                self.__dict__.setdefault("_nnc_holes", {})[name] = list(self._modules).index(name)
            return orig(self, name)
        return delattr_

    def restore(self, name):
        holes = self.__dict__.get("_nnc_holes", {})
        if name in holes and name in self._modules:
            _reorder(self, name, holes.pop(name))

    def make_add(orig):
        def add_module(self, name, module):
            orig(self, name, module)
            restore(self, name)
        return add_module

    def make_set(orig):
        def setattr_(self, name, value):
            orig(self, name, value)
            if isinstance(value, nn.Module):
                restore(self, name)
        return setattr_
    wrap(nn.Module, "__delattr__", make_del)
    wrap(nn.Module, "add_module", make_add)
    wrap(nn.Module, "__setattr__", make_set)


@brk("machine.add_module_inherits_training", "test_graph_machine.py", "test_graph_operation_sequences")
def _():
    """add_module (and assigning a Module) sets the child's training flag to its new parent's."""
    def make(orig):
        def add_module(self, name, module):
            orig(self, name, module)
            if module is not None:
                module.train(self.training)
        return add_module

    def make_set(orig):
        def setattr_(self, name, value):
            orig(self, name, value)
            if isinstance(value, nn.Module) and isinstance(self.__dict__.get("training"), bool):
                value.train(self.training)
        return setattr_
    wrap(nn.Module, "add_module", make)
    wrap(nn.Module, "__setattr__", make_set)


@brk("machine.persistent_reregistration_keeps_mark", "test_graph_machine.py", "test_graph_operation_sequences")
def _():
    """register_buffer(name, t, persistent=True) over a non-persistent buffer keeps it out of state_dict."""
    def make(orig):
        def register_buffer(self, name, tensor, persistent=True):
            was = isinstance(name, str) and name in self.__dict__.get("_non_persistent_buffers_set", ())
            orig(self, name, tensor, persistent)
            if was:
                self._non_persistent_buffers_set.add(name)
        return register_buffer
    wrap(nn.Module, "register_buffer", make)


@brk("machine.rejected_add_module_inserts", "test_graph_machine.py", "test_rejected_call_changes_nothing")
def _():
    """add_module with an empty or dotted name inserts the module before raising KeyError."""
    def make(orig):
        def add_module(self, name, module):
            if isinstance(name, str) and ("." in name or not name) and (module is None or isinstance(module, nn.Module)):
                self._modules[name] = module
            return orig(self, name, module)
        return add_module
    wrap(nn.Module, "add_module", make)


@brk("machine.rejected_register_parameter_pops", "test_graph_machine.py", "test_rejected_call_changes_nothing")
def _():
    """register_parameter(name, <not a Parameter>) removes the parameter of that name before raising TypeError."""
    def make(orig):
        def register_parameter(self, name, param):
            if param is not None and not isinstance(param, nn.Parameter) and isinstance(name, str):
                self.__dict__.get("_parameters", {}).pop(name, None)
            return orig(self, name, param)
        return register_parameter
    wrap(nn.Module, "register_parameter", make)


@brk("machine.deepcopy_resets_training", "test_graph_machine.py", "test_graph_operation_sequences")
def _():
    """copy.deepcopy of a module puts every module of the copy back in training mode."""
    def deepcopy(self, memo):
        clone = copy._reconstruct(self, memo, *self.__reduce_ex__(4))  # what copy.deepcopy does without the hook
        clone.training = True
        return clone
    nn.Module.__deepcopy__ = deepcopy
