"""A scripted module's LSTM/GRU submodule cannot be called from Python: nn.LSTM and nn.GRU declare
``forward`` as overloads (torch._jit_internal._overload_method), TorchScript compiles only the
overload the parent's forward uses, under a mangled name, and the RecursiveScriptModule of the
layer has no ``forward`` ("'RecursiveScriptModule' object has no attribute 'forward'"). Other
scripted layers (Linear, BatchNorm1d) are callable as submodules.

Exits 0 while the scripted LSTM submodule has no forward, 1 once it is callable."""
import torch
from torch import nn


class Caller(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x.new_zeros(1, 2))[0].sum()


results = {}
for name, layer in (("LSTM", nn.LSTM(2, 3)), ("GRU", nn.GRU(2, 3)), ("Linear", nn.Linear(2, 3))):
    scripted = torch.jit.script(Caller(layer))
    try:
        scripted.layer(torch.zeros(1, 2))
        results[name] = None
    except AttributeError as e:
        results[name] = str(e)
    print(f"{name}: {results[name] or 'callable'}")

reproduced = results["LSTM"] is not None and results["GRU"] is not None and results["Linear"] is None
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
