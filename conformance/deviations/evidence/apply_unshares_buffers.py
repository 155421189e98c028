"""A buffer registered under two names is one tensor; after a dtype conversion or a device move it
is two, under every torch.__future__ setting.

Module._apply assigns ``self._buffers[key] = fn(buf)`` name by name, so each name gets its own copy.

Exits 0 while any (setting, call) case still unshares the buffer, 1 once none does.
"""
import torch
from torch import nn

reproduced = False
for setting in ("default", "overwrite", "swap"):
    for call in ("double()", "to('meta')"):
        torch.__future__.set_overwrite_module_params_on_conversion(setting == "overwrite")
        torch.__future__.set_swap_module_params_on_conversion(setting == "swap")
        try:
            b = torch.zeros(2)
            m = nn.Module()
            m.register_buffer("a", b)
            m.register_buffer("c", b)
            before = m.a is m.c
            eval(f"m.{call}")
            after = m.a is m.c
            print(f"[{setting}] m.a is m.c: before={before} after {call}={after} (expected True)")
            reproduced = reproduced or not after
        finally:
            torch.__future__.set_overwrite_module_params_on_conversion(False)
            torch.__future__.set_swap_module_params_on_conversion(False)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
