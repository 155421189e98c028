"""torch.export leaves a WeakIdRef on every parameter/buffer of the exported root (the fake-tensor
MetaTensorDescriber's lookup table, kept alive by the exported graph's fake values), and the
unlifted module reuses those very tensors; torch.utils.swap_tensors refuses tensors with weakrefs,
so with set_swap_module_params_on_conversion(True) every move/dtype conversion (and a swapping
load_state_dict) of the exported module raises, where eager swaps fine."""
import weakref

import torch
from torch import nn


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.p0 = nn.Parameter(torch.ones(2))

    def forward(self, x):
        return x + self.p0.sum()


eager = Root()
print("weakrefs before export:", weakref.getweakrefcount(eager.p0))
root = torch.export.export(eager, (torch.zeros(1),)).module()
print("weakrefs after export:", weakref.getweakrefcount(root.p0), "same Parameter:", root.p0 is eager.p0)
torch.__future__.set_swap_module_params_on_conversion(True)
try:
    Root().double()
    eager_ok = True
except RuntimeError as e:
    eager_ok = False
    print("eager:", repr(e))
try:
    root.double()
    failed = False
    print("exported: double() worked")
except RuntimeError as e:
    failed = True
    print("exported:", repr(e))
finally:
    torch.__future__.set_swap_module_params_on_conversion(False)
reproduced = eager_ok and failed
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
