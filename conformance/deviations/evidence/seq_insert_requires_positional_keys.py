"""Sequential.insert shifts entries by the keys str(i): a Sequential built from an OrderedDict, or a
slice, raises KeyError or scrambles its modules instead of inserting at the index.

Exits 0 while either insert still raises or misplaces a module, 1 once both insert at the index."""
from collections import OrderedDict

from torch import nn

reproduced = False
a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()
s = nn.Sequential(OrderedDict(x=a, y=b))
try:
    s.insert(0, c)
    print("named: no error", list(s))
    reproduced = reproduced or list(s) != [c, a, b]
except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: KeyError)
    print("nn.Sequential(OrderedDict(x=a, y=b)).insert(0, c) raised", type(exc).__name__, exc, "; expected", [c, a, b])
    reproduced = True
s = nn.Sequential(a, b, c)[1:]
try:
    s.insert(1, d)
    print("slice: got", list(s), "expected", [b, d, c])
    reproduced = reproduced or list(s) != [b, d, c]
except Exception as exc:  # noqa: BLE001 - any error is the deviation
    print("nn.Sequential(a, b, c)[1:].insert(1, d) raised", type(exc).__name__, exc, "; expected", [b, d, c])
    reproduced = True

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
