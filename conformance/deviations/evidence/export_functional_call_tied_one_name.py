"""ExportedProgram.module() reads a tensor held under several names (tied parameters, shared
buffers) through one signature name, the first the exporter found: torch.func.functional_call
with tie_weights=False that gives each name its own tensor computes with the first name's tensor
for every read, where the eager module reads each name's own."""
import torch
from torch import nn
from torch.func import functional_call


class Inner(nn.Module):
    def forward(self, x):
        return x + self.p


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()
        self.p = nn.Parameter(torch.zeros(()))
        self.inner.p = self.p  # the same Parameter under a second name

    def forward(self, x):
        return self.inner(x) + self.p


root = Root()
unlifted = torch.export.export(root, (torch.zeros(1),)).module()
given = {"inner.p": torch.full((), 1.0), "p": torch.full((), 10.0)}
eager = functional_call(root, given, (torch.zeros(1),), tie_weights=False)
exported = functional_call(unlifted, given, (torch.zeros(1),), tie_weights=False)
print("eager   :", eager.tolist(), "(inner.p=1 + p=10)")
print("exported:", exported.tolist())
if eager.tolist() == [11.0] and exported.tolist() != eager.tolist():
    print("REPRODUCED")
    raise SystemExit(0)
print("NOT REPRODUCED")
raise SystemExit(1)
