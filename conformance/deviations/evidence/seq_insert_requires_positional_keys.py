"""Sequential.insert shifts entries by the keys str(i): a Sequential built from an OrderedDict, or a
slice, raises KeyError or scrambles its modules instead of inserting at the index."""
from collections import OrderedDict

from torch import nn

a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()
s = nn.Sequential(OrderedDict(x=a, y=b))
try:
    s.insert(0, c)
    print("named: no error", list(s))
except KeyError as exc:
    print("nn.Sequential(OrderedDict(x=a, y=b)).insert(0, c) raised KeyError", exc, "; expected", [c, a, b])
s = nn.Sequential(a, b, c)[1:]
try:
    s.insert(1, d)
    print("slice: got", list(s), "expected", [b, d, c])
except KeyError as exc:
    print("nn.Sequential(a, b, c)[1:].insert(1, d) raised KeyError", exc, "; expected", [b, d, c])
