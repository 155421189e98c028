"""torch.jit.script turns a submodule held at two paths into two distinct RecursiveScriptModule
objects (their parameters stay shared): named_modules/modules/named_children/apply yield it twice,
where eager yields it once ("Duplicate modules are returned only once by default").

Exits 0 while the shared submodule is still split in two, 1 once it is kept as one object."""
import torch
from torch import nn


class R(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.Linear(1, 1)
        self.a = shared
        self.b = shared

    def forward(self, x):
        return self.b(self.a(x))


eager = R()
s = torch.jit.script(eager)
print("eager named_modules:", [n for n, _ in eager.named_modules()])
print("jit   named_modules:", [n for n, _ in s.named_modules()])
print("jit: s.a is s.b:", s.a is s.b, "; s.a.weight is s.b.weight:", s.a.weight is s.b.weight)
reproduced = s.a is not s.b and len(list(s.modules())) != len(list(eager.modules()))

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
