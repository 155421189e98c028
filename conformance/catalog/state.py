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
