"""Under set_overwrite_module_params_on_conversion(True) a move unties tied parameters (every device).

Module._apply makes a new Parameter for each (module, name), so one parameter shared by two modules
becomes two parameters.
"""
import torch
from torch import nn

a, b = nn.Linear(2, 2), nn.Linear(2, 2)
b.weight = a.weight
root = nn.Sequential(a, b)
torch.__future__.set_overwrite_module_params_on_conversion(True)
try:
    root.to("meta")
finally:
    torch.__future__.set_overwrite_module_params_on_conversion(False)
print("root[0].weight is root[1].weight after to('meta'):", root[0].weight is root[1].weight, "(expected True)")
