"""With torch.__future__.set_swap_module_params_on_conversion(True), a conversion (here a no-op
.float()) of a ScriptModule raises RuntimeError("_apply(): Couldn't swap ...") and so does
load_state_dict: torch.utils.swap_tensors refuses the tensors because the C++ script module
holds its own reference to every parameter and buffer (use count above what swap_tensors allows).
Eager modules swap without error.

Exits 0 while the scripted module still refuses the swap, 1 once it swaps."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        return self.lin(x)


errors = {}
before = torch.__future__.get_swap_module_params_on_conversion()
torch.__future__.set_swap_module_params_on_conversion(True)
try:
    for name, make in (("eager", M), ("jit", lambda: torch.jit.script(M()))):
        for call in ("float", "load_state_dict"):
            m = make()
            try:
                m.float() if call == "float" else m.load_state_dict(M().state_dict())
                errors[name, call] = None
            except RuntimeError as e:
                errors[name, call] = str(e).splitlines()[0][:120]
            print(f"{name} {call}: {errors[name, call] or 'ok'}")
finally:
    torch.__future__.set_swap_module_params_on_conversion(before)
reproduced = (errors["eager", "float"] is None and errors["eager", "load_state_dict"] is None
              and errors["jit", "float"] is not None and errors["jit", "load_state_dict"] is not None)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
