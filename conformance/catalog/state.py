"""state_dict / load_state_dict invariants that the spec leaves implicit (structural laws)."""
from conformance.registry import Invariant

INVARIANTS = [
    Invariant(
        "load.assign.keeps_sharing",
        "reference",
        "load_state_dict",
        "Structural law (design.md): round trips are identities and an operation that is not about "
        "structure preserves the sharing structure: after root.load_state_dict(root.state_dict(), "
        "assign=True) the names that were one Parameter or one buffer are still one object.",
        "torch.nn.Module.load_state_dict",
    ),
]

INVARIANTS += [
    Invariant(
        "sd.extra_state_direct",
        "documented",
        "state_dict",
        'get_extra_state: "Implement this and a corresponding :func:`set_extra_state` for your module if you need '
        'to store extra state." set_extra_state: "This function is called from :func:`load_state_dict` to handle '
        'any extra state found within the `state_dict`." (A class that implements neither has no extra state: '
        "Module's own methods raise RuntimeError when called; a class that implements both round-trips its state.)",
        "torch.nn.Module.get_extra_state",
    ),
    Invariant(
        "util.functional_call",
        "documented",
        "state_dict",
        'torch.func.functional_call: "Performs a functional call on the module by replacing the module parameters '
        'and buffers with the provided ones." "If True, then parameters and buffers tied in the '
        'original model will be treated as tied in the reparameterized version." "If True, then the '
        'parameters and buffers passed in must match the parameters and buffers in the original module." '
        "Law: a rejected or temporary call changes nothing (afterwards the module holds its own tensors).",
        "torch.nn.utils.stateless.functional_call",
    ),
]
