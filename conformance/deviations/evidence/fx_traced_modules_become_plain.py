"""torch.fx.symbolic_trace traces through every non-leaf module (user classes, Sequential) and
GraphModule.__init__ (_copy_attr) rebuilds each one on a path to a read member as a fresh
torch.nn.Module(): the class and its overrides (get_extra_state, train, extra_repr, forward) are
gone, training is True whatever it was, a non-persistent buffer is re-registered persistent, and
hooks registered on it never fire (the GraphModule's forward calls only the leaves)."""
import torch
import torch.nn as nn


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("nb", torch.ones(2), persistent=False)

    def forward(self, x):
        return self.lin(x) + self.nb

    def get_extra_state(self):
        return {"k": 1}

    def set_extra_state(self, state):
        pass

    def extra_repr(self):
        return "inner!"


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
        return self.inner(x)


root = Root()
root.inner.eval()
g = torch.fx.symbolic_trace(root)
print("eager: type", type(root.inner).__name__, "training", root.inner.training,
      "state_dict", list(root.state_dict()), "repr has extra_repr", "inner!" in repr(root))
print("fx:    type", type(g.inner).__name__, "training", g.inner.training,
      "state_dict", list(g.state_dict()), "repr has extra_repr", "inner!" in repr(g))
fired = []
g.inner.register_forward_hook(lambda m, a, o: fired.append("inner"))
g.inner.lin.register_forward_hook(lambda m, a, o: fired.append("lin"))
g(torch.zeros(2))
print("hooks fired on a call of the GraphModule:", fired)
reproduced = (type(g.inner) is nn.Module and g.inner.training and "inner._extra_state" not in g.state_dict()
              and "inner.nb" in g.state_dict() and "inner!" not in repr(g) and fired == ["lin"])
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
