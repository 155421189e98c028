"""Under set_swap_module_params_on_conversion(True), nothing can be swapped into a module wrapped by
DistributedDataParallel: DDP's C++ Reducer (kept alive by ddp.reducer and ddp.logger) holds extra
references to every parameter that requires grad (its parameter list and the AccumulateGrad nodes it
hooks), so torch.utils.swap_tensors sees use_count 4 and refuses ("Expected use_count of t1 to be 1
or 2 ...").

So every conversion (even a no-op float()), every move (to, to_empty) and load_state_dict raise under
the swap setting, on the DDP object and on the wrapped module alike. Known upstream:
https://github.com/pytorch/pytorch/issues/128165 .

Exits 0 while any of them still raises, 1 once all succeed.
"""
import torch
import torch.distributed as dist
from torch import nn

if not dist.is_initialized():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)

inner = nn.Linear(1, 1)
print("use_count of the weight before wrapping:", inner.weight._use_count())
ddp = nn.parallel.DistributedDataParallel(inner)
print("use_count of the weight after wrapping: ", inner.weight._use_count())

reproduced = False
torch.__future__.set_swap_module_params_on_conversion(True)
try:
    steps = {
        "ddp.float() (no-op)": lambda: ddp.float(),
        "ddp.double()": lambda: ddp.double(),
        "ddp.to('meta')": lambda: ddp.to("meta"),
        "ddp.module.float()": lambda: ddp.module.float(),
        "ddp.load_state_dict(ddp.state_dict())": lambda: ddp.load_state_dict(
            {k: v.clone() for k, v in ddp.state_dict().items()}),
    }
    for label, step in steps.items():
        try:
            step()
            print(f"{label}: ok")
        except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: RuntimeError)
            cause = exc.__cause__ or exc
            print(f"{label}: {type(exc).__name__}: {' '.join(str(cause).split())[-220:]}")
            reproduced = True
finally:
    torch.__future__.set_swap_module_params_on_conversion(False)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
