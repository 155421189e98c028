"""Reference model for modes, gradients and copies: pure functions of the blueprint, no torch.

Spec sections 4, 5 and 8 (``apply``, ``train``/``eval``, ``zero_grad``, ``requires_grad_``,
copying). The traversal rules come from :mod:`conformance.model`.

- ``train(mode)`` on a module sets the flag on it and on every module below it, and nothing else
  (``train.shared_and_child_only``): a shared module takes the mode of the last call that
  reached it, whichever parent it came through.
- ``train(mode)`` calls ``child.train(mode)`` on each of ``children()`` (``train.eval_is_train_false``),
  so the modules whose ``train`` runs are those of ``apply``: once per parent, not de-duplicated.
- ``requires_grad_(True)`` raises when a parameter cannot require gradients: an integer one.
- A copy (deepcopy, pickle, ``torch.save``/``torch.load``) keeps the sharing structure: every
  *location* (a module path, a parameter or buffer name, a plain attribute) holds the same object
  as every other location the blueprint gives the same node or tensor.
"""
from __future__ import annotations

from conformance.model import join, named_children, named_members, named_modules
from strategies.blueprint import Blueprint


def descendants(bp: Blueprint, node: int) -> set[int]:
    """``node`` and every node below it."""
    seen, todo = {node}, [node]
    while todo:
        for _, child in named_children(bp, todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def training_after(bp: Blueprint, calls: list[tuple[int, bool]]) -> dict[int, bool]:
    """Each reachable node's ``training`` after ``n<node>.train(mode)`` for each call, in order,
    on a freshly built graph (every module starts in training mode)."""
    flags = {i: True for i in bp.reachable()}
    for node, mode in calls:
        flags.update((i, mode) for i in descendants(bp, node))
    return flags


def train_calls(bp: Blueprint, node: int) -> list[int]:
    """The nodes whose ``train`` runs for ``n<node>.train(mode)``, sorted (as a multiset)."""
    out: list[int] = []

    def visit(i: int) -> None:
        out.append(i)
        for _, child in named_children(bp, i):
            visit(child)

    visit(node)
    return sorted(out)


def parameters(bp: Blueprint) -> list[int]:
    """Tensor indices of ``parameters()``: each reachable parameter once."""
    return [ref for _, ref in named_members(bp, "param")]


def requires_grad_raises(bp: Blueprint, requires_grad: bool) -> bool:
    """``requires_grad_(True)`` fails on a non-floating parameter."""
    return requires_grad and any(not bp.tensors[t].floating for t in parameters(bp))


def locations(bp: Blueprint) -> list[tuple[str, str, int]]:
    """Every place the state lives, as ``(kind, path, ref)``: ``kind`` is ``module``, ``param``,
    ``buffer`` or ``plain``; ``ref`` a node index (module) or a tensor index. Shared modules
    appear under every path."""
    modules = named_modules(bp, remove_duplicate=False)
    out = [("module", name, i) for name, i in modules]
    for kind in ("param", "buffer"):
        out += [(kind, name, ref) for name, ref in named_members(bp, kind, remove_duplicate=False)]
    for path, i in modules:
        out += [("plain", join(path, s.name), s.ref) for s in bp.nodes[i].slots if s.kind == "plain"]
    return out


def sharing(keys: list) -> list[int]:
    """For each key, the position of the first equal key: the partition, as a list."""
    first: dict = {}
    return [first.setdefault(key, pos) for pos, key in enumerate(keys)]


def expected_sharing(bp: Blueprint) -> list[tuple[str, str]]:
    """``[(location, location holding the same object first)]`` for :func:`locations`."""
    locs = locations(bp)
    names = [f"{kind} {path!r}" for kind, path, _ in locs]
    firsts = sharing([(kind == "module", ref) for kind, _, ref in locs])
    return [(name, names[f]) for name, f in zip(names, firsts)]
