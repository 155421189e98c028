"""With the default settings, a move to a PrivateUse1 device replaces every Parameter and unties ties.

Same cause as evidence/move_meta_new_parameters.py: ``torch._has_compatible_shallow_copy_type`` only
treats dense CPU/CUDA/MPS/HIP/XPU/HPU tensors as compatible, so Module._apply takes the overwrite path
for any PrivateUse1 backend. Run from the repository root: it registers the simulated accelerator
``nnsim`` (a PrivateUse1 Python backend holding CPU memory, conformance/devices.py).
"""
import torch
from torch import nn

from conformance.devices import simulated_accelerator

assert simulated_accelerator() is None, simulated_accelerator()
print("compatible shallow copy cpu/nnsim:", torch._has_compatible_shallow_copy_type(torch.zeros(1), torch.zeros(1).to("nnsim")))
m = nn.Module()
m.a, m.b = nn.Linear(2, 2), nn.Linear(2, 2)
m.b.weight = m.a.weight
weight = m.a.weight
m.to("nnsim")
print("m.a.weight is the same Parameter after to('nnsim'):", m.a.weight is weight, "(expected True)")
print("m.a.weight is m.b.weight after to('nnsim'):", m.a.weight is m.b.weight, "(expected True)")
