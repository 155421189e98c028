"""load_state_dict(sd, assign=True) writes 'assign_to_params_buffers' into the caller's sd._metadata.

Doc (_load_from_state_dict): "state_dict is not the same object as the input state_dict to
load_state_dict. So it can be modified." -- the caller's input is not to be modified; torch sets
the flag inside the caller's per-module metadata dicts.
"""
from torch import nn

m = nn.Linear(1, 1)
sd = m.state_dict()
print("before:", dict(sd._metadata))
m.load_state_dict(sd, assign=True)
print("after: ", dict(sd._metadata), "(expected unchanged)")
