"""MLX arrays hold no gradient: gradients are values returned by mlx.nn.value_and_grad ("Transform
the passed function fn to a function that computes the gradients of fn wrt the model's trainable
parameters and also its value."), never stored on the array, so an array has no .grad attribute
(nor requires_grad)."""
import mlx.core as mx
import mlx.nn as nn

model = nn.Module()
model.w = mx.array([1.0, 2.0])
loss, grads = nn.value_and_grad(model, lambda x: (model.w * x).sum())(mx.array([3.0, 4.0]))
print("value_and_grad returned", loss, grads)
print("array has .grad:", hasattr(model.w, "grad"), "has .requires_grad:", hasattr(model.w, "requires_grad"))
reproduced = "w" in grads and not hasattr(model.w, "grad") and not hasattr(model.w, "requires_grad")
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
