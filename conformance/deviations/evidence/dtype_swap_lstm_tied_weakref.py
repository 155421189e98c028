"""Under set_swap_module_params_on_conversion(True), a dtype conversion (even a no-op float()) fails when an
LSTM weight is tied to a parameter of a module converted after the LSTM.

LSTM keeps weak references to its weights (``_flat_weight_refs``), drops them only for its own turn in
``_apply`` and re-creates them after; torch.utils.swap_tensors refuses a tensor with weakrefs.

Exits 0 while float() or double() still raises, 1 once both succeed.
"""
import torch
from torch import nn

reproduced = False
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
        except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: RuntimeError)
            print(f"root.{call}: {exc} <- {exc.__cause__} (expected: no error)")
            reproduced = True
finally:
    torch.__future__.set_swap_module_params_on_conversion(False)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
