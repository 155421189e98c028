"""Under set_swap_module_params_on_conversion(True), a dtype conversion (even a no-op float()) fails when an
LSTM weight is tied to a parameter of a module converted after the LSTM.

LSTM keeps weak references to its weights (``_flat_weight_refs``), drops them only for its own turn in
``_apply`` and re-creates them after; torch.utils.swap_tensors refuses a tensor with weakrefs.
"""
import torch
from torch import nn

lstm = nn.LSTM(1, 1)
root = nn.Module()
root.lstm = lstm
root.other = nn.Module()
root.other.register_parameter("w", lstm.bias_hh_l0)  # a tie: one Parameter under two names
torch.__future__.set_swap_module_params_on_conversion(True)
try:
    for call in ("float()", "double()"):
        try:
            eval(f"root.{call}")
            print(f"root.{call}: ok (expected)")
        except RuntimeError as exc:
            print(f"root.{call}: {exc} <- {exc.__cause__} (expected: no error)")
finally:
    torch.__future__.set_swap_module_params_on_conversion(False)
