"""torch.fx.symbolic_trace returns a GraphModule that keeps neither the traced module's plain
attributes (here the list ``log`` that the module's forward and its hooks append to) nor the Python
side effects of its forward: the GraphModule's forward is the recorded graph, so ``log.append`` ran
once, while tracing, and never when the GraphModule is called. A hook registered on the
GraphModule that reads ``m.log`` raises AttributeError, and the forward call leaves no trace.

Exits 0 while this holds, 1 once the GraphModule keeps the attribute and runs the side effect."""
import torch
from torch import nn


class Identity(nn.Module):
    def __init__(self):
        super().__init__()
        self.log = []

    def forward(self, x):
        self.log.append("forward")
        return x


root = Identity()
g = torch.fx.symbolic_trace(root)
print("type:", type(g).__mro__[1].__name__, "named", type(g).__name__)
print("root.log after tracing:", root.log)
kept = hasattr(g, "log")
print("GraphModule has 'log':", kept)
g.register_forward_pre_hook(lambda m, args: m.log.append("pre"))
try:
    g(torch.zeros(1))
    hook_error = None
except AttributeError as e:
    hook_error = repr(e)
print("calling it with a hook that reads m.log:", hook_error)
other = Identity()
traced = torch.fx.symbolic_trace(other)  # no hook on this one
after_trace = list(other.log)
for _ in range(3):
    traced(torch.zeros(1))
print("log after tracing:", after_trace, "after three calls of the GraphModule:", other.log)
ran_at_call = other.log != after_trace
reproduced = not kept and hook_error is not None and not ran_at_call
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
