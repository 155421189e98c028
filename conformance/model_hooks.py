"""The reference model of a generated ``forward`` and of the hooks that fire around it.

Pure functions of a :class:`~strategies.blueprint.Blueprint`; nothing here imports torch.
``conformance.forward`` renders the forward these rules describe, so the rules are the
contract both sides meet: the renderer writes code from them, and the tests observe the live
graph (hooks, gradients, the tensors a call reads) and compare with them.

Rules of the generated forward (``forward(self, x)``, ``x`` a float32 tensor of shape ``(1,)``,
the result the same):

- [F1] A ``Module``/``ExtraState`` node is an instance of a generated class. Its forward goes
  through the node's slots in registration order: a parameter or buffer is *touched*
  (``x = x + member.to(x).sum()``), a child is *used* (below); ``None`` slots and plain
  (unregistered) tensor attributes are skipped. A module registered under two names is used
  once per registration.
- [F2] Using a child: a generated-class node is called (``x = child(x)``); a ``Sequential`` is
  called as a module when it *accepts* ``x`` (every slot holds a module that accepts ``x``:
  a generated class or such a ``Sequential``; an empty one is the identity), otherwise its
  modules are used one by one, in order; ``ModuleList``/``ModuleDict`` use their modules in
  order; ``ParameterList``/``ParameterDict`` touch their parameters in order; a built-in layer
  is called with a zero input when ``layer_called`` (and the members the call may leave unread
  are touched after it), otherwise each of its non-None members is touched.
- [F3] A built-in layer is called when its members are as its constructor makes them: every
  member (``strategies.layers.LAYERS``) non-None but an optional bias, of the documented shape,
  the fixed-dtype ones (``num_batches_tracked``) of their dtype and all the floating ones of one
  floating dtype; and BatchNorm1d has at least one feature (``BatchNorm1d(0)`` raises on any
  input). A tie or a member assignment that breaks this makes the call invalid for some draws
  (mixed dtypes: ``expected scalar type Float but found Double``; other shapes), so the layer is
  only touched. The input (``LAYER_INPUTS``) is ``<first member>.new_zeros(shape)``: its dtype
  and device follow the layer's, so it stays valid after ``.double()``/``.half()``/``.to()``.
- [F4] The object under test is callable with ``x`` only when the root accepts ``x``
  (``root_accepts``): a generated class or an accepting ``Sequential``. Roots of other kinds
  (``ModuleList``, ``ModuleDict``, parameter containers, a one-node blueprint whose root is a
  layer) have no forward of that signature.

Hooks (invariants ``hooks.fire_per_call``, ``hooks.global_fire_per_call``,
``hooks.removed_handle_silent``): a forward pre-hook fires when a module's call begins and a
forward hook when it returns, once per call, so ``hook_events`` is the call tree walked with
``pre`` on the way down and ``post`` on the way up; global hooks see the same events. Drawn hooks
at any depth (``forward_firings``: order with ``prepend`` and global hooks [H1], removal during a
call [H2], a raising pre-hook and ``always_call`` [H3]) and the ``state_dict``/``load_state_dict``
hooks (``state_dict_hook_firings`` [S1], ``load_hook_firings`` [S2]) are further below.
"""
from __future__ import annotations

from strategies.blueprint import Blueprint
from strategies.layers import LAYERS

GENERATED = ("Module", "ExtraState")  # kinds rendered as generated classes [F1]
ITERATED = ("ModuleList", "ModuleDict")  # no forward: their modules are used in order [F2]
PARAMETER_CONTAINERS = ("ParameterList", "ParameterDict")  # their parameters are touched [F2]

# Layer kind -> (name of the member the zero input is made from, input shape from the layer's
# constructor arguments, input dtype: None = the member's, else a fixed dtype name) [F3].
LAYER_INPUTS = {
    "Linear": ("weight", lambda a: (a[0],), None),  # unbatched (in_features,)
    "Conv2d": ("weight", lambda a: (a[0], a[2], a[2]), None),  # unbatched (C_in, k, k)
    "BatchNorm1d": ("weight", lambda a: (2, a[0]), None),  # a batch of 2: training mode needs >1 value
    "Embedding": ("weight", lambda a: (1,), "int64"),  # one index, 0
    "LSTM": ("weight_ih_l0", lambda a: (1, a[0]), None),  # unbatched (L=1, input_size); output [0]
    "LayerNorm": ("weight", lambda a: (a[0],), None),
}
# Layer kind -> members its call may leave unread (BatchNorm1d reads num_batches_tracked in
# training mode only): touched after the call, so every member is touched in every mode [F2].
UNREAD_BY_CALL = {"BatchNorm1d": ("num_batches_tracked",)}
# The call's value is its output, or this element of it (LSTM returns (output, (h, c))).
LAYER_OUTPUT_INDEX = {"LSTM": 0}


def layer_called(bp: Blueprint, i: int) -> bool:
    """[F3] Whether layer node ``i`` is called (else only its members are touched)."""
    node = bp.nodes[i]
    layer = LAYERS[node.kind]
    args = node.args[: len(layer.arg_names)]
    if node.kind == "BatchNorm1d" and args[0] < 1:
        return False
    refs = {s.name: s.ref for s in node.slots}
    if node.kind == "BatchNorm1d" and any(
            refs.get(n) is not None and bp.tensors[refs[n]].requires_grad for n in ("running_mean", "running_var")):
        return False  # torch refuses running statistics that require grad ("not differentiable ...")
    floating = set()
    for member in layer.members:
        ref = refs.get(member.name)
        if ref is None:
            if member.optional:
                continue
            return False
        spec = bp.tensors[ref]
        if spec.shape != tuple(member.shape(args)):
            return False
        if member.dtype is not None:
            if spec.dtype != member.dtype:
                return False
        elif spec.floating:
            floating.add(spec.dtype)
        else:
            return False
    return len(floating) <= 1


def accepts(bp: Blueprint, i: int) -> bool:
    """[F2] Whether node ``i`` maps ``x`` to ``x`` when called as a module."""
    node = bp.nodes[i]
    if node.kind in GENERATED:
        return True
    if node.kind == "Sequential":
        return all(s.ref is not None and accepts(bp, s.ref) for s in node.slots)
    return False


def root_accepts(bp: Blueprint) -> bool:
    """[F4] Whether ``root(x)`` is defined for this blueprint."""
    return accepts(bp, bp.root)


def members(bp: Blueprint, i: int) -> list[tuple[str, int]]:
    """A node's non-None parameters and buffers, in slot order: what touching it reads."""
    return [(s.name, s.ref) for s in bp.nodes[i].slots if s.kind in ("param", "buffer") and s.ref is not None]


def _use(bp: Blueprint, i: int, out: list) -> None:
    """[F2] The events of using node ``i`` from its parent."""
    node = bp.nodes[i]
    if node.kind in GENERATED or (node.kind == "Sequential" and accepts(bp, i)):
        _call(bp, i, out)
    elif node.kind in ("Sequential",) + ITERATED:
        for s in node.slots:
            if s.ref is not None:
                _use(bp, s.ref, out)
    elif node.kind in PARAMETER_CONTAINERS:
        out.extend(("touch", ref) for _, ref in members(bp, i))
    elif node.kind in LAYERS:
        if layer_called(bp, i):
            out.append(("pre", i))
            out.extend(("touch", ref) for _, ref in members(bp, i))
            out.append(("post", i))
        else:
            out.extend(("touch", ref) for _, ref in members(bp, i))
    else:
        raise ValueError(f"node kind {node.kind!r} has no forward rule")


def _call(bp: Blueprint, i: int, out: list) -> None:
    """[F1]/[F2] The events of calling node ``i`` as a module (it accepts ``x``)."""
    node = bp.nodes[i]
    out.append(("pre", i))
    for s in node.slots:
        if s.ref is None or s.kind == "plain":
            continue
        if s.kind == "child":
            _use(bp, s.ref, out)
        else:
            out.append(("touch", s.ref))
    out.append(("post", i))


def events(bp: Blueprint) -> list[tuple[str, int]]:
    """``root(x)`` as a list of events: ``('pre', node)`` when a module's call begins,
    ``('post', node)`` when it returns, ``('touch', tensor)`` when a member is read (a called
    layer's members count as read by its call). The root must accept ``x`` [F4]."""
    if not root_accepts(bp):
        raise ValueError("the root has no forward taking x (see root_accepts)")
    out: list[tuple[str, int]] = []
    _call(bp, bp.root, out)
    return out


def call_order(bp: Blueprint) -> list[int]:
    """The modules ``root(x)`` calls, in the order the calls begin (a module once per call)."""
    return [i for what, i in events(bp) if what == "pre"]


def hook_events(bp: Blueprint, hooked=None) -> list[tuple[str, int]]:
    """(``hooks.fire_per_call``) The forward pre-hook (``'pre'``) and forward hook (``'post'``)
    firings of ``root(x)`` when every module in ``hooked`` (default: all) has one of each: once
    per call, pre-hooks as calls begin, forward hooks as they return (a child's before its
    parent's)."""
    return [(what, i) for what, i in events(bp) if what != "touch" and (hooked is None or i in hooked)]


def touched(bp: Blueprint) -> list[int]:
    """Every tensor ``root(x)`` reads, each once, in first-read order: all non-None parameters
    and buffers of every module it reaches (plain attributes are not members)."""
    return list(dict.fromkeys(t for what, t in events(bp) if what == "touch"))


# -- full backward hooks (invariant ``hooks.backward_order_prepend``) ---------------------------
# [B1] ``root(x).sum().backward()`` with ``x`` requiring grad runs the call tree backwards: the
# generated forward threads ``x`` through every call (members are added to it, children map it),
# so the gradient reaches a module's output after everything that ran later, and its input after
# everything it called. A module's full backward pre-hooks fire when the gradient with respect to
# its output is computed (``'bpre'``: the reverse of its forward hook's place), its full backward
# hooks when the gradient with respect to its input is (``'bpost'``: the reverse of its forward
# pre-hook's place), once per call. Only modules called on ``x``'s path (generated classes and
# accepting ``Sequential``s, ``on_path``) are hooked: a called layer takes a zero input that
# needs no gradient.
# [B2] Hooks of one kind on one module fire in registration order, except that one registered
# with ``prepend=True`` goes before every hook of that kind registered earlier (``hook_order``).

def on_path(bp: Blueprint) -> list[int]:
    """[B1] The nodes ``root(x)`` calls with ``x`` itself (each once), in call order."""
    return list(dict.fromkeys(i for i in call_order(bp) if bp.nodes[i].kind in GENERATED + ("Sequential",)))


def hook_order(regs) -> list[int]:
    """[B2] Firing order of hooks registered in the order of ``regs`` (each its ``prepend`` flag)."""
    order: list[int] = []
    for i, prepend in enumerate(regs):
        order.insert(0, i) if prepend else order.append(i)
    return order


def backward_events(bp: Blueprint, hooked) -> list[tuple[str, int]]:
    """[B1] ``('bpre', node)`` / ``('bpost', node)`` of ``root(x).sum().backward()`` for the
    modules in ``hooked`` (nodes of ``on_path``): ``hook_events`` reversed, a forward hook's
    place becoming the backward pre-hook's and a pre-hook's the backward hook's."""
    swap = {"post": "bpre", "pre": "bpost"}
    return [(swap[what], i) for what, i in reversed(hook_events(bp, set(hooked)))]


# -- member reads (invariant ``util.functional_call``) --------------------------------------------
def member_reads(bp: Blueprint) -> list[tuple[int, str, int]]:
    """[F1]/[F2] Every member read of ``root(x)`` as ``(owner node, slot name, tensor)``, in
    order, repeats included: the slot is read on the module that holds it, whichever path the
    call went through. For graphs without built-in layers (a called layer's reads are its own)."""
    out: list[tuple[int, str, int]] = []

    def use(i: int) -> None:
        node = bp.nodes[i]
        if node.kind in GENERATED or (node.kind == "Sequential" and accepts(bp, i)):
            call(i)
        elif node.kind in ("Sequential",) + ITERATED:
            for s in node.slots:
                if s.ref is not None:
                    use(s.ref)
        elif node.kind in PARAMETER_CONTAINERS:
            out.extend((i, name, ref) for name, ref in members(bp, i))
        else:
            raise ValueError(f"member_reads: node kind {node.kind!r} (a layer) is not modelled")

    def call(i: int) -> None:
        for s in bp.nodes[i].slots:
            if s.ref is None or s.kind == "plain":
                continue
            if s.kind == "child":
                use(s.ref)
            else:
                out.append((i, s.name, s.ref))

    if not root_accepts(bp):
        raise ValueError("the root has no forward taking x (see root_accepts)")
    call(bp.root)
    return out


# -- forward hooks at depth: drawn hooks, prepend, global ones, removal in a call, a raise ----------
# [H1] At a call of module ``i``, its forward pre-hooks fire as the call begins and its forward
# hooks as it returns (``hook_events``): first the global ones (``register_module_forward_*``, in
# registration order), then the module's own in ``hook_order`` (a ``prepend=True`` hook goes
# before every hook of that kind the module had). ``with_kwargs`` changes what a hook receives
# (``(module, args, kwargs)``, ``(module, args, kwargs, output)``), not when it fires.
# [H2] (reference: the docs are silent) The hooks of one kind that fire at a call are those
# registered when that kind's firing begins there: a hook removed earlier does not fire, a hook
# removed by a hook that fires before it in the same firing still fires in it (and in no later
# one). So a pre-hook that removes a forward hook of the module it runs for stops it in that very
# call, and a hook that removes itself fires once.
# [H3] A pre-hook that raises stops everything after it: the hooks after it in that firing, its
# module's forward, the rest of every enclosing call. Each call it unwinds through, innermost
# first, runs its ``always_call`` forward hooks, the global ones first, with ``output`` None; the
# exception then propagates out of ``root(x)``.

class Hook(tuple):
    """One hook: ``Hook(node, kind, prepend=False, always=False)``; ``node`` None is a global
    hook, ``kind`` is ``'pre'`` or ``'post'``. Plain data: a tuple with names."""

    __slots__ = ()

    def __new__(cls, node, kind, prepend=False, always=False):
        if kind not in ("pre", "post"):
            raise ValueError(f"hook kind {kind!r}: use 'pre' or 'post'")
        return super().__new__(cls, (node, kind, bool(prepend), bool(always)))

    node = property(lambda self: self[0])
    kind = property(lambda self: self[1])
    prepend = property(lambda self: self[2])
    always = property(lambda self: self[3])


def firing_order(hooks, node, kind, active) -> list[int]:
    """[H1] Indices of the hooks in ``active`` that fire, in order, at a call of ``node`` for
    ``kind``: the global ones in registration order, then ``node``'s own in ``hook_order``."""
    glob = [j for j in sorted(active) if hooks[j].node is None and hooks[j].kind == kind]
    own = [j for j in sorted(active) if hooks[j].node == node and hooks[j].kind == kind]
    return glob + [own[k] for k in hook_order([hooks[j].prepend for j in own])]


def forward_firings(bp: Blueprint, hooks, *, removes=None, raises=(),
                    calls: int = 1) -> tuple[list[tuple[int, int, str]], bool]:
    """[H1]-[H3] The forward hook firings of ``calls`` calls ``root(x)`` as ``(hook index, node
    called, 'pre' | 'post' | 'unwind')``, and whether a call raised (the calls stop there).
    ``hooks``: :class:`Hook` s in registration order; ``removes``: ``{j: k}``, hook ``j`` removes
    hook ``k`` whenever it fires (a no-op after the first time; removed hooks stay removed in the
    later calls); ``raises``: indices of pre-hooks that raise when they fire. ``'unwind'``: an
    ``always_call`` forward hook run while the exception unwinds (its ``output`` is None)."""
    removes = dict(removes or {})
    active = set(range(len(hooks)))
    out: list[tuple[int, int, str]] = []
    for _ in range(calls):
        stack: list[int] = []
        for what, i in events(bp):
            if what == "touch":
                continue
            if what == "post":
                for j in firing_order(hooks, i, "post", active):
                    out.append((j, i, "post"))
                    if j in removes:
                        active.discard(removes[j])
                stack.pop()
                continue
            stack.append(i)
            for j in firing_order(hooks, i, "pre", active):
                out.append((j, i, "pre"))
                if j in removes:
                    active.discard(removes[j])
                if j in raises:
                    for k in reversed(stack):
                        out.extend((m, k, "unwind") for m in firing_order(hooks, k, "post", active) if hooks[m].always)
                    return out, True
    return out, False


# -- state_dict and load_state_dict hooks at depth ------------------------------------------------
# [S1] ``state_dict(prefix=p)`` runs, on every path to a module (``model_state.state_dict_trace``),
# the module's state_dict pre-hooks before its entries and its children's, and its post-hooks
# after them, each hook once per path with that path's key prefix, a module's hooks of one kind
# in registration order.
# [S2] ``load_state_dict`` visits the same paths in the same order: a module's load pre-hooks run
# before its own keys are judged (with its key prefix), its load post-hooks after its whole
# subtree is loaded. (reference: the docs do not say which keys) A post-hook's
# ``incompatible_keys`` hold the missing and unexpected keys found so far in the load: those of
# every path visited before it (its own subtree included), in the order of the load's result,
# so the root's post-hooks see the load's final lists; they run in a strict load that then fails too.

def state_dict_hook_firings(bp: Blueprint, hooks, *, prefix: str = "") -> list[tuple[int, str, int]]:
    """[S1] ``(hook index, key prefix, entries in the result so far)`` of
    ``state_dict(prefix=prefix)``; ``hooks``: ``(node, 'pre' | 'post')`` in registration order."""
    from conformance.model_state import state_dict_trace

    out = []
    keys = 0
    for what, path, i in state_dict_trace(bp, prefix=prefix):
        if what == "key":
            keys += 1
        else:
            out.extend((j, path, keys) for j, (node, kind) in enumerate(hooks) if node == i and kind == what)
    return out


def load_hook_firings(bp: Blueprint, hooks, given) -> list[tuple]:
    """[S2] The load hooks' firings of ``load_state_dict(sd)`` with ``sd``'s keys ``given`` (in
    order): ``(hook index, 'pre', key prefix)`` and ``(hook index, 'post', missing keys so far,
    unexpected keys so far)``; ``hooks``: ``(node, 'pre' | 'post')`` in registration order."""
    from conformance.model import state_dict_entries
    from conformance.model_state import own_keys, owner, state_dict_trace

    expected = {key for key, _ in state_dict_entries(bp)}
    present = set(given)
    missing: list[str] = []
    unexpected: list[str] = []
    out: list[tuple] = []
    for what, path, i in state_dict_trace(bp):
        if what == "pre":
            out.extend((j, "pre", path) for j, (node, kind) in enumerate(hooks) if node == i and kind == "pre")
            missing += [key for key in own_keys(bp, i, path) if key not in present]
            unexpected += [key for key in given if key not in expected and owner(bp, key) == path]
        elif what == "post":
            out.extend((j, "post", list(missing), list(unexpected))
                       for j, (node, kind) in enumerate(hooks) if node == i and kind == "post")
    return out
