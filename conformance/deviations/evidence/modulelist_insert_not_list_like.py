"""ModuleList.insert shifts entries by str(i) keys without normalising the index: a negative index
raises KeyError (and leaves the list corrupted), an index past the end leaves a hole in the keys.

Exits 0 while either case still differs from list.insert, 1 once both behave like it."""
from torch import nn

reproduced = False
a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
ml = nn.ModuleList([a, b])
try:
    ml.insert(-1, c)
    print("insert(-1):", list(ml))
    reproduced = reproduced or list(ml) != [a, c, b]
except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: KeyError)
    print("nn.ModuleList([a, b]).insert(-1, c) raised", type(exc).__name__, exc, "; list.insert gives", [a, c, b])
    reproduced = True
ml = nn.ModuleList([a, b])
ml.insert(5, c)
print("nn.ModuleList([a, b]).insert(5, c): keys", list(ml._modules), "; expected keys ['0', '1', '2'] holding", [a, b, c])
reproduced = reproduced or list(ml._modules) != ["0", "1", "2"] or list(ml) != [a, b, c]
try:
    print(ml[2])
except Exception as exc:  # noqa: BLE001 - torch 2.13: KeyError
    print("  and ml[2] raises", type(exc).__name__, exc)
    reproduced = True

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
