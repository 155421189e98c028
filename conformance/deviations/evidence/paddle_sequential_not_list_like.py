"""paddle.nn.Sequential numbers its keys otherwise than torch's: a slice renumbers from '0' (torch
keeps the sliced keys), del keeps the other keys (torch renumbers to 0..n-1), so append/insert,
which key by position, can collide with kept keys; and it has no +, * or += (torch has all three).
paddle.nn.LayerList ("can be indexed like a regular python list") asserts on insert at an index
past the end, where list.insert appends.

Exits 0 while any of these holds, 1 otherwise."""
import paddle

a, b, c = paddle.nn.ReLU(), paddle.nn.Tanh(), paddle.nn.Sigmoid()
seq = paddle.nn.Sequential(a, b, c)
sliced = list(seq[1:]._sub_layers)
del seq[0]
after_del = list(seq._sub_layers)
print("keys of Sequential(a, b, c)[1:]:", sliced, "; after del [0]:", after_del)
ops = []
for text in ("seq + seq", "seq * 2"):
    try:
        eval(text)
        ops.append((text, "ok"))
    except TypeError as exc:
        ops.append((text, f"TypeError: {exc}"))
print(ops)
try:
    paddle.nn.LayerList([]).insert(1, a)
    inserted = "ok"
except BaseException as exc:  # noqa: BLE001 - paddle asserts
    inserted = f"{type(exc).__name__}: {exc}"
print("LayerList([]).insert(1, layer):", inserted)
reproduced = sliced != ["1", "2"] or after_del != ["0", "1"] or any(r != "ok" for _, r in ops) or inserted != "ok"
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
