"""Module.load_weights(file_or_weights, strict=True): "Returns: The module instance after updating
the weights." It reports no missing or unexpected keys; a strict mismatch "Raises a ValueError
exception" (its own messages); and "If True then checks that the provided weights exactly match
the parameters of the model. Otherwise, only the weights actually contained in the model are
loaded and shapes are not checked": with strict=False a wrong shape, and even a value that is no
array, is stored as given, without an error."""
import mlx.core as mx
import mlx.nn as nn

root = nn.Module()
root.p0 = mx.zeros(2)
result = root.load_weights([("p0", mx.ones(2))])
print("returns:", type(result).__name__, result is root)
errors = []
for weights in ([("p0", mx.ones(2)), ("zzz", mx.ones(1))], []):
    try:
        root.load_weights(weights)
    except Exception as e:  # noqa: BLE001
        errors.append(type(e).__name__ + ": " + str(e).replace("\n", " "))
print("strict mismatches raise:", errors)
root.load_weights([("p0", mx.zeros(5))], strict=False)
shape = root.p0.shape
root.load_weights([("p0", 1.5)], strict=False)
print("strict=False stored shape", shape, "and then the value", root.p0)
reproduced = (result is root and len(errors) == 2 and all(e.startswith("ValueError") for e in errors)
              and shape == (5,) and root.p0 == 1.5)
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
