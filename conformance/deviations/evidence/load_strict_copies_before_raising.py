"""A strict load_state_dict whose keys do not match raises, but only after copying the values of
the keys that do match into the module.

Law (design.md): a call Module rejects leaves the graph exactly as it was. Doc: "If strict is True,
then the keys of state_dict must exactly match the keys returned by this module's state_dict
function." torch walks the whole module, copying every matching key, and looks at
missing/unexpected keys only afterwards (Module.load_state_dict), so the rejected call has already
overwritten the weights when the RuntimeError is raised.

Exits 0 while the weights changed under the rejected call, 1 once they are left as they were.
"""
import torch
from torch import nn

m = nn.Linear(2, 2)
before = {k: v.clone() for k, v in m.state_dict().items()}
sd = {k: torch.zeros_like(v) for k, v in m.state_dict().items()}
sd["extra"] = torch.ones(1)  # one unexpected key
try:
    m.load_state_dict(sd)  # strict=True
    print("no error (expected RuntimeError: Unexpected key(s) in state_dict)")
    raised = False
except RuntimeError as exc:
    print("RuntimeError:", str(exc).splitlines()[-1].strip())
    raised = True
changed = [k for k, v in m.state_dict().items() if not torch.equal(v, before[k])]
print("values changed by the rejected load:", changed, "(expected [])")
reproduced = raised and bool(changed)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
