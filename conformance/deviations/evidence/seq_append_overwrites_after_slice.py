"""Sequential.append/extend add under key str(len(self)); after slicing (keys '1', '2') or with
digit OrderedDict names, that key already exists and the last module is overwritten instead.

Exits 0 while append after slicing or extend over digit names still loses a module, 1 once both
append."""
from collections import OrderedDict

from torch import nn

a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()
s = nn.Sequential(a, b, c)[1:]
s.append(d)
print("s = nn.Sequential(a, b, c)[1:]; s.append(d)")
print("  actual:  ", list(s), "len", len(s))
print("  expected:", [b, c, d], "len", 3)
reproduced = list(s) != [b, c, d] or len(s) != 3
s = nn.Sequential(OrderedDict([("1", a)]))
s.extend([b])
print("s = nn.Sequential(OrderedDict([('1', a)])); s.extend([b])")
print("  actual:  ", list(s), " expected:", [a, b])
reproduced = reproduced or list(s) != [a, b]

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
