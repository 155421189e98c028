"""After torch.jit.script every module's Python type is RecursiveScriptModule, and nn.Module's
state_dict/load_state_dict machinery reads class-level customisations from type(self): so a
module's get_extra_state/set_extra_state are not used (no ``_extra_state`` key is saved, one given
is reported unexpected and set_extra_state is never called) and its class ``_version`` is not
written to state_dict()._metadata (always nn.Module._version, 1).

Exits 0 while both are still lost, 1 once either is kept."""
import torch
from torch import nn


class E(nn.Module):
    _version = 3

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def get_extra_state(self):
        return 5

    def set_extra_state(self, state):
        pass

    def forward(self, x):
        return x + self.w


class R(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = E()

    def forward(self, x):
        return self.e(x)


eager = R()
s = torch.jit.script(eager)
print("eager state_dict keys:", list(eager.state_dict()), "metadata:", dict(eager.state_dict()._metadata))
print("jit   state_dict keys:", list(s.state_dict()), "metadata:", dict(s.state_dict()._metadata))
print("jit load_state_dict(eager sd, strict=False):", s.load_state_dict(eager.state_dict(), strict=False))
sd = s.state_dict()
reproduced = "e._extra_state" not in sd and sd._metadata["e"]["version"] != 3

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
