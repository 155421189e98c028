"""Sequential `+=` adds under str(i + len) and `*=` reads keys str(i): after slicing `+=` overwrites
the last module, and `*=` on an OrderedDict-built Sequential raises KeyError, while `s + o` and
`s * k` work on the same objects.

Exits 0 while `+=` or `*=` still differs from `+` or `*`, 1 once both match."""
from collections import OrderedDict

from torch import nn

a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()
s = nn.Sequential(a, b, c)[1:]
expected = list(s + nn.Sequential(d))
s += nn.Sequential(d)
print("s = nn.Sequential(a, b, c)[1:]; s += nn.Sequential(d)")
print("  actual:  ", list(s), "\n  expected:", expected, "(what s + nn.Sequential(d) holds)")
reproduced = list(s) != expected
s = nn.Sequential(OrderedDict(x=a))
expected = list(s * 2)
print("s * 2 ->", expected)
try:
    s *= 2
    print("s *= 2 ->", list(s))
    reproduced = reproduced or list(s) != expected
except Exception as exc:  # noqa: BLE001 - any error is the deviation (torch 2.13: KeyError)
    print("nn.Sequential(OrderedDict(x=a)) *= 2 raised", type(exc).__name__, exc)
    reproduced = True

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
