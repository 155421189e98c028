"""ExportedProgram.module() re-creates the module hierarchy from the graph signature's qualified
names (_assign_attr in torch/export/_unlift.py): a module held at two paths comes back as two
distinct modules, so named_modules() lists the second path too ("Duplicate modules are returned
only once" no longer holds for it)."""
import torch
from torch import nn


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(1, 1)
        self.b = nn.ModuleList([self.a, self.a])  # the same module at a, b.0 and b.1

    def forward(self, x):
        return self.a(x) + self.b[0](x) + self.b[1](x)


root = Root()
unlifted = torch.export.export(root, (torch.zeros(1),)).module()
eager = [n for n, _ in root.named_modules()]
exported = [n for n, _ in unlifted.named_modules() if n != "_guards_fn"]
print("eager named_modules():   ", eager)
print("exported named_modules():", exported)
print("unlifted.a is unlifted.b.get_submodule('0'):", unlifted.a is unlifted.b.get_submodule("0"))
if eager == ["", "a", "b"] and len(exported) > len(eager):
    print("REPRODUCED")
    raise SystemExit(0)
print("NOT REPRODUCED")
raise SystemExit(1)
