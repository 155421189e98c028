"""torch.jit.script compiles Sequential.forward, which calls every child: a Sequential holding a
ModuleList (no forward) cannot be scripted (NotSupportedError), even when the root's forward never
calls it. The failed compilation leaves the Sequential's concrete type cached with a half-defined
method: scripting the same structure again in the same process fails with a different error,
"Can't redefine method: forward on class ...Sequential" (process-wide state poisoned by a failure).
Used by the jit backend's ``admits`` (not a deviation line).

Exits 0 while the second attempt still fails with "Can't redefine method", 1 otherwise."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.s = nn.Sequential(nn.Linear(2, 2), nn.ModuleList())

    def forward(self, x):
        return self.s[0](x)


errors = []
for attempt in range(2):
    try:
        torch.jit.script(M())
        errors.append("ok")
    except Exception as e:  # noqa: BLE001 - the point is which error
        errors.append(f"{type(e).__name__}: {str(e).strip().splitlines()[0][:120]}")
    print(f"attempt {attempt + 1}:", errors[-1])
reproduced = errors[0].startswith("NotSupportedError") and "Can't redefine method" in errors[1]

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
