"""paddle.nn.Layer.parameters() and buffers() return lists, as documented ("Returns a list of all
Parameters from current layer and its sub-layers."), not generators as torch's.

Exits 0 while both return a list, 1 otherwise."""
import paddle

layer = paddle.nn.Layer()
kinds = (type(layer.parameters()).__name__, type(layer.buffers()).__name__)
print("type(parameters()), type(buffers()):", kinds)
reproduced = kinds == ("list", "list")
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
