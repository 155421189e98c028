"""torch.export.export(...).module() registers modules of its own while it runs (a Wrapper with
`_export_root` around the root during tracing, and the `_guards_fn` child of the unlifted module),
and each registration calls the global module registration hooks
(torch.nn.modules.module.register_module_module_registration_hook) the user installed."""
import torch
from torch import nn
from torch.nn.modules.module import register_module_module_registration_hook


class Root(nn.Module):
    def forward(self, x):
        return x


root = Root()
seen = []
handle = register_module_module_registration_hook(lambda m, name, sub: seen.append((type(m).__name__, name, type(sub).__name__)))
try:
    exported = torch.export.export(root, (torch.zeros(1),)).module()
finally:
    handle.remove()
print("registrations seen while exporting:", seen)
names = [name for _, name, _ in seen]
reproduced = "_guards_fn" in names
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
