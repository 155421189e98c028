"""A key under a child registered as None is silently ignored by a strict load_state_dict.

Doc: "If strict is True, then the keys of state_dict must exactly match the keys returned by this
module's state_dict function." state_dict() has no 'nm.w' key, so strict=True should raise
(Unexpected key(s) in state_dict: "nm.w"); torch skips the key because 'nm' is in _modules.
"""
import torch
from torch import nn

m = nn.Module()
m.add_module("nm", None)
sd = m.state_dict()
sd["nm.w"] = torch.zeros(1)
print("state_dict keys:", list(m.state_dict()))
print("strict load of", list(sd), "->", m.load_state_dict(sd, strict=True), "(expected RuntimeError)")
print("strict=False ->", m.load_state_dict(sd, strict=False), "(expected unexpected_keys=['nm.w'])")
