"""Hook invariants checked on generated graphs (a generated forward, ``conformance.forward``),
beyond the spec's hook entries in ``spec.py``. Expected firings come from
``conformance.model_hooks``."""
from conformance.registry import Invariant

INVARIANTS = [
    Invariant(
        "hooks.fire_per_call",
        "documented",
        "hooks",
        'register_forward_pre_hook: "The hook will be called every time before :func:`forward` is invoked." '
        'register_forward_hook: "The hook will be called every time after :func:`forward` has computed an output." '
        "(Nested calls: a module's pre-hook fires when its call begins, its forward hook when the call returns, "
        "so a child's hooks fire between its parent's.)",
        "torch.nn.Module.register_forward_hook",
    ),
    Invariant(
        "hooks.global_fire_per_call",
        "documented",
        "hooks",
        'register_module_forward_pre_hook: "Register a forward pre-hook common to all modules." "The hook will be '
        'called every time before :func:`forward` is invoked." "This hook has precedence over the specific module '
        'hooks registered with ``register_forward_pre_hook``." register_module_forward_hook: "This hook will be '
        'executed before specific module hooks registered with ``register_forward_hook``."',
        "torch.nn.modules.module.register_module_forward_pre_hook",
    ),
    Invariant(
        "hooks.removed_handle_silent",
        "documented",
        "hooks",
        'register_forward_hook, Returns: "a handle that can be used to remove the added hook by calling '
        '``handle.remove()``" (a removed hook no longer fires; the others still do)',
        "torch.nn.Module.register_forward_hook",
    ),
]

INVARIANTS += [
    Invariant(
        "hooks.backward_order_prepend",
        "documented",
        "hooks",
        'register_full_backward_pre_hook: "The hook will be called every time the gradients for the module are '
        'computed." "If true, the provided ``hook`` will be fired before all existing '
        '``backward_pre`` hooks on this :class:`torch.nn.Module`. Otherwise, the provided ``hook`` will be fired '
        'after all existing ``backward_pre`` hooks" register_full_backward_hook: "The hook will be called every '
        'time the gradients with respect to a module are computed" (and likewise for ``prepend`` of ``backward`` '
        "hooks). (Nested calls: the gradient reaches a module's output before its children's and its input after "
        "them.)",
        "torch.nn.Module.register_full_backward_pre_hook",
    ),
]
