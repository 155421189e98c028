"""paddle.nn.Layer.requires_grad_() (torch-named) accepts an integer parameter silently and leaves
it not requiring grad; torch raises RuntimeError ("only Tensors of floating point dtype can
require gradients").

Exits 0 while no error is raised, 1 once one is."""
import paddle

p = paddle.nn.Parameter(paddle.zeros([2], dtype="int64"), requires_grad=False)
layer = paddle.nn.ParameterList([p])
try:
    layer.requires_grad_()
    print("requires_grad_() on an int64 parameter: no exception; stop_gradient =", p.stop_gradient)
    reproduced = True
except Exception as exc:  # noqa: BLE001
    print("raised", type(exc).__name__, exc)
    reproduced = False
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
