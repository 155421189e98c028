"""torch.func.functional_call (and nn.utils.stateless.functional_call) replaces a module's tensors
for one call only: "Performs a functional call on the module by replacing the module parameters
and buffers with the provided ones." When a module is registered under two names and the
replacement dict names its parameter under both paths, the replacement stays in the module after
the call: the second path's "original" is read after the first path has already been replaced,
so restoring puts the replacement back.

Exits 0 while the module keeps the replacement, 1 once it holds its own parameter again.
"""
import torch
from torch import nn


class Holder(nn.Module):
    def forward(self, x):
        return x + self.p


class Twice(nn.Module):
    def forward(self, x):
        return self.b(self.a(x))


inner = Holder()
own = nn.Parameter(torch.zeros(()))
inner.register_parameter("p", own)
root = Twice()
root.add_module("a", inner)
root.add_module("b", inner)  # the same module under a second name

replacement = torch.ones(())
out = torch.func.functional_call(root, {"a.p": replacement, "b.p": replacement}, (torch.zeros(()),), tie_weights=True)
print("the call computed", out.item(), "(2.0 with the replacement)")
holds = inner.p
print("after the call, inner.p is its own parameter:", holds is own, "| is the replacement:", holds is replacement)
reproduced = holds is not own
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
