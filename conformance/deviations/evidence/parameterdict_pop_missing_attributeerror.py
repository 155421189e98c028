"""ParameterDict.pop of a missing key raises AttributeError (it reads self[key], i.e. getattr), where
dict.pop raises KeyError.

Exits 0 while pop of a missing key raises anything but KeyError (or nothing), 1 once it raises KeyError."""
from torch import nn

try:
    value = nn.ParameterDict().pop("missing")
    print("nn.ParameterDict().pop('missing') returned", value, "; expected KeyError")
    reproduced = True
except Exception as exc:  # noqa: BLE001
    print("nn.ParameterDict().pop('missing') raised", type(exc).__name__, exc, "; expected KeyError")
    reproduced = not isinstance(exc, KeyError)

print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
