"""ModuleList.insert shifts entries by str(i) keys without normalising the index: a negative index
raises KeyError (and leaves the list corrupted), an index past the end leaves a hole in the keys."""
from torch import nn

a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
ml = nn.ModuleList([a, b])
try:
    ml.insert(-1, c)
    print("insert(-1):", list(ml))
except KeyError as exc:
    print("nn.ModuleList([a, b]).insert(-1, c) raised KeyError", exc, "; list.insert gives", [a, c, b])
ml = nn.ModuleList([a, b])
ml.insert(5, c)
print("nn.ModuleList([a, b]).insert(5, c): keys", list(ml._modules), "; expected keys ['0', '1', '2'] holding", [a, b, c])
try:
    print(ml[2])
except KeyError as exc:
    print("  and ml[2] raises KeyError", exc)
