"""Scope data for the API inventory (``conformance.api``): what the suite does not test, and why.

Keys are inventory keys (``python -m conformance.api`` lists them). A key here that the inventory
does not hold is reported by ``python -m conformance.coverage --api`` (a stale line), and a
project test keeps the table honest (``meta_tests/test_api.py``).
"""
from __future__ import annotations

_PARAMETRIZE = ("deferred, not yet written: parametrizations change the module's class (a ParametrizedX subclass) "
                "and its state_dict keys (parametrizations.w.original) by design; their semantics are the "
                "utility's, not nn.Module's, and need their own area and reference model")
_PRUNE = ("deferred, not yet written: pruning replaces a parameter by name_orig + name_mask buffers and a "
          "forward pre-hook by design; the pruning rules (which entries are masked) are the utility's, not "
          "nn.Module's, and need their own area and reference model")
_MEMORY_FORMAT = ("deferred, not yet written: converts only Conv2d/Conv3d (and ConvTranspose) weights, a layer "
                  "utility; Module.to(memory_format=...) is what the suite tests (test_dtype, conv.memory_format)")

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
    # Deferred families (issue 13 part 3): their invariants are the utility's, not nn.Module's.
    "nn.utils.parametrize.register_parametrization": _PARAMETRIZE,
    "nn.utils.parametrize.is_parametrized": _PARAMETRIZE,
    "nn.utils.parametrize.remove_parametrizations": _PARAMETRIZE,
    "nn.utils.parametrize.transfer_parametrizations_and_params": _PARAMETRIZE,
    "nn.utils.parametrize.type_before_parametrizations": _PARAMETRIZE,
    "nn.utils.parametrizations.orthogonal": _PARAMETRIZE,
    "nn.utils.parametrizations.spectral_norm": _PARAMETRIZE,
    "nn.utils.parametrizations.weight_norm": _PARAMETRIZE,
    "nn.utils.prune.custom_from_mask": _PRUNE,
    "nn.utils.prune.identity": _PRUNE,
    "nn.utils.prune.is_pruned": _PRUNE,
    "nn.utils.prune.l1_unstructured": _PRUNE,
    "nn.utils.prune.ln_structured": _PRUNE,
    "nn.utils.prune.random_structured": _PRUNE,
    "nn.utils.prune.random_unstructured": _PRUNE,
    "nn.utils.prune.remove": _PRUNE,
    "nn.utils.memory_format.convert_conv2d_weight_memory_format": _MEMORY_FORMAT,
    "nn.utils.memory_format.convert_conv3d_weight_memory_format": _MEMORY_FORMAT,
}

# Documented positional forms a signature does not show: ``state_dict(*args, destination=None,
# prefix='', keep_vars=False)`` documents that positional arguments bind, in order, to these.
POSITIONAL: dict[str, tuple[str, ...]] = {
    "Module.state_dict": ("destination", "prefix", "keep_vars"),
}
