"""Under set_swap_module_params_on_conversion(True), LSTM weights cannot be swapped: LSTM keeps weak
references to them (``_flat_weight_refs``) and torch.utils.swap_tensors refuses tensors with weakrefs.

So load_state_dict fails for a module holding an LSTM (once its refs are set, e.g. after any move), and
a move fails when an LSTM weight is also registered in another module: LSTM._apply drops its refs only
during its own turn.

Exits 0 while load_state_dict or the move still raises, 1 once both succeed.
"""
import torch
from torch import nn

reproduced = False
torch.__future__.set_swap_module_params_on_conversion(True)
try:
    lstm = nn.LSTM(1, 1)
    try:
        lstm.load_state_dict(nn.LSTM(1, 1).state_dict())
        print("load_state_dict: ok")
    except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: RuntimeError)
        lines = str(exc).splitlines() or [type(exc).__name__]
        print("load_state_dict:", lines[1 if len(lines) > 1 else 0].strip())
        reproduced = True
    root = nn.Module()
    root.first = nn.ParameterList([lstm.weight_ih_l0])
    root.lstm = lstm
    try:
        root.to("meta")
        print("move with a tied LSTM weight: ok")
    except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: RuntimeError)
        print("move with a tied LSTM weight:", exc, "<-", exc.__cause__)
        reproduced = True
finally:
    torch.__future__.set_swap_module_params_on_conversion(False)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
