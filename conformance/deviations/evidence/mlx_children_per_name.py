"""Module.children(): "Return the direct descendants of this Module instance." It is a dict of the
module's entries that are modules (Module.filter_and_map with valid_child_filter), keyed by name:
a module assigned under two names is a descendant under each name, with no de-duplication."""
import mlx.nn as nn

child = nn.Module()
root = nn.Module()
root.m0 = child
root.m1 = child
children = root.children()
print("children():", {k: ("child" if v is child else v) for k, v in children.items()})
reproduced = list(children) == ["m0", "m1"] and all(v is child for v in children.values())
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
