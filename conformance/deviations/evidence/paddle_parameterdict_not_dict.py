"""paddle.nn.ParameterDict is documented as "can be indexed like a regular Python dictionary", and
its constructor as taking "a mapping (dictionary) of (string : Any)", but it has none of the
dict methods torch's ParameterDict has (keys, items, values, get, pop, clear, setdefault), and
assigning a non-Parameter value fails an assertion.

Exits 0 while a dict method is missing or the assignment fails, 1 otherwise."""
import paddle

pd = paddle.nn.ParameterDict({"a": paddle.nn.Parameter(paddle.ones([2]))})
missing = [n for n in ("keys", "items", "values", "get", "pop", "clear", "setdefault") if not hasattr(pd, n)]
print("dict methods paddle.nn.ParameterDict lacks:", missing)
try:
    pd["b"] = 3
    failed = False
except BaseException as exc:  # noqa: BLE001 - paddle asserts
    print("pd['b'] = 3 raised", type(exc).__name__, exc)
    failed = True
reproduced = bool(missing) or failed
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
