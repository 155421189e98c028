"""Under set_overwrite_module_params_on_conversion(True) a dtype conversion or a device move
unties tied parameters.

Module._apply makes a new Parameter for each (module, name), so one parameter shared by two modules
becomes two parameters.

Exits 0 while double() or to('meta') still unties the weight, 1 once both keep the tie.
"""
import torch
from torch import nn

reproduced = False
for call in ("double()", "to('meta')"):
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    root = nn.Sequential(a, b)
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        eval(f"root.{call}")
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(False)
    tied = root[0].weight is root[1].weight
    print(f"root[0].weight is root[1].weight after {call}:", tied, "(expected True)")
    reproduced = reproduced or not tied

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
