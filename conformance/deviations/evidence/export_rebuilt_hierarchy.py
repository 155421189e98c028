"""ExportedProgram.module() (torch/export/_unlift.py) builds a new GraphModule and re-registers
only the parameters, buffers and constants of the graph signature, each under its qualified name,
through _assign_attr, which creates missing intermediate modules as plain nn.Module: children
without state, None slots and plain attributes are gone, and the remaining children lose their
class (Linear -> Module) and attributes."""
import torch
from torch import nn


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.empty = nn.Module()
        self.lin = nn.Linear(1, 1)
        self.register_parameter("none_slot", None)
        self.plain = torch.ones(1)

    def forward(self, x):
        return self.lin(x)


eager = Root()
root = torch.export.export(eager, (torch.zeros(1),)).module()
print("eager:   ", [(n, type(m).__name__) for n, m in eager.named_modules()])
print("exported:", [(n, type(m).__name__) for n, m in root.named_modules()])
print("'none_slot' in _parameters:", "none_slot" in root._parameters, " hasattr plain:", hasattr(root, "plain"))
reproduced = (not hasattr(root, "empty") and type(root.lin) is nn.Module and "none_slot" not in root._parameters
              and not hasattr(root, "plain"))
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
