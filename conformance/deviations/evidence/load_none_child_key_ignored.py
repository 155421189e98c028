"""A key under a child registered as None is silently ignored by a strict load_state_dict.

Doc: "If strict is True, then the keys of state_dict must exactly match the keys returned by this
module's state_dict function." state_dict() has no 'nm.w' key, so strict=True should raise
(Unexpected key(s) in state_dict: "nm.w"); torch skips the key because 'nm' is in _modules.

Exits 0 while the strict load still accepts the key or the non-strict load does not report it as
unexpected, 1 once the strict load raises and the non-strict one reports ['nm.w'].
"""
import torch
from torch import nn

m = nn.Module()
m.add_module("nm", None)
sd = m.state_dict()
sd["nm.w"] = torch.zeros(1)
print("state_dict keys:", list(m.state_dict()))
try:
    result = m.load_state_dict(sd, strict=True)
    strict_ignored = True
except RuntimeError as exc:
    result = f"RuntimeError: {exc}"
    strict_ignored = False
print("strict load of", list(sd), "->", result, "(expected RuntimeError)")
result = m.load_state_dict(sd, strict=False)
print("strict=False ->", result, "(expected unexpected_keys=['nm.w'])")
reproduced = strict_ignored or result.unexpected_keys != ["nm.w"]

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
