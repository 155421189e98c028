"""torch.export.export(root, ...).module() registers an extra child `_guards_fn` (a GuardsFn, from
torch/export/_unlift.py, check_guards=True by default) on the root: it shows in children(),
named_modules(), apply(), repr() and every traversal, though the exported root had no such child."""
import torch
from torch import nn


class Root(nn.Module):
    def forward(self, x):
        return x


eager = Root()
root = torch.export.export(eager, (torch.zeros(1),)).module()
eager_names = [n for n, _ in eager.named_modules()]
names = [n for n, _ in root.named_modules()]
visits = []
root.apply(lambda m: visits.append(type(m).__name__))
print("eager named_modules:   ", eager_names)
print("exported named_modules:", names)
print("apply visits:          ", visits)
print("repr:", repr(root))
reproduced = "_guards_fn" in names and "_guards_fn" not in eager_names
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
