"""A ParameterList/ParameterDict slot that held a non-Parameter and is then given a Parameter is
registered at the end of _parameters: named_parameters()/state_dict() leave list/key order."""
import torch
from torch import nn

t0, t1 = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.ones(1))
pl = nn.ParameterList([0, t1])
pl[0] = t0
print("ParameterList([0, t1]); pl[0] = t0 -> named_parameters", [n for n, _ in pl.named_parameters()],
      "state_dict", list(pl.state_dict()), "; expected ['0', '1']")
pd = nn.ParameterDict([("b", 0), ("a", t1)])
pd["b"] = t0
print("ParameterDict([('b', 0), ('a', t1)]); pd['b'] = t0 -> keys", list(pd.keys()),
      "named_parameters", [n for n, _ in pd.named_parameters()], "; expected ['b', 'a']")
