"""paddle.nn.Layer.zero_grad() documents set_to_none as partial ("Currently, set_to_none=True is
not fully supported."): the gradient of a zero-element parameter is kept, not set to None.

Exits 0 while the gradient survives zero_grad(), 1 once it is None."""
import paddle

p = paddle.nn.Parameter(paddle.zeros([3, 0, 0]), requires_grad=True)
p.grad = paddle.zeros([3, 0, 0])
layer = paddle.nn.ParameterList([p])
layer.zero_grad()
print("grad after zero_grad():", None if p.grad is None else f"Tensor of shape {p.grad.shape}")
reproduced = p.grad is not None
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
