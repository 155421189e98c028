"""torch.export.export(m, (torch.zeros(1),)).module() returns an unlifted GraphModule that (1) holds
only the graph signature's parameters, buffers and constants, so a plain attribute of the exported
module (here the list ``log`` its forward and hooks append to) is gone, and (2) accepts only inputs
of the example's structure: a call with a Python int, or with a keyword argument forward takes
through ``**kwargs``, raises, where the eager module takes both.

Exits 0 while this holds, 1 once the unlifted module keeps the attribute and takes such calls."""
import torch
from torch import nn


class Identity(nn.Module):
    def __init__(self):
        super().__init__()
        self.log = []

    def forward(self, x, **kwargs):
        self.log.append(("forward", kwargs))
        return x


root = Identity()
print("eager: root(1) ->", root(1), "; root(1, k=2) ->", root(1, k=2))
ep = torch.export.export(Identity(), (torch.zeros(1),)).module()
kept = hasattr(ep, "log")
print("unlifted module has 'log':", kept)
errors = {}
for name, call in (("int input", lambda: ep(1)), ("keyword argument", lambda: ep(torch.zeros(1), k=2))):
    try:
        call()
        errors[name] = None
    except Exception as e:  # noqa: BLE001 - the exception is what is shown
        errors[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    print(f"unlifted module, {name}:", errors[name])
reproduced = not kept and all(errors.values())
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
