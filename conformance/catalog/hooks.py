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

# Drawn hooks at every depth of a generated graph (issue 11, part 3); the rules are
# conformance.model_hooks [H1]-[H3] and [S1]-[S2].
INVARIANTS += [
    Invariant(
        "hooks.depth_order_prepend_kwargs",
        "documented",
        "hooks",
        'register_forward_pre_hook: "prepend (bool): If true, the provided ``hook`` will be fired before all existing '
        '``forward_pre`` hooks on this :class:`torch.nn.Module`." "Note that global ``forward_pre`` hooks registered '
        'with :func:`register_module_forward_pre_hook` will fire before all hooks registered by this method." '
        '"If ``with_kwargs`` is true, the forward pre-hook will be passed the kwargs given to the forward function. '
        'And if the hook modifies the input, both the args and kwargs should be returned." '
        '"hook(module, args, kwargs) -> None or a tuple of modified input and kwargs" '
        'register_forward_hook: "Note that global ``forward`` hooks registered with '
        ':func:`register_module_forward_hook` will fire before all hooks registered by this method." '
        '"hook(module, args, kwargs, output) -> None or modified output" '
        "(Hooks drawn on modules at any depth and global ones, checked at every call of the call tree.)",
        "torch.nn.Module.register_forward_pre_hook",
    ),
    Invariant(
        "hooks.depth_always_call",
        "documented",
        "hooks",
        'register_forward_hook: "always_call (bool): If ``True`` the ``hook`` will be run regardless of whether an '
        'exception is raised while calling the Module." '
        'torch.nn.modules.module.register_module_forward_hook: "always_call (bool): If ``True`` the ``hook`` will be '
        'run regardless of whether an exception is raised while calling the Module." '
        '"This hook will be executed before specific module hooks registered with ``register_forward_hook``." '
        "(An exception raised by a pre-hook at depth is raised while calling that module and every module whose "
        "call encloses it: each runs its always_call forward hooks, innermost first, global ones first, with "
        "output None; no other hook runs after the raise, and the exception propagates.)",
        "torch.nn.Module.register_forward_hook",
    ),
    Invariant(
        "hooks.depth_remove_during_call",
        "reference",
        "hooks",
        'register_forward_hook, Returns: "a handle that can be used to remove the added hook by calling '
        '``handle.remove()``" (The docs do not say what a removal made during a call does. Rule: the hooks of '
        "one kind that fire at a call are those registered when that kind's firing begins there; a hook removed "
        "by a hook that fired before it in the same firing still fires in it, and in no later firing; a pre-hook "
        "that removes a forward hook of its own module stops it in that same call; a hook that removes itself "
        "fires once. Removing never raises and never disturbs other hooks.)",
        "torch.nn.Module.register_forward_hook",
    ),
    Invariant(
        "hooks.depth_state_dict",
        "documented",
        "hooks",
        'register_state_dict_pre_hook: "hook(module, prefix, keep_vars) -> None" "The registered hooks can be used '
        'to perform pre-processing before the ``state_dict`` call is made." register_state_dict_post_hook: '
        '"hook(module, state_dict, prefix, local_metadata) -> None" (state_dict recurses into children with '
        "``prefix + name + '.'``: on every path to a module, its pre-hooks run before its entries and its "
        "children's, its post-hooks after them, with that path's prefix, in registration order; a removed hook "
        "does not run.)",
        "torch.nn.Module.register_state_dict_pre_hook",
    ),
    Invariant(
        "hooks.depth_load_state_dict",
        "reference",
        "hooks",
        'register_load_state_dict_post_hook: "the ``incompatible_keys`` argument is a ``NamedTuple`` consisting '
        'of attributes ``missing_keys`` and ``unexpected_keys``." (The docs do not say which keys a module\'s hook '
        "sees. Rule: load_state_dict visits the paths of state_dict in its order; a module's load pre-hooks run "
        "before its own keys are judged, with its key prefix; its post-hooks after its subtree is loaded, with the "
        "missing and unexpected keys found so far, in the order of the load's result (so the root's see the final "
        "lists); they run in a strict load that then raises too.)",
        "torch.nn.Module.register_load_state_dict_post_hook",
    ),
]
