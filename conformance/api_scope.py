"""Scope data for the API inventory (``conformance.api``): what the suite does not test, and why.

Keys are inventory keys (``python -m conformance.api`` lists them). A key here that the inventory
does not hold is reported by ``python -m conformance.coverage --api`` (a stale line), and a
project test keeps the table honest (``meta_tests/test_api.py``).
"""
from __future__ import annotations

# Inventory entries the suite deliberately does not exercise, with the reason.
OUT_OF_SCOPE: dict[str, str] = {
    "Module.forward": "abstract: Module.forward raises NotImplementedError; a subclass defines it "
                      "(the suite calls modules through root(x), not forward)",
    "Module.compile": "torch.compile is a backend here (--backend module-compile), not an API under test",
    "Module.ipu": "device shorthand for to('ipu'): no IPU device or simulator in the suite's device set",
    "Module.mtia": "device shorthand for to('mtia'): no MTIA device or simulator in the suite's device set",
    "Module.xpu": "device shorthand for to('xpu'): the suite moves modules between devices with to(device) "
                  "(xpu is reached that way when present)",
    "nn.utils.weight_norm.weight_norm": "deprecated: its docstring points to nn.utils.parametrizations.weight_norm",
    "nn.utils.weight_norm.remove_weight_norm": "pairs with the deprecated nn.utils.weight_norm",
    "nn.utils.spectral_norm.spectral_norm": "superseded by nn.utils.parametrizations.spectral_norm "
                                            "(its docstring: 'will be deprecated')",
    "nn.utils.spectral_norm.remove_spectral_norm": "pairs with the superseded nn.utils.spectral_norm",
}

# Documented positional forms a signature does not show: ``state_dict(*args, destination=None,
# prefix='', keep_vars=False)`` documents that positional arguments bind, in order, to these.
POSITIONAL: dict[str, tuple[str, ...]] = {
    "Module.state_dict": ("destination", "prefix", "keep_vars"),
}
