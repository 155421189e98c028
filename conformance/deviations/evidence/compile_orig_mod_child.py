"""torch.compile(module) returns an OptimizedModule, itself an nn.Module that registers the wrapped
module as its child ``_orig_mod`` (OptimizedModule.__init__: ``self._orig_mod = mod``).

So the wrapper is one level above the module it promises to behave like:

- named_modules/named_parameters/named_buffers/state_dict gain the prefix ``_orig_mod.``;
- the non-recursive methods act on the wrapper's own (empty) members: ``to_empty(device,
  recurse=False)`` moves nothing, leaving the wrapped module's own parameters on meta.

Exits 0 while either shows, 1 once the wrapper is transparent to both.
"""
import torch
from torch import nn

reproduced = False

m = nn.Linear(1, 1)
opt = torch.compile(m)
eager_names = ([n for n, _ in m.named_modules()], list(m.state_dict()))
compiled_names = ([n for n, _ in opt.named_modules()], list(opt.state_dict()))
print("eager    (named_modules, state_dict keys):", eager_names)
print("compiled (named_modules, state_dict keys):", compiled_names)
if compiled_names != eager_names:
    reproduced = True

with torch.device("meta"):
    m = nn.Linear(1, 1)
opt = torch.compile(m)
opt.to_empty(device="cpu", recurse=False)
print("after torch.compile(m).to_empty(device='cpu', recurse=False): m.weight on",
      m.weight.device.type, "(eager: cpu)")
if m.weight.device.type != "cpu":
    reproduced = True

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
