"""Module.compile() stores ``self._compiled_call_impl = torch.compile(self._call_impl)`` in the
instance __dict__. Module.__getstate__ drops it, but RNNBase (RNN, LSTM, GRU) overrides
__getstate__ (to drop ``_flat_weight_refs``) without calling super(), so it is kept:

- pickle.dumps / torch.save of a compiled RNN-family module raise PicklingError: the compiled
  function is named Module._call_impl but is not that object;
- copy.deepcopy shares the compiled function, still bound to the ORIGINAL module: calling the copy
  runs the original's weights.

Exits 0 while pickling still fails (or the deepcopy still calls the original), 1 once both behave
as for every other module.
"""
import copy
import io
import pickle

import torch
from torch import nn

reproduced = False

lstm = nn.LSTM(1, 1)
lstm.compile()
for how in ("pickle", "torch.save"):
    try:
        if how == "pickle":
            pickle.loads(pickle.dumps(lstm))
        else:
            buf = io.BytesIO()
            torch.save(lstm, buf)
        print(f"{how} of a compiled LSTM: ok")
    except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: PicklingError)
        print(f"{how} of a compiled LSTM: {type(exc).__name__}: {exc}")
        reproduced = True

linear = nn.Linear(1, 1)
linear.compile()
print("pickle of a compiled Linear keeps _compiled_call_impl:",
      pickle.loads(pickle.dumps(linear))._compiled_call_impl is not None, "(Module.__getstate__ drops it)")

clone = copy.deepcopy(lstm)
with torch.no_grad():
    for p in clone.parameters():
        p.zero_()
x = torch.ones(1, 1)
shared = clone._compiled_call_impl is lstm._compiled_call_impl
calls_original = torch.equal(clone(x)[0], lstm(x)[0]) and not torch.equal(clone(x)[0], clone.forward(x)[0])
print("deepcopy shares the compiled call:", shared, "; calling the zeroed copy gives the original's output:",
      calls_original)
reproduced = reproduced or calls_original

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
