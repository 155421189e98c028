"""torch.jit.script cannot compile a module that calls nn.MultiheadAttention(bias=False) (or a
TransformerEncoderLayer(bias=False), which holds one): MultiheadAttention.forward's fast-path
check reads ``self.in_proj_bias.dtype`` after ``self.in_proj_bias is not None``, and TorchScript
does not refine an Optional module attribute ("'NoneType' object has no attribute or method
dtype'"). (In the suite, a later script of another MultiheadAttention in the same process then
failed with "Can't redefine method: forward".) The same modules run in eager mode.

Exits 0 while scripting fails, 1 once it succeeds."""
import torch
from torch import nn


class Caller(nn.Module):
    def __init__(self, attention):
        super().__init__()
        self.attention = attention

    def forward(self, x):
        q = x.new_zeros(1, 2)
        return self.attention(q, q, q)[0].sum()


errors = {}
for bias in (False, True):
    m = Caller(nn.MultiheadAttention(embed_dim=2, num_heads=1, bias=bias))
    m(torch.zeros(1))  # eager runs
    try:
        torch.jit.script(m)
        errors[bias] = None
    except RuntimeError as e:
        errors[bias] = " ".join(str(e).split())[:120]
    print(f"script MultiheadAttention(bias={bias}): {errors[bias] or 'ok'}")

reproduced = errors[False] is not None
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
