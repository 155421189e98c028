"""copy.deepcopy of a scripted module (torch.jit.script) gives every buffer a storage of its own: two
buffers that are views of one storage come back unshared, while copy.deepcopy of the eager module
keeps them views of one storage. RecursiveScriptModule.__deepcopy__ deep-copies the C++ module
(torch._C.ScriptModule.__deepcopy__), which clones each tensor on its own.

Exits 0 while the scripted copy unshares the views, 1 once it keeps them shared.
"""
import copy

import torch
from torch import nn


class M(nn.Module):
    def forward(self, x):
        return x + self.a.sum() + self.b.sum()


base = torch.arange(6.0)
m = M()
m.register_buffer("a", base[0:3])
m.register_buffer("b", base[2:5])


def ptr(t):
    return t.untyped_storage().data_ptr()


eager = copy.deepcopy(m)
scripted = copy.deepcopy(torch.jit.script(m))
print("eager deepcopy: a, b share one storage:", ptr(eager.a) == ptr(eager.b))
shared = ptr(scripted.a) == ptr(scripted.b)
print("scripted deepcopy: a, b share one storage:", shared, "(expected True)")
reproduced = not shared
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
