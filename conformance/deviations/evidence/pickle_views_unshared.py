"""pickle does not keep storage sharing between tensors: two buffers (or parameters) that are views
of one storage come back from ``pickle.loads(pickle.dumps(m))`` each with a storage of its own,
while ``torch.save``/``torch.load`` keeps them views of one storage ("PyTorch preserves storage
sharing across serialization."). A plain pickle reduces each tensor's storage through a fresh
TypedStorage wrapper (``Tensor._typed_storage()``), serialized on its own (``_load_from_bytes``),
so pickle's memo never sees the same object twice.

Exits 0 while pickle unshares the views, 1 once it keeps them shared.
"""
import io
import pickle

import torch
from torch import nn

base = torch.arange(6.0)
m = nn.Module()
m.register_buffer("a", base[0:3])
m.register_buffer("b", base[2:5])


def ptr(t):
    return t.untyped_storage().data_ptr()


buf = io.BytesIO()
torch.save(m, buf)
buf.seek(0)
saved = torch.load(buf, weights_only=False)
pickled = pickle.loads(pickle.dumps(m))
print("original: a, b share one storage:", ptr(m.a) == ptr(m.b))
print("torch.save/torch.load: a, b share one storage:", ptr(saved.a) == ptr(saved.b))
shared = ptr(pickled.a) == ptr(pickled.b)
print("pickle: a, b share one storage:", shared, "(expected True)")
reproduced = not shared
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
