"""paddle.nn.Layer's torch-named registration calls reject bad values with other error types and
messages than torch's: add_module/register_module of a non-Layer raise a bare AssertionError
(torch: TypeError "... is not a Module subclass"), register_parameter/register_buffer name Paddle
types, a dotted name has Paddle's message; a Parameter assigned to the name of a class attribute
(``forward``) is registered (torch: KeyError "attribute 'forward' already exists"), and assigning
a bool to a parameter's name has Paddle's message.

Exits 0 while any of these differs from torch's error, 1 once none does."""
import paddle

seen = []


def attempt(text, call):
    try:
        call()
        seen.append((text, "no exception", ""))
    except Exception as exc:  # noqa: BLE001 - the error is what is shown
        seen.append((text, type(exc).__name__, str(exc)))


layer = paddle.nn.Layer()
attempt("add_module('x', tensor)", lambda: layer.add_module("x", paddle.zeros([1])))
attempt("register_parameter('x', tensor)", lambda: layer.register_parameter("x", paddle.zeros([1])))
attempt("register_buffer('x', Layer())", lambda: layer.register_buffer("x", paddle.nn.Layer()))
attempt("register_parameter('a.b', p)", lambda: layer.register_parameter("a.b", paddle.nn.Parameter(paddle.ones([2]))))
attempt("layer.forward = Parameter", lambda: setattr(layer, "forward", paddle.nn.Parameter(paddle.ones([2]))))
layer.training = paddle.nn.Parameter(paddle.ones([2]))
attempt("layer.eval() with a parameter 'training'", layer.eval)
for row in seen:
    print(row)
torch_says = {"add_module('x', tensor)": "TypeError", "layer.forward = Parameter": "KeyError"}
reproduced = any(kind != torch_says.get(text, kind) for text, kind, _ in seen) or any(
    "torch" not in msg for _, kind, msg in seen if kind == "TypeError")
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
