"""The unlifted exported module's graph inlines every child's forward (its submodules are plain
nn.Module holders of state, never called), so forward hooks registered on a child after export
never fire when the root is called, while eager calls them once per call."""
import torch
from torch import nn


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        return self.lin(x)


for name, root in [("eager", Root()), ("exported", torch.export.export(Root(), (torch.zeros(1),)).module())]:
    fired = []
    root.lin.register_forward_hook(lambda m, a, out: fired.append("lin"))
    root(torch.zeros(1))
    print(name, "hooks fired on root.lin:", fired)
reproduced = fired == []
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
