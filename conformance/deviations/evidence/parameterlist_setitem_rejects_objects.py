"""ParameterList accepts any object in the constructor/append, but `pl[i] = obj` over a slot that
holds a Parameter raises TypeError (Module.__setattr__ refuses a non-Parameter for a parameter name)."""
import torch
from torch import nn

pl = nn.ParameterList([torch.zeros(1)])
try:
    pl[0] = 7
    print("pl[0] =", pl[0])
except TypeError as exc:
    print("nn.ParameterList([torch.zeros(1)])[0] = 7 raised TypeError:", exc, "; a list stores 7")
