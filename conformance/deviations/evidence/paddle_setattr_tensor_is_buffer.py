"""paddle.nn.Layer.__setattr__ registers a plain Tensor assigned as an attribute as a
non-persistable buffer (its source: "Set persistable=False by default. Only `register_buffer` can
add a persistable buffer."); torch keeps such a tensor a plain attribute, outside named_buffers.

Exits 0 while the tensor lands in named_buffers, 1 once it stays a plain attribute."""
import paddle

layer = paddle.nn.Layer()
layer.x = paddle.zeros([2])
buffers = [name for name, _ in layer.named_buffers()]
print("layer.x = paddle.zeros([2]) -> named_buffers():", buffers, "; in __dict__:", "x" in layer.__dict__,
      "; in state_dict:", list(layer.state_dict()))
reproduced = buffers == ["x"]
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
