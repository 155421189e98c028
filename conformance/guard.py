"""Global state the suite must leave as it found it: snapshot, compare, restore.

Covers the ``torch.__future__`` conversion flags, the default dtype and device, grad mode,
torch's global module hooks and the CPU RNG.
"""
from __future__ import annotations

import torch
import torch.nn.modules.module as module_mod

HOOK_DICTS = sorted(
    name for name, value in vars(module_mod).items() if name.startswith("_global_") and isinstance(value, dict)
)


def snapshot() -> dict:
    return {
        "torch.__future__ overwrite flag": torch.__future__.get_overwrite_module_params_on_conversion(),
        "torch.__future__ swap flag": torch.__future__.get_swap_module_params_on_conversion(),
        "default dtype": torch.get_default_dtype(),
        "default device": str(torch.get_default_device()),
        "grad mode": torch.is_grad_enabled(),
        **{f"global hooks {name}": dict(getattr(module_mod, name)) for name in HOOK_DICTS},
        "CPU RNG state": torch.get_rng_state(),
    }


def _same(a, b) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def leaks(before: dict, after: dict) -> list[str]:
    return [key for key in before if not _same(before[key], after[key])]


def restore(state: dict) -> None:
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
