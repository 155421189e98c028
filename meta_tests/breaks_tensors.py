"""Deliberate breaks for the tensors properties (registered into meta_tests.breaks.BREAKS)."""
from __future__ import annotations

import torch
from torch import nn

from meta_tests.breaks import brk, wrap


@brk("tensors.deepcopy_views_independent", "test_tensors.py", "test_copy_storage_sharing and buffers and deepcopy")
def _():
    """copy.deepcopy copies each tensor's storage on its own: buffers that view one storage come out independent."""
    def make(original):
        def __deepcopy__(self, memo):
            if id(self) in memo:
                return memo[id(self)]
            result = original(self, {})  # a memo of its own: the storage is copied again for every view
            memo[id(self)] = result
            return result
        return __deepcopy__
    wrap(torch.Tensor, "__deepcopy__", make)


_CASTING = [False]


@brk("tensors.cast_skips_complex", "test_tensors.py", "test_cast_dtype_values")
def _():
    """Module.to(dtype) casts floating point tensors only: complex parameters and buffers keep their dtype."""
    def make_to(original):
        def to(self, *args, **kwargs):
            _CASTING[0] = torch._C._nn._parse_to(*args, **kwargs)[1] is not None
            try:
                return original(self, *args, **kwargs)
            finally:
                _CASTING[0] = False
        return to

    def make_apply(original):
        def _apply(self, fn, recurse=True):
            if _CASTING[0]:
                inner = fn
                fn = lambda t: t if t.is_complex() else inner(t)  # noqa: E731
            return original(self, fn, recurse)
        return _apply
    wrap(nn.Module, "to", make_to)
    wrap(nn.Module, "_apply", make_apply)


@brk("tensors.load_makes_contiguous", "test_tensors.py", "test_load_keeps_destination")
def _():
    """load_state_dict leaves each loaded parameter and buffer contiguous: a transposed or channels-last destination loses its layout."""
    def make(original):
        def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
            original(self, state_dict, prefix, *args, **kwargs)
            for d in (self._parameters, self._buffers):
                for name, t in d.items():
                    if t is not None and prefix + name in state_dict and not t.is_contiguous():
                        if isinstance(t, nn.Parameter):
                            t.data = t.data.contiguous()
                        else:
                            d[name] = t.contiguous()
        return _load_from_state_dict
    wrap(nn.Module, "_load_from_state_dict", make)


@brk("tensors.to_empty_ignores_device", "test_tensors.py", "test_meta_build_to_empty_load")
def _():
    """to_empty allocates on the device the tensors are on, ignoring its device argument: a graph built under torch.device('meta') stays on meta."""
    def to_empty(self, *, device, recurse=True):
        return self._apply(lambda t: torch.empty_like(t), recurse=recurse)
    nn.Module.to_empty = to_empty


@brk("tensors.memory_format_ignored", "test_tensors.py", "test_memory_format_channels_last")
def _():
    """Module.to(memory_format=...) ignores the memory format: 4-d parameters and buffers keep their layout."""
    def make(original):
        def to(self, *args, **kwargs):
            kwargs.pop("memory_format", None)
            return original(self, *args, **kwargs) if args or kwargs else self
        return to
    wrap(nn.Module, "to", make)
