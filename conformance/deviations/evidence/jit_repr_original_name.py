"""repr() of a ScriptModule prints every module as ``RecursiveScriptModule(original_name=<class>)``:
RecursiveScriptModule.extra_repr replaces the original class's extra_repr (Linear's
in_features=..., a user's extra_repr) and _get_name the class name, so the documented repr layout
(class name, extra_repr, children) is not kept.

Exits 0 while the repr still differs this way, 1 once it matches eager's."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def extra_repr(self):
        return "k=1"

    def forward(self, x):
        return self.lin(x)


eager = M()
s = torch.jit.script(eager)
print("eager repr:", repr(eager), sep="\n")
print("jit repr:", repr(s), sep="\n")
reproduced = repr(s) != repr(eager) and "original_name=Linear" in repr(s) and "k=1" not in repr(s)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
