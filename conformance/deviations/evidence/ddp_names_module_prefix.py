"""DistributedDataParallel registers the wrapped module as its child ``module``: named_modules(),
named_parameters(), named_buffers() and state_dict() of the DDP object give every qualified name
with a ``module.`` prefix instead of the wrapped module's own names (by design: torch ships
torch.nn.modules.utils.consume_prefix_in_state_dict_if_present to strip it).

Exits 0 while the names differ, 1 once they are the wrapped module's.
"""
import torch.distributed as dist
from torch import nn

if not dist.is_initialized():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)

inner = nn.Sequential(nn.Linear(1, 1), nn.BatchNorm1d(1))
ddp = nn.parallel.DistributedDataParallel(inner)


def names(m):
    return ([n for n, _ in m.named_modules()], [n for n, _ in m.named_parameters()],
            [n for n, _ in m.named_buffers()], list(m.state_dict()))


wrapped, seen = names(inner), names(ddp)
print("wrapped module:", wrapped)
print("DDP object:    ", seen)
reproduced = seen != wrapped
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
