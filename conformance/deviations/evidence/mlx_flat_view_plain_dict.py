"""MLX's counterpart of a state dict is the flat view of parameters() that save_weights writes:
mlx.utils.tree_flatten ("Flattens a Python tree to a list of key, value tuples.") of
Module.parameters(), made a dict. It is a plain dict with no _metadata (MLX records no per-module
version)."""
import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

root = nn.Module()
root.p0 = mx.zeros(2)
sd = dict(tree_flatten(root.parameters()))
print(type(sd).__name__, hasattr(sd, "_metadata"), list(sd))
reproduced = type(sd) is dict and not hasattr(sd, "_metadata")
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
