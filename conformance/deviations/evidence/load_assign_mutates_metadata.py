"""load_state_dict(sd, assign=True) writes 'assign_to_params_buffers' into the caller's sd._metadata.

Doc (_load_from_state_dict): "state_dict is not the same object as the input state_dict to
load_state_dict. So it can be modified." -- the caller's input is not to be modified; torch sets
the flag inside the caller's per-module metadata dicts.

Exits 0 while the caller's sd._metadata still changes, 1 once it is left as it was.
"""
from torch import nn

m = nn.Linear(1, 1)
sd = m.state_dict()
before = {k: dict(v) for k, v in sd._metadata.items()}  # copies: torch mutates the inner dicts
print("before:", before)
m.load_state_dict(sd, assign=True)
after = {k: dict(v) for k, v in sd._metadata.items()}
print("after: ", after, "(expected unchanged)")
reproduced = after != before

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
