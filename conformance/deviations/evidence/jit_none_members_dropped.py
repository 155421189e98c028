"""After torch.jit.script, members registered as None are no longer registered members: a child
slot set with add_module(name, None) is gone from _modules, and dir() leaves out None parameters
(Linear(bias=False).bias, register_parameter(name, None)), though getattr still returns None for
them (eager keeps None entries in _parameters/_modules, and nn.Module.__dir__ lists their keys).

Exits 0 while the None members are still dropped, 1 once they are kept."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1, bias=False)
        self.register_parameter("p", None)
        self.add_module("c", None)

    def forward(self, x):
        return self.lin(x)


eager = M()
s = torch.jit.script(eager)
for name, m in (("eager", eager), ("jit", s)):
    print(f"{name}: 'bias' in dir(lin): {'bias' in dir(m.lin)}; 'p' in dir(root): {'p' in dir(m)};"
          f" 'c' in root._modules: {'c' in m._modules}; getattr: {m.lin.bias}, {m.p}, {m.c}")
reproduced = "bias" not in dir(s.lin) and "p" not in dir(s) and "c" not in s._modules

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
