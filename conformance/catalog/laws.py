"""Structural laws of design.md that the spec leaves implicit: round trips are identities."""
from conformance.registry import Invariant

_ROUND_TRIP = "Structural law (design.md): round trips are identities (deepcopy, pickle, torch.save/torch.load)"

INVARIANTS = [
    Invariant(
        "law.copy.keeps_state",
        "reference",
        "grad_and_copy",
        f"{_ROUND_TRIP}: the copy has equal values, dtypes, shapes, tensor types, requires_grad, "
        "training flags and extra state.",
        "torch.nn.Module",
    ),
    Invariant(
        "law.copy.keeps_grads",
        "reference",
        "grad_and_copy",
        f"{_ROUND_TRIP}: each parameter's .grad comes back, equal in value, as copy.deepcopy of a "
        "plain tensor keeps its .grad.",
        "torch.nn.Module",
    ),
]

INVARIANTS += [
    Invariant(
        "attr.extra_repr_default",
        "reference",
        "registration",
        'extra_repr: "Return the extra representation of the module. To print customized extra information, you '
        'should re-implement this method in your own modules." (A class that does not re-implement it has no '
        "extra information: Module.extra_repr() is the empty string.)",
        "torch.nn.Module.extra_repr",
    ),
]
