"""torch.jit.script makes non-persistent buffers persistent: the scripted module's state_dict()
contains them and load_state_dict expects them (TorchScript has no notion of a non-persistent
buffer; registering one on a ScriptModule raises "ScriptModule does not support non-persistent
buffers").

Exits 0 while the non-persistent buffer is still in the scripted state_dict, 1 once it is not."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.register_buffer("nb", torch.zeros(1), persistent=False)

    def forward(self, x):
        return x + self.w + self.nb


eager = M()
s = torch.jit.script(eager)
print("eager state_dict keys:", list(eager.state_dict()))
print("jit   state_dict keys:", list(s.state_dict()))
print("jit load_state_dict(eager sd, strict=False):", repr(s.load_state_dict(eager.state_dict(), strict=False)))
reproduced = "nb" in s.state_dict()

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
