"""MLX's named_modules()/modules() ("Return a list with all the modules in this instance and their
name with dot notation.") and apply_to_modules() ("Apply a function to all the modules in this
instance (including this instance).") walk a stack: self first, then the children last-assigned
first, and a module held under two names is listed once per name. train()/eval() go through
apply_to_modules and set each module's flag directly (they never call a child's train)."""
import mlx.nn as nn

a, b, shared = nn.Module(), nn.Module(), nn.Module()
root = nn.Module()
root.m0, root.m1 = a, b
root.m2 = shared
root.m3 = shared
names = [n for n, _ in root.named_modules()]
visits = []
root.apply_to_modules(lambda name, m: visits.append(name))
print("named_modules():", names, type(root.named_modules()).__name__)
print("apply_to_modules visits:", visits)
print("modules() holds the shared module", sum(m is shared for m in root.modules()), "times")
reproduced = (names == ["", "m3", "m2", "m1", "m0"] and visits == names
              and sum(m is shared for m in root.modules()) == 2 and isinstance(root.modules(), list))
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
