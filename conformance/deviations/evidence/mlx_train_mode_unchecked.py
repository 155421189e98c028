"""Module.train(mode): "mode (bool): Indicate if the model should be in training or evaluation
mode. Default: True." MLX does not check the type: train(1) succeeds and stores 1 as the flag
(torch raises ValueError "training mode is expected to be boolean")."""
import mlx.nn as nn

root = nn.Module()
out = root.train(1)
print("train(1) returned", type(out).__name__, "training =", repr(root.training))
reproduced = out is root and root.training == 1 and type(root.training) is int
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
