"""ExportedProgram.module() registers a BatchNorm's buffers ahead of the buffers of the children
registered before it: named_buffers() of the unlifted module is not in registration order (the
graph signature itself is), though the same graph with InstanceNorm, or a plain module holding
buffers, keeps the order."""
import torch
from torch import nn


class Holder(nn.Module):
    def forward(self, x):
        return x + self.b0


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.m0 = Holder()
        self.m0.register_buffer("b0", torch.zeros(()))
        self.m1 = nn.BatchNorm1d(1).eval()

    def forward(self, x):
        x = self.m0(x)
        for _, b in self.m1.named_buffers():
            x = x + b.to(x).sum()
        return x


root = Root()
ep = torch.export.export(root, (torch.zeros(1),))
eager = [n for n, _ in root.named_buffers()]
unlifted = [n for n, _ in ep.module().named_buffers()]
print("eager named_buffers():   ", eager)
print("signature buffers:       ", list(ep.graph_signature.buffers))
print("unlifted named_buffers():", unlifted)
if eager[0] == "m0.b0" and unlifted[0] != "m0.b0" and sorted(unlifted) == sorted(eager):
    print("REPRODUCED")
    raise SystemExit(0)
print("NOT REPRODUCED")
raise SystemExit(1)
