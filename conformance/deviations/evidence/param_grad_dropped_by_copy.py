"""copy.deepcopy, pickle and torch.save/torch.load of a module drop every Parameter's .grad
(Parameter.__deepcopy__ and Parameter.__reduce_ex__ rebuild from data and requires_grad only),
while copy.deepcopy of a plain tensor keeps its .grad.

Exits 0 while any of the three copies still loses weight.grad, 1 once all keep it."""
import copy
import io
import pickle

import torch
from torch import nn

root = nn.Linear(2, 1)
root.weight.grad = torch.ones(1, 2)


def save_load(m):
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


reproduced = False
for how, fn in [("deepcopy", copy.deepcopy), ("pickle", lambda m: pickle.loads(pickle.dumps(m))), ("torch.save", save_load)]:
    grad = fn(root).weight.grad
    print(f"{how}: original weight.grad={root.weight.grad.tolist()}  copy weight.grad={grad}")
    reproduced = reproduced or grad is None or not torch.equal(grad, root.weight.grad)
t = torch.zeros(2, requires_grad=True)
t.grad = torch.ones(2)
print(f"plain tensor deepcopy keeps .grad: {copy.deepcopy(t).grad.tolist()}")

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
