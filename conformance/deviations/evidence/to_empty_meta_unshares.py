"""A graph built under ``with torch.device("meta")`` with a parameter tied across two modules and a
buffer registered under two names: ``to_empty(device="cpu")`` unties the parameter and unshares the
buffer. Module._apply replaces a meta parameter by a new Parameter per (module, name) (meta and cpu
tensors are not shallow-copy compatible, so it cannot set ``.data``) and assigns
``self._buffers[key] = fn(buf)`` name by name.

Exits 0 while either sharing is lost, 1 once both are kept.
"""
import torch
from torch import nn

with torch.device("meta"):
    p = nn.Parameter(torch.zeros(2))
    b = torch.zeros(2)
    inner = nn.Module()
    inner.p = p
    inner.register_buffer("b", b)
    root = nn.Module()
    root.inner = inner
    root.p = p
    root.register_buffer("b", b)
print("built on meta: root.p is root.inner.p:", root.p is root.inner.p, "root.b is root.inner.b:", root.b is root.inner.b)
root.to_empty(device="cpu")
tied, shared = root.p is root.inner.p, root.b is root.inner.b
print(f"after to_empty(device='cpu'): root.p is root.inner.p: {tied}, root.b is root.inner.b: {shared} (expected True, True)")
reproduced = not (tied and shared)
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
