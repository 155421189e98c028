"""Laws about the object a backend puts under test, as seen from outside (issue: backend seam)."""
from conformance.registry import Invariant

INVARIANTS = [
    Invariant(
        "backend.names.unprefixed",
        "reference",
        "backend",
        "A wrapper that promises nn.Module behaviour keeps the qualified names of the module it wraps: "
        "named_modules(), named_parameters(), named_buffers() and state_dict() give the wrapped module's "
        "names, with no prefix of the wrapper's own (a declared name map is reported here once; every other "
        "check runs modulo it).",
        "torch.nn.Module.named_modules",
    ),
    Invariant(
        "backend.forward.runs",
        "reference",
        "backend",
        "The object under test is callable like the module it wraps: calling it on the generated forward's "
        "input returns what the eager module returns.",
        "torch.nn.Module.forward",
    ),
    Invariant(
        "backend.wrap.accepts",
        "reference",
        "backend",
        "A wrapper that promises nn.Module behaviour accepts every module the eager forward can be called "
        "on: the wrap step succeeds on any such graph, including roots with buffers registered as None "
        "(register_buffer: \"If ``None``, then operations that run on buffers, such as :attr:`cuda`, are ignored.\").",
        "torch.nn.Module.register_buffer",
    ),
]
