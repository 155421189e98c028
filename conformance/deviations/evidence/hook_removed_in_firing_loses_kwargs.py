"""A forward pre-hook (or forward hook) registered with with_kwargs=True, removed by an earlier
hook of the same firing, is still called in that firing (Module._call_impl iterates over a
snapshot of the hooks dict) but as if registered without kwargs: _call_impl looks the hook's id
up in the live _forward_pre_hooks_with_kwargs / _forward_hooks_with_kwargs dicts, which
handle.remove() has already emptied. So it gets (module, args) instead of (module, args,
kwargs), (module, args, output) instead of (module, args, kwargs, output), and a hook written
with the documented signature raises TypeError.

Exits 0 while the removed with_kwargs hook is called without its kwargs, 1 once it is not."""
import torch
from torch import nn

seen = {}
for kind in ("pre", "post"):
    m = nn.Identity()
    got = []
    register = m.register_forward_pre_hook if kind == "pre" else m.register_forward_hook
    handles = []
    handles.append(register(lambda mod, *a: handles[1].remove()))  # removes the next hook
    handles.append(register(lambda mod, *a: got.append(len(a)), with_kwargs=True))
    m(torch.zeros(1))
    seen[kind] = got
print("arguments after the module the removed with_kwargs hook got:", seen,
      "; registered with kwargs: 2 for the pre-hook (args, kwargs), 3 for the forward hook (args, kwargs, output)")
reproduced = seen == {"pre": [1], "post": [2]}

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
