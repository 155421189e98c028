"""ParameterDict: `pd[k] = obj` over a key that holds a Parameter raises TypeError, where a dict
(and ParameterDict for a new key) stores the object.

Exits 0 while the assignment still raises (or does not store 7), 1 once pd['a'] is 7."""
import torch
from torch import nn

pd = nn.ParameterDict({"a": torch.zeros(1)})
try:
    pd["a"] = 7
    print("pd['a'] =", pd["a"])
    reproduced = not (isinstance(pd["a"], int) and pd["a"] == 7)
except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: TypeError)
    print(f"nn.ParameterDict({{'a': torch.zeros(1)}})['a'] = 7 raised {type(exc).__name__}:", exc, "; a dict stores 7")
    reproduced = True

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
