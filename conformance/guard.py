"""Global state the suite must leave as it found it: snapshot, compare, restore.

Covers the ``torch.__future__`` conversion flags, the default dtype and device, grad mode,
torch's global module hooks, the CPU RNG, the torch-function and dispatch mode stacks (a mode
entered and never exited), the own attributes of ``nn.Module`` and ``nn.Parameter`` (a patched
method: compared by identity), deterministic-algorithms and anomaly mode, and the intra-op
thread count.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.modules.module as module_mod
from torch.overrides import _get_current_function_mode_stack
from torch.utils import _python_dispatch
from torch.utils._device import DeviceContext

HOOK_DICTS = sorted(
    name for name, value in vars(module_mod).items() if name.startswith("_global_") and isinstance(value, dict)
)
PATCHABLE = (torch.nn.Module, torch.nn.Parameter)  # classes whose methods a test could patch
CACHES = {"__slotnames__"}  # class attributes Python itself adds on first use (copyreg, for pickle and swap_tensors)


class _Attributes(dict):
    """A class's own attributes, compared by identity: a patched method is another object."""

    def __eq__(self, other):
        return isinstance(other, dict) and self.keys() == other.keys() and all(self[k] is other[k] for k in self)

    __hash__ = None


def _attributes(cls) -> _Attributes:
    return _Attributes((k, v) for k, v in vars(cls).items() if k not in CACHES)


def _function_modes() -> list:
    """Torch-function modes entered, less the default device's (``default device`` covers that)."""
    return [m for m in _get_current_function_mode_stack() if not isinstance(m, DeviceContext)]


@contextlib.contextmanager
def _no_modes():
    """Read and compare state with no mode active: a leaked mode may refuse every op."""
    with _python_dispatch._disable_current_modes(), torch._C.DisableTorchFunction():
        yield


def _default_device() -> str:
    """``torch.get_default_device()`` without its ``torch.tensor([])`` (which a leaked mode may refuse)."""
    mode = next((m for m in reversed(_get_current_function_mode_stack()) if isinstance(m, DeviceContext)), None)
    mode = mode or getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None)
    return str(mode.device) if mode is not None else "cpu"


def snapshot() -> dict:
    modes = {  # read with modes active: the default device is a mode
        "default device": _default_device(),
        "torch function modes": _Attributes(enumerate(_function_modes())),
        "torch dispatch modes": _Attributes(enumerate(_python_dispatch._get_current_dispatch_mode_stack())),
    }
    with _no_modes():
        return {**_state(), **modes}


def _state() -> dict:
    return {
        "torch.__future__ overwrite flag": torch.__future__.get_overwrite_module_params_on_conversion(),
        "torch.__future__ swap flag": torch.__future__.get_swap_module_params_on_conversion(),
        "default dtype": torch.get_default_dtype(),
        "grad mode": torch.is_grad_enabled(),
        **{f"global hooks {name}": dict(getattr(module_mod, name)) for name in HOOK_DICTS},
        "CPU RNG state": torch.get_rng_state(),
        **{f"{cls.__module__}.{cls.__qualname__} attributes": _attributes(cls) for cls in PATCHABLE},
        "deterministic algorithms": (torch.are_deterministic_algorithms_enabled(),
                                     torch.is_deterministic_algorithms_warn_only_enabled()),
        "anomaly mode": (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
        "thread count": torch.get_num_threads(),
    }


def _same(a, b) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def leaks(before: dict, after: dict) -> list[str]:
    with _no_modes():
        return [key for key in before if not _same(before[key], after[key])]


def _restore_modes(state: dict) -> None:
    saved = list(state["torch function modes"].values())
    if _function_modes() != saved or any(a is not b for a, b in zip(_function_modes(), saved)):
        stack = [torch.overrides._pop_mode() for _ in range(torch._C._len_torch_function_stack())][::-1]
        for mode in [m for m in stack if isinstance(m, DeviceContext)] + saved:  # the default device's stays at the bottom
            torch.overrides._push_mode(mode)
    saved = list(state["torch dispatch modes"].values())
    current = _python_dispatch._get_current_dispatch_mode_stack()
    if len(current) != len(saved) or any(a is not b for a, b in zip(current, saved)):
        while _python_dispatch._get_current_dispatch_mode_stack():
            _python_dispatch._pop_mode()
        for mode in saved:
            _python_dispatch._push_mode(mode)


def _restore_attributes(cls, saved: dict) -> None:
    current = _attributes(cls)
    for name in current.keys() - saved.keys():
        delattr(cls, name)
    for name, value in saved.items():
        if current.get(name) is not value:
            setattr(cls, name, value)


def restore(state: dict) -> None:
    _restore_modes(state)
    torch.__future__.set_overwrite_module_params_on_conversion(state["torch.__future__ overwrite flag"])
    torch.__future__.set_swap_module_params_on_conversion(state["torch.__future__ swap flag"])
    torch.set_default_dtype(state["default dtype"])
    torch.set_default_device(None if state["default device"] == "cpu" else state["default device"])
    torch.set_grad_enabled(state["grad mode"])
    for name in HOOK_DICTS:
        hooks = getattr(module_mod, name)
        hooks.clear()
        hooks.update(state[f"global hooks {name}"])
    torch.set_rng_state(state["CPU RNG state"])
    for cls in PATCHABLE:
        _restore_attributes(cls, state[f"{cls.__module__}.{cls.__qualname__} attributes"])
    if state["deterministic algorithms"] != (torch.are_deterministic_algorithms_enabled(),
                                             torch.is_deterministic_algorithms_warn_only_enabled()):
        enabled, warn_only = state["deterministic algorithms"]
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    if state["anomaly mode"] != (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()):
        torch.set_anomaly_enabled(*state["anomaly mode"])
    if state["thread count"] != torch.get_num_threads():
        torch.set_num_threads(state["thread count"])
