"""With the default settings, to('meta') replaces every Parameter object and unties tied parameters.

For CPU->CUDA, Module._apply keeps each Parameter and sets ``param.data``; for meta it cannot, because
``torch._has_compatible_shallow_copy_type`` is False for CPU and meta tensors, so it takes the
"overwrite" path: a new Parameter per (module, name).

Exits 0 while to('meta') still replaces the Parameter or unties the tie, 1 once it does neither.
"""
import torch
from torch import nn

m = nn.Module()
m.a, m.b = nn.Linear(2, 2), nn.Linear(2, 2)
m.b.weight = m.a.weight
weight = m.a.weight
print("compatible shallow copy cpu/meta:", torch._has_compatible_shallow_copy_type(torch.zeros(1), torch.zeros(1, device="meta")))
m.to("meta")
same, tied = m.a.weight is weight, m.a.weight is m.b.weight
print("m.a.weight is the same Parameter after to('meta'):", same, "(expected True)")
print("m.a.weight is m.b.weight after to('meta'):", tied, "(expected True)")
reproduced = not same or not tied

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
