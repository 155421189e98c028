"""A ParameterList/ParameterDict slot that held a non-Parameter and is then given a Parameter is
registered at the end of _parameters: named_parameters()/state_dict() leave list/key order.

Exits 0 while either container still leaves its order, 1 once both follow it."""
import torch
from torch import nn

t0, t1 = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.ones(1))
pl = nn.ParameterList([0, t1])
pl[0] = t0
pl_names, pl_keys = [n for n, _ in pl.named_parameters()], list(pl.state_dict())
print("ParameterList([0, t1]); pl[0] = t0 -> named_parameters", pl_names,
      "state_dict", pl_keys, "; expected ['0', '1']")
pd = nn.ParameterDict([("b", 0), ("a", t1)])
pd["b"] = t0
pd_keys, pd_names = list(pd.keys()), [n for n, _ in pd.named_parameters()]
print("ParameterDict([('b', 0), ('a', t1)]); pd['b'] = t0 -> keys", pd_keys,
      "named_parameters", pd_names, "; expected ['b', 'a']")
reproduced = (pl_names != ["0", "1"] or pl_keys != ["0", "1"]
              or pd_keys != ["b", "a"] or pd_names != ["b", "a"])

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
