"""torch.export.export crashes on a root module that registers two or more None buffers ahead of a
tensor buffer: _make_fx_helper (torch/export/_trace.py) indexes the graph's inputs with the
position of each tensor buffer among *all* of the root's buffers, None ones included, so the
index runs past the inputs ("IndexError: list index out of range"). register_buffer documents
None buffers ("If None, then operations that run on buffers, such as cuda, are ignored"), and
eager calls the module fine."""
import torch
from torch import nn


class M(nn.Module):
    def forward(self, x):
        return x + self.b2


m = M()
m.register_buffer("b0", None)
m.register_buffer("b1", None)
m.register_buffer("b2", torch.ones(()))
print("eager call:", m(torch.zeros(1)))
try:
    torch.export.export(m, (torch.zeros(1),))
except IndexError as exc:
    print("torch.export.export raised IndexError:", exc)
    print("REPRODUCED")
    raise SystemExit(0)
print("exported without error")
print("NOT REPRODUCED")
raise SystemExit(1)
