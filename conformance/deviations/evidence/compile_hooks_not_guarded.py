"""torch.compile (and Module.compile) does not guard compiled code on forward hooks of the modules a forward calls
(torch._dynamo.config.skip_nnmodule_hook_guards is True by default): code compiled for one
instance of a class without hooks on its child is reused for another instance whose child has a
forward pre-hook, which then never fires (and a hook registered on the child of an already
called compiled module never fires either). Eager torch fires it on every call ("The hook will
be called every time before forward is invoked").

Exits 0 while the child's hook does not fire under torch.compile, 1 once it does."""
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Linear(1, 1)

    def forward(self, x):
        return self.c(x) + 1


def fired(compile_):
    log = []
    first = M()
    compile_(first)(torch.zeros(1))  # compiled without hooks
    second = M()
    second.c.register_forward_pre_hook(lambda m, args: log.append("second.c pre-hook"))
    compile_(second)(torch.zeros(1))
    late = M()
    compiled = compile_(late)
    compiled(torch.zeros(1))
    late.c.register_forward_pre_hook(lambda m, args: log.append("late.c pre-hook"))
    compiled(torch.zeros(1))
    return log


def module_compile(m):
    m.compile()
    return m


seen = {"torch.compile": fired(torch.compile)}
torch._dynamo.reset()
seen["Module.compile"] = fired(module_compile)
print("hooks fired:", seen, "; expected each: ['second.c pre-hook', 'late.c pre-hook']")
reproduced = seen == {"torch.compile": [], "Module.compile": []}

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
