"""ParameterList accepts any object in the constructor/append, but `pl[i] = obj` over a slot that
holds a Parameter raises TypeError (Module.__setattr__ refuses a non-Parameter for a parameter name).

Exits 0 while the assignment still raises (or does not store 7), 1 once pl[0] is 7."""
import torch
from torch import nn

pl = nn.ParameterList([torch.zeros(1)])
try:
    pl[0] = 7
    print("pl[0] =", pl[0])
    reproduced = not (isinstance(pl[0], int) and pl[0] == 7)
except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: TypeError)
    print(f"nn.ParameterList([torch.zeros(1)])[0] = 7 raised {type(exc).__name__}:", exc, "; a list stores 7")
    reproduced = True

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
