"""MLX has no buffers and no unregistered array attributes: "A Module can contain other Module
instances or mlx.core.array instances in arbitrary nesting of python lists or dicts. The Module
then allows recursively extracting all the mlx.core.array instances using
mlx.nn.Module.parameters()". Every array assigned as an attribute is in parameters(), frozen ones
(MLX's non-trainable state, as BatchNorm's running statistics) included, an array held under two
names is listed under both, and the order is assignment order (parameters and buffers
interleaved, children in place). load_weights(strict=True) then requires every one of them."""
import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

child = nn.Module()
child.w = mx.zeros(1)
root = nn.Module()
root.b0 = mx.ones(2)  # a "buffer": frozen below
root.m0 = child
root.p1 = mx.zeros(3)  # a parameter
root.x2 = mx.zeros(1)  # torch: a plain tensor attribute, not registered
root.p3 = root.p1  # a tied parameter
root.freeze(keys=["b0"], recurse=False)
keys = [k for k, _ in tree_flatten(root.parameters())]
trainable = [k for k, _ in tree_flatten(root.trainable_parameters())]
print("parameters():", keys)
print("trainable_parameters():", trainable)
try:
    root.load_weights([("p1", mx.ones(3)), ("m0.w", mx.ones(1)), ("p3", mx.ones(3))])
    error = None
except ValueError as e:
    error = str(e)
print("strict load_weights of the torch state (no buffer b0, no plain x2):", repr(error))
reproduced = (keys == ["b0", "m0.w", "p1", "x2", "p3"] and "b0" not in trainable
              and error is not None and error.startswith("Missing 2 parameters"))
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
