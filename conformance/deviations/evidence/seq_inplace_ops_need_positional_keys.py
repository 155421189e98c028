"""Sequential `+=` adds under str(i + len) and `*=` reads keys str(i): after slicing `+=` overwrites
the last module, and `*=` on an OrderedDict-built Sequential raises KeyError, while `s + o` and
`s * k` work on the same objects."""
from collections import OrderedDict

from torch import nn

a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()
s = nn.Sequential(a, b, c)[1:]
expected = list(s + nn.Sequential(d))
s += nn.Sequential(d)
print("s = nn.Sequential(a, b, c)[1:]; s += nn.Sequential(d)")
print("  actual:  ", list(s), "\n  expected:", expected, "(what s + nn.Sequential(d) holds)")
s = nn.Sequential(OrderedDict(x=a))
print("s * 2 ->", list(s * 2))
try:
    s *= 2
    print("s *= 2 ->", list(s))
except KeyError as exc:
    print("nn.Sequential(OrderedDict(x=a)) *= 2 raised KeyError", exc)
