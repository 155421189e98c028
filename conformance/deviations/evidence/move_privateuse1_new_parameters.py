"""With the default settings, a move to a PrivateUse1 device replaces every Parameter and unties ties.

Same cause as evidence/move_meta_new_parameters.py: ``torch._has_compatible_shallow_copy_type`` only
treats dense CPU/CUDA/MPS/HIP/XPU/HPU tensors as compatible, so Module._apply takes the overwrite path
for any PrivateUse1 backend. Run from the repository root: it registers the simulated accelerator
``nnsim`` (a PrivateUse1 Python backend holding CPU memory, conformance/devices.py).

Exits 0 while to('nnsim') still replaces the Parameter or unties the tie, 1 once it does neither,
2 when nnsim cannot be registered (no verdict).
"""
import sys

import torch
from torch import nn

from conformance.devices import simulated_accelerator

reason = simulated_accelerator()
if reason is not None:  # not a verdict: exit 1 would read as "fixed upstream"
    print(f"cannot run: {reason}", file=sys.stderr)
    raise SystemExit(2)
print("compatible shallow copy cpu/nnsim:", torch._has_compatible_shallow_copy_type(torch.zeros(1), torch.zeros(1).to("nnsim")))
m = nn.Module()
m.a, m.b = nn.Linear(2, 2), nn.Linear(2, 2)
m.b.weight = m.a.weight
weight = m.a.weight
m.to("nnsim")
same, tied = m.a.weight is weight, m.a.weight is m.b.weight
print("m.a.weight is the same Parameter after to('nnsim'):", same, "(expected True)")
print("m.a.weight is m.b.weight after to('nnsim'):", tied, "(expected True)")
reproduced = not same or not tied

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
