"""The containers' reference model: plain Python lists and dicts, and no torch.

A container's contents are modelled as ``[(key, item)]`` pairs, where an item is a blueprint
label (``'n3'`` for node 3, ``'t5'`` for tensor 5), ``None``, or a plain Python value. What the
container must then report through the generic Module APIs (``named_parameters``,
``state_dict``) comes from the traversal model, applied to a *virtual* blueprint: the drawn graph
plus one new root node of the container's kind whose slots are the modelled contents.

The rules, with the invariant ids of ``spec/invariants.md`` (section 9) they come from:
- list containers behave as Python lists; their keys are the positions ``'0'..'n-1'``, renumbered
  after ``del``/``pop`` (``seq.setitem_delitem``, ``ml.basics``); a ``Sequential`` slice keeps the
  sliced keys (``seq.slice``);
- ``Sequential.append``/``extend``/``+=`` add at the end under key ``str(len)``
  (``seq.append_insert_extend``); ``+`` and ``*`` give new, renumbered containers (``seq.add_mul``);
- dict containers keep insertion order and overwrite in place (``md.order_update``, ``pd.order``);
  a plain ``dict`` given to a ParameterDict is inserted in sorted key order (``pd.order``, IMPL);
- a list container's parameters come in list order, a dict container's in key order
  (``containers.parameter_order_follows_contents``).
"""

from __future__ import annotations

from conformance import model
from strategies.blueprint import Blueprint, Node, Slot


def renumbered(items: list) -> list[tuple[str, object]]:
    """List-container keys: positions as strings."""
    return [(str(i), item) for i, item in enumerate(items)]


def in_range(n: int, index: int) -> bool:
    """Python list indexing rule, as the containers document it."""
    return -n <= index < n


def out_of_range_message(index: int) -> str:
    return f"index {index} is out of range"


def list_insert(items: list, index: int, item) -> list:
    """``list.insert`` semantics: negative from the end, clamped at both ends."""
    out = list(items)
    out.insert(index, item)
    return out


def sequential_append(pairs: list, item) -> list:
    """``Sequential.append``: the item goes to the end, under key ``str(len)``."""
    return [*pairs, (str(len(pairs)), item)]


def sequential_slice(pairs: list, sl: slice) -> list:
    """A Sequential slice keeps the original keys (``seq.slice``)."""
    return pairs[sl]


def dict_update(pairs: list, new: list, *, sort: bool = False) -> list:
    """``dict.update`` on ordered pairs: existing keys keep their slot, new keys are appended.
    ``sort``: the ParameterDict rule for a plain dict argument (sorted insertion)."""
    out = dict(pairs)
    for key, value in sorted(new) if sort else new:
        out[key] = value
    return list(out.items())


def dict_delete(pairs: list, key: str) -> list:
    return [(k, v) for k, v in pairs if k != key]


def _ref(label) -> int | None:
    return None if label is None else int(label[1:])


def virtual(bp: Blueprint, kind: str, pairs: list) -> Blueprint:
    """The drawn graph plus a new root: a ``kind`` container holding ``pairs``.

    Module containers hold child slots; parameter containers hold parameter slots for tensor
    labels and child slots for node labels. Plain values are not members and are left out."""
    slots = []
    for key, label in pairs:
        if label is None:
            slots.append(Slot("param" if kind.startswith("Parameter") else "child", key, None))
        elif isinstance(label, str) and label[:1] in "nt" and label[1:].isdigit():
            slots.append(Slot("child" if label[0] == "n" else "param", key, _ref(label)))
    return Blueprint((*bp.nodes, Node(kind, tuple(slots))), bp.tensors)


def named_parameters(bp: Blueprint, kind: str, pairs: list) -> list[tuple[str, str]]:
    """``container.named_parameters()`` as ``[(name, 't<i>')]``."""
    return [(name, f"t{i}") for name, i in model.named_members(virtual(bp, kind, pairs), "param")]


def state_dict_keys(bp: Blueprint, kind: str, pairs: list) -> list[str]:
    """``container.state_dict()`` keys."""
    return model.state_dict_keys(virtual(bp, kind, pairs))


def subgraph(bp: Blueprint, node: int) -> Blueprint:
    """The blueprint rooted at ``node``: nodes are topologically ordered, so a prefix works."""
    return Blueprint(bp.nodes[: node + 1], bp.tensors)


def contents(bp: Blueprint, node: int) -> list[tuple[str, str | None]]:
    """A drawn container node's ``[(key, label)]`` as built."""
    prefix = "n" if bp.nodes[node].kind in ("Sequential", "ModuleList", "ModuleDict") else "t"
    return [(s.name, None if s.ref is None else f"{prefix}{s.ref}") for s in bp.nodes[node].slots]
