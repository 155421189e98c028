"""paddle.nn.Layer.named_modules(memo=...) skips a layer found in ``memo`` but still visits its
sublayers: with the root in memo it yields the root's children (torch yields nothing: a module
in memo is not visited, nor is anything under it).

Exits 0 while the children are yielded, 1 once nothing is."""
import paddle

root = paddle.nn.Layer()
root.add_module("m0", paddle.nn.Layer())
root.add_module("m1", paddle.nn.Layer())
got = [name for name, _ in root.named_modules(memo={root})]
print("root.named_modules(memo={root}) ->", got)
reproduced = got == ["m0", "m1"]
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
