"""Under set_overwrite_module_params_on_conversion(True) a dtype conversion or a device move
unties tied parameters.

Module._apply makes a new Parameter for each (module, name), so one parameter shared by two modules
becomes two parameters.
"""
import torch
from torch import nn

for call in ("double()", "to('meta')"):
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    root = nn.Sequential(a, b)
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        eval(f"root.{call}")
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(False)
    print(f"root[0].weight is root[1].weight after {call}:", root[0].weight is root[1].weight, "(expected True)")
