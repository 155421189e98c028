"""load_state_dict(state_dict(), assign=True) unties a Parameter shared by two modules.

Structural law (design.md): round trips are identities and keep the sharing structure.
Each key is assigned its own nn.Parameter, so a tied weight becomes two objects (and one
tensor registered as two buffers becomes two tensors).

Exits 0 while the round trip still unties the weight, 1 once it keeps the tie (and 3 parameters).
"""
from torch import nn

a, b = nn.Linear(2, 2), nn.Linear(2, 2)
b.weight = a.weight
m = nn.Sequential(a, b)
print("before:", m[1].weight is m[0].weight, len(list(m.parameters())))
m.load_state_dict(m.state_dict(), assign=True)
tied, count = m[1].weight is m[0].weight, len(list(m.parameters()))
print("after: ", tied, count, "(expected True 3)")
reproduced = not tied or count != 3

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
