"""torch.fx.symbolic_trace builds a GraphModule that holds only the call_module/get_attr targets its
traced forward reads, each under the first qualified name the tracer finds (GraphModule.__init__ ->
_copy_attr). Members forward never reads (unused children, empty modules, None slots, plain attributes) and the
second names of shared modules and tied parameters are missing, so traversal, state_dict, load,
get_submodule/setattr paths, apply/train and conversions see a different tree than the module."""
import torch
import torch.nn as nn


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x)


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.ones(2))
        self.register_parameter("none_p", None)  # a None slot
        self.register_module("none_m", None)  # a None child
        self.inner = Inner()
        self.alias = self.inner  # the same module under a second name
        self.tied = self.p  # the same parameter under a second name
        self.unused = nn.Linear(2, 2)  # never read by forward
        self.empty = nn.Module()  # nothing to read
        self.note = 3  # a plain attribute

    def forward(self, x):
        return self.alias(x) + self.p + self.tied


root = Root()
g = torch.fx.symbolic_trace(root)
eager_mods = [n for n, _ in root.named_modules(remove_duplicate=False)]
fx_mods = [n for n, _ in g.named_modules(remove_duplicate=False)]
eager_params = [n for n, _ in root.named_parameters(remove_duplicate=False)]
fx_params = [n for n, _ in g.named_parameters(remove_duplicate=False)]
print("eager named_modules:", eager_mods)
print("fx    named_modules:", fx_mods)
print("eager named_parameters:", eager_params)
print("fx    named_parameters:", fx_params)
print("eager state_dict:", list(root.state_dict()))
print("fx    state_dict:", list(g.state_dict()))
missing = [n for n in ("none_p", "none_m", "alias", "tied", "unused", "empty", "note") if not hasattr(g, n)]
print("names missing on the GraphModule:", missing)
try:
    g.get_submodule("unused")
    raised = False
except AttributeError as e:
    print("get_submodule('unused'):", repr(e))
    raised = True
reproduced = (fx_mods == ["", "inner", "inner.lin"] and fx_params == ["p", "inner.lin.weight", "inner.lin.bias"]
              and len(missing) == 7 and raised)
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
