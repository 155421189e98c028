"""An unexpected '_extra_state' key is reported before the module's other unexpected keys.

Spec load.nonstrict_reports_and_order: unexpected_keys are grouped by module in pre-order and,
within a module, follow the input's order. A plain Module given {'zzz', '_extra_state'} (in that
order) reports ['_extra_state', 'zzz'].

Exits 0 while unexpected_keys still differ from the input order, 1 once they follow it.
"""
import torch
from torch import nn

m = nn.Module()
sd = {"zzz": torch.zeros(1), "_extra_state": torch.zeros(1)}
print("input order:    ", list(sd))
unexpected = m.load_state_dict(sd, strict=False).unexpected_keys
print("unexpected_keys:", unexpected, "(expected ['zzz', '_extra_state'])")
reproduced = unexpected != ["zzz", "_extra_state"]

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
