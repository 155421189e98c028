"""An mlx.nn.Module is a dict of its members (Module.state: "The module's state dictionary contains
any attribute set on the module including parameters in Module.parameters()"; it returns the
module itself). Module.__setattr__ stores arrays, dicts, lists and tuples (so modules) as entries
and anything else, None included, as an ordinary attribute: a None member is no entry. There are
no _parameters/_buffers/_modules registries, dir() lists no member (entries are no attributes),
and there is no public extra_repr: repr() calls the private _extra_repr hook."""
import mlx.core as mx
import mlx.nn as nn

root = nn.Module()
root.m0 = nn.Module()
root.p1 = mx.zeros(1)
root.m2 = None
print("state is the module:", root.state is root, "entries:", list(root.state))
print("m2 entry:", "m2" in root.state, "attribute:", root.m2)
print("registries:", [r for r in ("_parameters", "_buffers", "_modules") if hasattr(root, r)])
print("dir lists members:", [n for n in ("m0", "p1") if n in dir(root)])


class R(nn.Module):
    def extra_repr(self):
        return "k=1"


print("extra_repr on Module:", hasattr(nn.Module(), "extra_repr"), "repr of an override:", repr(R()))
reproduced = (root.state is root and list(root.state) == ["m0", "p1"] and "m2" not in root.state
              and root.m2 is None and not any(hasattr(root, r) for r in ("_parameters", "_buffers", "_modules"))
              and "m0" not in dir(root) and not hasattr(nn.Module(), "extra_repr") and repr(R()) == "R()")
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
