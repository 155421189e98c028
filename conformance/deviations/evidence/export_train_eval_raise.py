"""ExportedProgram.module() binds train and eval on the returned root to functions that raise
NotImplementedError ("Calling train() is not supported yet."), so root.train()/root.eval() (any
argument) fail, while train()/eval() on its submodules still work (partial, not absent)."""
import torch
from torch import nn


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        return self.lin(x)


root = torch.export.export(Root(), (torch.zeros(1),)).module()
errors = []
for call in ("root.train()", "root.train(False)", "root.eval()", "root.train(1)"):
    try:
        eval(call)
        print(call, "-> ok")
    except Exception as e:  # noqa: BLE001
        print(call, "->", repr(e))
        errors.append(type(e))
root.lin.train(False)
print("root.lin.train(False) works:", root.lin.training is False)
print("'train' in vars(root):", "train" in vars(root), " 'eval' in vars(root):", "eval" in vars(root))
reproduced = errors == [NotImplementedError] * 4 and root.lin.training is False
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
