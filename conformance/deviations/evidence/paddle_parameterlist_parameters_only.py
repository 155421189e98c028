"""paddle.nn.ParameterList holds parameters only, as documented ("parameters (iterable, optional):
Iterable Parameters to be added."): a non-tensor item fails (the constructor asserts, setitem and
append raise TypeError), and an index past the end raises KeyError, not IndexError.

Exits 0 while any of these holds, 1 otherwise."""
import paddle

p = paddle.nn.Parameter(paddle.ones([2]))
seen = []
for text, call in (("ParameterList([0])", lambda: paddle.nn.ParameterList([0])),
                   ("pl.append(7)", lambda: paddle.nn.ParameterList([p]).append(7)),
                   ("pl[0] = 7", lambda: paddle.nn.ParameterList([p]).__setitem__(0, 7)),
                   ("pl[3]", lambda: paddle.nn.ParameterList([p])[3])):
    try:
        call()
        seen.append((text, "no exception"))
    except BaseException as exc:  # noqa: BLE001 - paddle asserts
        seen.append((text, type(exc).__name__))
for row in seen:
    print(row)
reproduced = any(kind not in ("no exception", "IndexError") for _, kind in seen)
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
