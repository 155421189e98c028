"""RecursiveScriptModule replaces every nn.Module method outside torch/jit/_script.py's
_compiled_methods_allowlist with a stub that raises RuntimeError("<name> is not supported on
ScriptModules"): get_submodule, get_parameter, get_buffer, set_submodule, requires_grad_,
bfloat16, to_empty, the forward/backward hook and state_dict/load_state_dict hook registrations.

Exits 0 while these still raise, 1 once any of them works."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        return self.lin(x)


s = torch.jit.script(M())
calls = {
    "get_submodule": lambda: s.get_submodule("lin"),
    "get_parameter": lambda: s.get_parameter("lin.weight"),
    "get_buffer": lambda: s.get_buffer("nope"),
    "set_submodule": lambda: s.set_submodule("lin", nn.Linear(1, 1)),
    "requires_grad_": lambda: s.requires_grad_(False),
    "bfloat16": lambda: s.bfloat16(),
    "to_empty": lambda: s.to_empty(device="cpu"),
    "register_forward_hook": lambda: s.register_forward_hook(lambda m, a, o: None),
    "register_state_dict_pre_hook": lambda: s.register_state_dict_pre_hook(lambda m, p, k: None),
    "register_load_state_dict_pre_hook": lambda: s.register_load_state_dict_pre_hook(lambda *a: None),
    "register_load_state_dict_post_hook": lambda: s.register_load_state_dict_post_hook(lambda *a: None),
}
unsupported = []
for name, call in calls.items():
    try:
        call()
        print(f"{name}: works")
    except RuntimeError as e:
        print(f"{name}: RuntimeError({e})")
        if "is not supported on ScriptModules" in str(e):
            unsupported.append(name)
reproduced = len(unsupported) == len(calls)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
