"""A GraphModule's class is named after the traced module (symbolic_trace passes class_name), but
copy.deepcopy (GraphModule.__deepcopy__ re-runs GraphModule.__init__ with the default
class_name="GraphModule") and pickle / torch.save (reduce_graph_module -> _deserialize_graph_module)
give back a module whose class is named "GraphModule": a copy does not keep the module's type."""
import copy
import io
import pickle

import torch
import torch.nn as nn


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.ones(2))

    def forward(self, x):
        return x + self.p


g = torch.fx.symbolic_trace(Root())
buf = io.BytesIO()
torch.save(g, buf)
buf.seek(0)
names = {
    "traced": type(g).__name__,
    "deepcopy": type(copy.deepcopy(g)).__name__,
    "pickle": type(pickle.loads(pickle.dumps(g))).__name__,
    "torch.save/load": type(torch.load(buf, weights_only=False)).__name__,
}
print("class name of each:", names)
reproduced = names["traced"] == "Root" and all(v == "GraphModule" for k, v in names.items() if k != "traced")
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
