"""Conversion invariants the suite adds to the spec: the structural laws of design.md applied
to dtype conversions, and the no-op law that ``Module.to`` inherits from ``Tensor.to``."""
from conformance.registry import Invariant

_SHARING = ('design.md structural law: "an operation that is not about structure preserves the sharing '
            'structure (which names are the same module, the same parameter, the same buffer)"')

INVARIANTS = [
    Invariant("conv.sharing.tied_parameters", "reference", "conversion",
              _SHARING + "; here: tied parameters stay one Parameter object.", "torch.nn.Module.to"),
    Invariant("conv.sharing.shared_buffers", "reference", "conversion",
              _SHARING + "; here: a buffer registered under several names stays one tensor.", "torch.nn.Module.to"),
    Invariant("conv.sharing.shared_modules", "reference", "conversion",
              _SHARING + "; here: a module under several parents or names stays one module.", "torch.nn.Module.to"),
    Invariant("conv.noop_keeps_storage", "reference", "conversion",
              'Tensor.to: "If the self Tensor already has the correct torch.dtype and torch.device, then self is '
              'returned." A parameter, buffer or .grad whose dtype a conversion leaves unchanged keeps its storage.',
              "torch.nn.Module.to"),
]

INVARIANTS += [
    Invariant(
        "conv.cuda_device",
        "documented",
        "conversion",
        'cuda: "Move all model parameters and buffers to the GPU." "if specified, all parameters will be '
        'copied to that device" "Returns: Module: self"',
        "torch.nn.Module.cuda",
    ),
]
