"""Two tensors that are views of one storage stay views of one storage through copy.deepcopy when
they are buffers (Tensor.__deepcopy__ copies the storage once, through the memo), but not when one
is a Parameter: Parameter.__deepcopy__ builds ``type(self)(self.data.clone(...))``, a storage of
its own, so a parameter that views another parameter's (or a buffer's) storage is unshared by the
copy.

Exits 0 while the parameter views come out unshared, 1 once they share storage.
"""
import copy

import torch
from torch import nn

base = torch.arange(6.0)
m = nn.Module()
m.p = nn.Parameter(base[0:3])
m.q = nn.Parameter(base[2:5])
m.register_buffer("a", base[1:4])
m.register_buffer("b", base[3:6])


def ptr(t):
    return t.untyped_storage().data_ptr()


c = copy.deepcopy(m)
print("original: p, q, a, b share one storage:", len({ptr(m.p), ptr(m.q), ptr(m.a), ptr(m.b)}) == 1)
print("deepcopy: buffers a, b share one storage:", ptr(c.a) == ptr(c.b))
params_shared = ptr(c.p) == ptr(c.q) == ptr(c.a)
print("deepcopy: parameters p, q (and buffer a) share one storage:", params_shared, "(expected True)")
reproduced = not params_shared
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
