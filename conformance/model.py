"""The reference model: what each API must return, computed from the blueprint alone.

Pure functions of a :class:`~strategies.blueprint.Blueprint`. Nothing here imports torch: the
oracle never runs the implementation under test. Modules are node indices, tensors are tensor
indices; tests map live objects to these through :class:`conformance.build.Graph`.

The rules, with the invariant ids of ``spec/invariants.md`` they come from:
- pre-order, root first, children in registration order (``traversal.named_modules.preorder``);
- a name is ``prefix + '.' + path``, the dot only when the prefix is non-empty
  (``traversal.named_modules.prefix``);
- de-duplication is by identity, the first path in pre-order wins, and a module in the memo is
  skipped with its whole subtree (``traversal.modules.dedup``, ``traversal.dedup.first_path_wins``,
  ``traversal.named_modules.memo``); ``remove_duplicate=False`` on members turns off module
  de-duplication too (``traversal.named_parameters.remove_duplicate_false_modules``);
- ``None`` entries are skipped everywhere (``traversal.none_entries_skipped``);
- ``state_dict`` walks every path without de-duplication: own parameters, then own persistent
  buffers, then ``_extra_state``, then the children (``sd.order``, ``sd.shared_module_every_path``);
- ``apply`` is post-order over ``children()``, which de-duplicates per parent only
  (``apply.postorder_returns_self``, ``apply.shared_visited_per_parent``).
"""
from __future__ import annotations

from strategies.blueprint import Blueprint

EXTRA_STATE = "_extra_state"
EXTRA_STATE_KINDS = ("ExtraState",)  # node kinds whose class overrides get/set_extra_state


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def own(bp: Blueprint, node: int, kind: str, *, persistent_only: bool = False) -> list[tuple[str, int]]:
    """A node's registered, non-None members of one slot kind, in slot order."""
    return [
        (s.name, s.ref)
        for s in bp.nodes[node].slots
        if s.kind == kind and s.ref is not None and (s.persistent or not persistent_only)
    ]


def named_children(bp: Blueprint, node: int) -> list[tuple[str, int]]:
    """``named_children()``: direct children, de-duplicated by identity within this node."""
    seen, out = set(), []
    for name, child in own(bp, node, "child"):
        if child not in seen:
            seen.add(child)
            out.append((name, child))
    return out


def named_modules(
    bp: Blueprint, *, node: int | None = None, prefix: str = "", memo: set | None = None, remove_duplicate: bool = True
) -> list[tuple[str, int]]:
    """``named_modules(memo, prefix, remove_duplicate)`` of ``node`` (default: the root)."""
    memo = set() if memo is None else memo
    out: list[tuple[str, int]] = []

    def visit(i: int, name: str) -> None:
        if i in memo:
            return
        if remove_duplicate:
            memo.add(i)
        out.append((name, i))
        for child_name, child in own(bp, i, "child"):
            visit(child, join(name, child_name))

    visit(bp.root if node is None else node, prefix)
    return out


def named_members(
    bp: Blueprint, kind: str, *, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
) -> list[tuple[str, int]]:
    """``named_parameters`` (kind ``'param'``) or ``named_buffers`` (kind ``'buffer'``)."""
    if recurse:
        modules = named_modules(bp, prefix=prefix, remove_duplicate=remove_duplicate)
    else:
        modules = [(prefix, bp.root)]
    seen, out = set(), []
    for module_name, i in modules:
        for name, ref in own(bp, i, kind):
            if remove_duplicate and ref in seen:
                continue
            seen.add(ref)
            out.append((join(module_name, name), ref))
    return out


def state_dict_entries(bp: Blueprint, *, prefix: str = "") -> list[tuple[str, tuple[str, int]]]:
    """``state_dict(prefix=prefix)`` keys, in order, each with what it holds:
    ``('tensor', t)`` or ``('extra', node)``. The prefix is concatenated verbatim."""
    out = []

    def visit(i: int, pre: str) -> None:
        out.extend((pre + name, ("tensor", ref)) for name, ref in own(bp, i, "param"))
        out.extend((pre + name, ("tensor", ref)) for name, ref in own(bp, i, "buffer", persistent_only=True))
        if bp.nodes[i].kind in EXTRA_STATE_KINDS:
            out.append((pre + EXTRA_STATE, ("extra", i)))
        for name, child in own(bp, i, "child"):
            visit(child, pre + name + ".")

    visit(bp.root, prefix)
    return out


def state_dict_keys(bp: Blueprint, *, prefix: str = "") -> list[str]:
    return [key for key, _ in state_dict_entries(bp, prefix=prefix)]


def metadata_paths(bp: Blueprint, *, prefix: str = "") -> list[tuple[str, int]]:
    """``state_dict()._metadata``: one entry per path (shared modules on every path), in order.
    The key is the module's key prefix without its trailing dot."""
    out = []

    def visit(i: int, pre: str) -> None:
        out.append((pre.removesuffix("."), i))
        for name, child in own(bp, i, "child"):
            visit(child, pre + name + ".")

    visit(bp.root, prefix)
    return out


def apply_order(bp: Blueprint) -> list[int]:
    """``apply(fn)`` visits: children (as ``children()`` gives them) first, then the module."""
    out: list[int] = []

    def visit(i: int) -> None:
        for _, child in named_children(bp, i):
            visit(child)
        out.append(i)

    visit(bp.root)
    return out


def plain_attributes(bp: Blueprint) -> list[tuple[int, str, int]]:
    """Unregistered tensor attributes: (node, name, tensor) over reachable nodes."""
    return [(i, s.name, s.ref) for i in bp.reachable() for s in bp.nodes[i].slots if s.kind == "plain"]


def tensor_roles(bp: Blueprint) -> dict[int, str]:
    """Each registered tensor reachable from the root: ``'param'`` or ``'buffer'``."""
    roles = {}
    for i in bp.reachable():
        for s in bp.nodes[i].slots:
            if s.kind in ("param", "buffer") and s.ref is not None:
                roles[s.ref] = s.kind
    return roles
