"""register_module_parameter_registration_hook: "The hook will be called every time
register_parameter is invoked." register_parameter(name, None) stores None without calling it,
while register_buffer(name, None) and add_module(name, None) do call their hooks.

Exits 0 while the parameter hook still does not fire for None, 1 once it does."""
import torch
from torch.nn.modules import module as module_mod

fired = []
handles = [
    module_mod.register_module_parameter_registration_hook(lambda m, n, v: fired.append(("parameter", n))),
    module_mod.register_module_buffer_registration_hook(lambda m, n, v: fired.append(("buffer", n))),
    module_mod.register_module_module_registration_hook(lambda m, n, v: fired.append(("module", n))),
]
m = torch.nn.Module()
m.register_parameter("p", None)
m.register_buffer("b", None)
m.add_module("c", None)
for h in handles:
    h.remove()
print("fired:", fired, "; expected also ('parameter', 'p')")
reproduced = ("parameter", "p") not in fired

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
