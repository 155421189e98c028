"""Invariants of the whole-graph state machine and the rejected-call law (issue 11)."""
from conformance.registry import Invariant

INVARIANTS = [
    Invariant(
        "machine.graph_sequence",
        "reference",
        "registration",
        "Structural law (design.md: APIs agree, sharing preserved): after any sequence of documented calls "
        "(add_module/register_parameter/register_buffer with new, tied or shared values, setattr of "
        "Parameters, Modules, tensors, nn.Buffer and None onto names of every kind, delattr, train/eval, "
        "requires_grad_, zero_grad, float/double/half, load_state_dict of an earlier snapshot with and "
        "without strict and assign, copy.deepcopy), named_modules/named_children/named_parameters/"
        "named_buffers (with and without de-duplication), state_dict keys, every training flag, dtype, "
        "requires_grad and value, and which names hold one object, are what the reference model of the "
        "edited blueprint gives (conformance.model_machine).",
        "torch.nn.Module",
    ),
    Invariant(
        "law.rejected_call_changes_nothing",
        "reference",
        "registration",
        "Structural law (design.md): a call Module rejects (a malformed or clashing name, a value of the "
        "wrong type, an unused name deleted, a non-bool mode, a state_dict that is not a mapping or whose "
        "keys do not match a strict load) raises and leaves the graph exactly as it was: members, their "
        "order and persistence, objects, values, flags and hooks.",
        "torch.nn.Module",
    ),
]
