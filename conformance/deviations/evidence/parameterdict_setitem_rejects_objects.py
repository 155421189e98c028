"""ParameterDict: `pd[k] = obj` over a key that holds a Parameter raises TypeError, where a dict
(and ParameterDict for a new key) stores the object."""
import torch
from torch import nn

pd = nn.ParameterDict({"a": torch.zeros(1)})
try:
    pd["a"] = 7
    print("pd['a'] =", pd["a"])
except TypeError as exc:
    print("nn.ParameterDict({'a': torch.zeros(1)})['a'] = 7 raised TypeError:", exc, "; a dict stores 7")
