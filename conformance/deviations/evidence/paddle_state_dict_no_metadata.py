"""paddle.nn.Layer.state_dict() returns a plain OrderedDict, as documented ("Returns: dict: a dict
contains all the parameters and persistable buffers."): it carries no ``_metadata`` (torch records
each module's version there).

Exits 0 while the state dict has no _metadata, 1 once it has."""
import paddle

sd = paddle.nn.Layer().state_dict()
print(type(sd).__name__, "with _metadata:", getattr(sd, "_metadata", None))
reproduced = getattr(sd, "_metadata", None) is None
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
