"""Reference model for ``state_dict`` and ``load_state_dict``: pure functions of the blueprint.

Extends :mod:`conformance.model` (which gives the key list); nothing here imports torch.
Paths are key prefixes *with* their trailing dot (``''`` for the root, ``'0.c.'``), one per path
to a module, shared modules on every path, in pre-order.

The rules, with the invariant ids of ``spec/invariants.md``:
- ``state_dict`` visits every path: pre-hook, own entries, children, post-hook (``sd.hooks``);
- a strict load needs exactly the ``state_dict`` keys: ``missing_keys`` are the absent ones in
  ``state_dict`` order; ``unexpected_keys`` are grouped by the module path that owns them (the
  longest path prefixing the key) in pre-order, then in input order
  (``load.nonstrict_reports_and_order``); the error message lists missing, then unexpected keys
  (``load.strict_exact_and_message``);
- values are copied in ``state_dict`` order, so for an object under several keys the last key
  wins (``load.shared_every_path_last_wins``).
"""
from __future__ import annotations

import math

from conformance.model import EXTRA_STATE, EXTRA_STATE_KINDS, own, state_dict_entries
from strategies.blueprint import Blueprint


def paths(bp: Blueprint, *, prefix: str = "") -> list[tuple[str, int]]:
    """``(key prefix, node)`` for every path to a module, in pre-order."""
    out = []

    def visit(i: int, pre: str) -> None:
        out.append((pre, i))
        for name, child in own(bp, i, "child"):
            visit(child, pre + name + ".")

    visit(bp.root, prefix)
    return out


def own_keys(bp: Blueprint, i: int, pre: str) -> list[str]:
    """The keys node ``i`` itself adds at path ``pre``: parameters, persistent buffers, extra state."""
    keys = [pre + name for name, _ in own(bp, i, "param") + own(bp, i, "buffer", persistent_only=True)]
    return keys + ([pre + EXTRA_STATE] if bp.nodes[i].kind in EXTRA_STATE_KINDS else [])


def state_dict_trace(bp: Blueprint, *, prefix: str = "") -> list[tuple[str, str, int | None]]:
    """What ``state_dict(prefix=prefix)`` does, in order: ``('pre', path, node)`` when a module's
    pre-hooks run, ``('key', key, None)`` per entry, ``('post', path, node)`` for post-hooks."""
    out = []

    def visit(i: int, pre: str) -> None:
        out.append(("pre", pre, i))
        out.extend(("key", key, None) for key in own_keys(bp, i, pre))
        for name, child in own(bp, i, "child"):
            visit(child, pre + name + ".")
        out.append(("post", pre, i))

    visit(bp.root, prefix)
    return out


def member_keys(bp: Blueprint) -> list[tuple[str, int, str, str, int]]:
    """``(key, node, slot kind, slot name, tensor)`` for every tensor entry, in state_dict order."""
    return [
        (pre + name, i, kind, name, ref)
        for pre, i in paths(bp)
        for kind in ("param", "buffer")
        for name, ref in own(bp, i, kind, persistent_only=True)
    ]


def last_writers(bp: Blueprint) -> dict[tuple[int, str], str]:
    """``(node, slot name) -> key`` assigned last to that slot (``assign=True``: the last path wins)."""
    return {(i, name): key for key, i, _, name, _ in member_keys(bp)}


def last_copied(bp: Blueprint) -> dict[int, str]:
    """``tensor -> key`` copied last into that object (``assign=False``: the last key holding it wins)."""
    return {ref: key for key, _, _, _, ref in member_keys(bp)}


def owner(bp: Blueprint, key: str) -> str:
    """The path whose module judges ``key``: the longest path that prefixes it."""
    return max((pre for pre, _ in paths(bp) if key.startswith(pre)), key=len)


def missing_keys(bp: Blueprint, given: list[str]) -> list[str]:
    present = set(given)
    return [key for key, _ in state_dict_entries(bp) if key not in present]


def unexpected_keys(bp: Blueprint, given: list[str]) -> list[str]:
    expected = {key for key, _ in state_dict_entries(bp)}
    rank = {pre: n for n, (pre, _) in enumerate(paths(bp))}
    extra = [(rank[owner(bp, key)], n, key) for n, key in enumerate(given) if key not in expected]
    return [key for _, _, key in sorted(extra)]


def strict_error(class_name: str, missing: list[str], unexpected: list[str]) -> str:
    """The ``RuntimeError`` message of a strict load that fails on keys only."""
    msgs = []
    if missing:
        msgs.append("Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
    if unexpected:
        msgs.append("Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
    return f"Error(s) in loading state_dict for {class_name}:\n\t" + "\n\t".join(msgs)


def class_name(bp: Blueprint, node: int) -> str:
    """``type(n).__name__`` of a built node: its kind (``Module``, ``Linear``, ``ExtraState``...)."""
    return bp.nodes[node].kind


def stray_keys(bp: Blueprint) -> dict[str, list[str]]:
    """Keys no ``state_dict`` holds, by the reason they are unexpected.

    ``ordinary``: an unknown name, a key under a tensor or plain attribute, a child's own name,
    a non-persistent buffer, a ``None`` parameter or buffer. ``none_child``: a key under a child
    registered as ``None``. ``extra_state``: ``_extra_state`` for a class without
    ``set_extra_state``.
    """
    out: dict[str, list[str]] = {"ordinary": [], "none_child": [], "extra_state": []}
    for pre, i in paths(bp):
        out["ordinary"].append(pre + "zzz")
        for s in bp.nodes[i].slots:
            if s.kind == "child":
                out["ordinary" if s.ref is not None else "none_child"].append(pre + s.name + ("" if s.ref is not None else ".w"))
            elif s.ref is None or not s.persistent or s.kind == "plain":
                out["ordinary"].append(pre + s.name)
            else:
                out["ordinary"].append(pre + s.name + ".x")
        if bp.nodes[i].kind not in EXTRA_STATE_KINDS:
            out["extra_state"].append(pre + EXTRA_STATE)
    keys = {key for key, _ in state_dict_entries(bp)}
    return {reason: list(dict.fromkeys(k for k in ks if k not in keys)) for reason, ks in out.items()}


# -- values (invariant ``util.functional_call``) --------------------------------------------------
def value_sum(shape: tuple, dtype: str, seed: int) -> int:
    """The sum of the builder's tensor ``_t(shape, dtype, seed)`` (``conformance.build``: entry
    ``k`` is ``(7k + seed) % 11 - 5``, ``> 0`` for bool, wrapped modulo 256 for uint8); small
    integers, exact in every floating dtype the suite draws."""
    total = 0
    for k in range(math.prod(shape)):
        v = (k * 7 + seed) % 11 - 5
        total += (v > 0) if dtype == "bool" else v % 256 if dtype == "uint8" else v
    return total


def full_sum(shape: tuple, dtype: str, k: int) -> int:
    """The sum of ``torch.full(shape, k, dtype=dtype)`` for ``0 <= k <= 3``."""
    return math.prod(shape) * (bool(k) if dtype == "bool" else k)


# -- parameter container extra_repr (invariant ``containers.param_extra_repr``) -------------------
# [R1] ``ParameterList.extra_repr()`` / ``ParameterDict.extra_repr()`` is one line per entry, in
# the container's order, joined by newlines (the empty string for an empty container): two
# spaces, ``(key): `` (the index for a list) and, for a tensor, ``Parameter containing: [<type>
# of size <d1>x<d2>...]`` (``Tensor containing`` for a tensor that is not a Parameter; the size
# empty for a 0-d tensor; a device suffix `` (cuda:0)`` on accelerators only), where ``<type>``
# is the dtype (``torch.float32``) for a list and the tensor type name (``torch.FloatTensor``)
# for a dict; for any other value, ``Object of type: <type name>``.
TENSOR_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                     "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                     "uint8": "ByteTensor", "bool": "BoolTensor"}


def container_extra_repr(kind: str, entries) -> str:
    """[R1] ``entries``: ``[(key, (is_parameter, shape, dtype name) | type name)]`` of a
    ``ParameterList`` or ``ParameterDict`` on the CPU: a tensor's description, or the type name
    of any other value (``'NoneType'`` for ``None``)."""
    lines = []
    for key, entry in entries:
        if isinstance(entry, str):
            text = f"Object of type: {entry}"
        else:
            is_param, shape, dtype = entry
            kind_text = f"torch.{dtype}" if kind == "ParameterList" else f"torch.{TENSOR_TYPE_NAMES[dtype]}"
            text = (f"{'Parameter' if is_param else 'Tensor'} containing: "
                    f"[{kind_text} of size {'x'.join(str(d) for d in shape)}]")
        lines.append(f"  ({key}): {text}")
    return "\n".join(lines)
