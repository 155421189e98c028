"""Module.train(mode) ("Set the model in or out of training mode.") and eval() ("Set the model to
evaluation mode. See train.") set every module's flag through
apply_to_modules(lambda _, m: m._set_training_mode(mode)): a child's own train() is never called,
so a subclass that overrides train sees only the call made on itself. And modules() lists a
module held under two names once per name, so a hook installed per listed module is installed
twice on it."""
import mlx.nn as nn

calls = []


class Recording(nn.Module):
    def train(self, mode=True):
        calls.append((self.label, mode))
        return super().train(mode)


root, child = Recording(), Recording()
root.label, child.label = "root", "child"
root.m0 = child
root.eval()
print("train calls recorded by eval():", calls, "child.training =", child.training)
shared = nn.Module()
holder = nn.Module()
holder.m0, holder.m1 = shared, shared
count = sum(m is shared for m in holder.modules())
print("modules() lists the shared module", count, "times")
reproduced = calls == [("root", False)] and child.training is False and count == 2
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
