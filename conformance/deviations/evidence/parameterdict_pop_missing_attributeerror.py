"""ParameterDict.pop of a missing key raises AttributeError (it reads self[key], i.e. getattr), where
dict.pop raises KeyError."""
from torch import nn

try:
    nn.ParameterDict().pop("missing")
except Exception as exc:  # noqa: BLE001
    print("nn.ParameterDict().pop('missing') raised", type(exc).__name__, exc, "; expected KeyError")
