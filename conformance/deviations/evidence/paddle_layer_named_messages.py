"""Paddle names its module class ``Layer`` and a child module a "sublayer": the messages of
attribute lookups, get_*/set_submodule, repr and load_state_dict name ``Layer``/``sublayer``
where torch's name ``Module``/``submodule``.

Exits 0 while the messages name Layer, 1 once they name Module."""
import paddle

root = paddle.nn.Layer()
seen = []
for call in (lambda: root.nope, lambda: root.get_submodule("nope"), lambda: root.get_parameter("nope"),
             lambda: root.set_submodule("", paddle.nn.Layer())):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the message is what is shown
        seen.append(f"{type(exc).__name__}: {exc}")
outer = paddle.nn.Layer()
outer.c = root
seen.append(repr(outer))
try:
    root.load_state_dict({"zzz": paddle.zeros([1])})
except Exception as exc:  # noqa: BLE001
    seen.append(f"{type(exc).__name__}: {exc}")
for line in seen:
    print(line)
reproduced = any("Layer" in s or "sublayer" in s for s in seen)
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
