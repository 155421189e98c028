"""state_dict(prefix='x') files the root's _metadata under '' (prefix[:-1] drops the 'x', not a dot).

Spec sd.return_type_and_metadata: _metadata keys are "the key prefix without its trailing dot";
'x' has no trailing dot, so the root should be filed under 'x' (its keys are 'xw', 'xc.weight').

Exits 0 while the _metadata keys still differ from ['x', 'xc'], 1 once they match.
"""
import torch
from torch import nn

m = nn.Module()
m.register_parameter("w", nn.Parameter(torch.zeros(1)))
m.c = nn.Module()
sd = m.state_dict(prefix="x")
print("keys:              ", list(sd))
print("_metadata keys:    ", list(sd._metadata))
print("expected metadata: ", ["x", "xc"])
reproduced = sorted(sd._metadata) != ["x", "xc"]

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
