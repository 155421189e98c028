"""Which features a blueprint exhibits: the vocabulary the strategy tests count draws in.

``features(bp)`` looks only at what the root can reach (nodes, and the tensors their slots
name), since that is all a test observes. Pure data, no torch import, like the blueprint itself.
"""
from __future__ import annotations

from collections import Counter

from strategies.blueprint import BOOL_DTYPES, COMPLEX_DTYPES, CONTAINERS, FLOAT_DTYPES, INT_DTYPES, Blueprint
from strategies.layers import LAYERS, OWN_STATE_CHILDREN, OWN_STATE_LAYERS

STRUCTURE = (
    "shared_by_several_parents",  # one module under two different parents
    "shared_under_two_names",  # one module under two names of one parent
    "shared_at_depth_3",  # a module reached by several paths, one of them at depth >= 3
    "tied_within_module",  # one Parameter under two names of one module
    "tied_across_modules",  # one Parameter registered in two different modules
    "shared_buffer",  # one buffer tensor registered under several names
    "persistent_buffer",
    "nonpersistent_buffer",
    "none_child",
    "none_param",
    "none_buffer",
    "layer_without_bias",  # a built-in layer made with bias=False (its bias is registered as None)
    "plain_tensor",
)
TENSORS = (
    "floating_tensor",
    "integer_tensor",
    "bool_tensor",
    "zero_size_tensor",
    "param_with_grad",
    "param_without_grad",
    "param_requires_grad",
    "param_frozen",  # requires_grad=False
)
RICH_TENSORS = (  # drawn by strategies.tensors.rich_blueprints only
    "complex_tensor",
    "view_tensor",  # a tensor that is a view of another tensor's storage
    "non_contiguous_tensor",  # a 2-d tensor stored transposed
    "channels_last_tensor",
)
KINDS = CONTAINERS + tuple(LAYERS) + ("ExtraState",)
FEATURES = STRUCTURE + TENSORS + tuple(f"kind:{k}" for k in KINDS)
# Features of own-state layers (strategies.layer_state), which blueprints() never draws: kept out
# of FEATURES, which the default strategy must all draw; features() reports them when present.
OWN_STATE_KINDS = tuple(OWN_STATE_LAYERS) + tuple(OWN_STATE_CHILDREN)
OWN_STATE_FEATURES = (
    "own_state_layer",  # a layer built by its constructor and left as made
    "own_state_child",  # a child module a layer's constructor made (MultiheadAttention.out_proj, ...)
    "own_none_member",  # a member the constructor registered as None
    "own_int_buffer",  # an integral buffer the constructor made (num_batches_tracked)
) + tuple(f"own_kind:{k}" for k in OWN_STATE_KINDS)
RICH_FEATURES = RICH_TENSORS  # not in FEATURES: blueprints() never draws them


def features(bp: Blueprint) -> set[str]:
    reachable = bp.reachable()
    slots = [(i, s) for i in reachable for s in bp.nodes[i].slots]
    found = {f"kind:{bp.nodes[i].kind}" for i in reachable if bp.nodes[i].kind in KINDS}
    found |= _sharing(bp, reachable)
    found |= _ties(slots)
    for i, s in slots:
        if s.ref is None and s.kind in ("child", "param", "buffer"):
            found.add("layer_without_bias" if bp.nodes[i].kind in LAYERS else f"none_{s.kind}")
        elif s.kind == "buffer":
            found.add("persistent_buffer" if s.persistent else "nonpersistent_buffer")
        elif s.kind == "plain":
            found.add("plain_tensor")
    found |= _tensor_features(bp, slots)
    found |= _own_state_features(bp, slots)
    return found


def _own_state_features(bp: Blueprint, slots) -> set[str]:
    found = set()
    for i, s in slots:
        if s.via != "own":
            continue
        found |= {"own_state_layer", f"own_kind:{bp.nodes[i].kind}"}
        if s.kind == "child":
            found |= {"own_state_child", f"own_kind:{bp.nodes[s.ref].kind}"}
        elif s.ref is None:
            found.add("own_none_member")
        elif bp.tensors[s.ref].dtype in INT_DTYPES:
            found.add("own_int_buffer")
    return found


def _sharing(bp: Blueprint, reachable: list[int]) -> set[str]:
    found = set()
    parents: dict[int, set[int]] = {}
    for i in reachable:
        per_parent = Counter(s.ref for s in bp.nodes[i].slots_of("child") if s.ref is not None)
        if any(n > 1 for n in per_parent.values()):
            found.add("shared_under_two_names")
        for child in per_parent:
            parents.setdefault(child, set()).add(i)
    if any(len(p) > 1 for p in parents.values()):
        found.add("shared_by_several_parents")
    paths, depth = _paths_and_depth(bp)
    if any(paths[i] > 1 and depth[i] >= 3 for i in reachable):
        found.add("shared_at_depth_3")
    return found


def _paths_and_depth(bp: Blueprint) -> tuple[dict[int, int], dict[int, int]]:
    """Number of root paths to each node and the deepest of them (nodes are topologically ordered)."""
    paths, depth = {bp.root: 1}, {bp.root: 0}
    for i in range(bp.root, -1, -1):  # parents have larger indices than their children
        if i not in paths:
            continue
        for s in bp.nodes[i].slots_of("child"):
            if s.ref is not None:
                paths[s.ref] = paths.get(s.ref, 0) + paths[i]
                depth[s.ref] = max(depth.get(s.ref, 0), depth[i] + 1)
    return paths, depth


def _ties(slots) -> set[str]:
    found = set()
    holders: dict[tuple[str, int], list[int]] = {}
    for i, s in slots:
        if s.kind in ("param", "buffer") and s.ref is not None:
            holders.setdefault((s.kind, s.ref), []).append(i)
    for (kind, _), nodes in holders.items():
        if kind == "buffer" and len(nodes) > 1:
            found.add("shared_buffer")
        if kind == "param" and len(set(nodes)) < len(nodes):
            found.add("tied_within_module")
        if kind == "param" and len(set(nodes)) > 1:
            found.add("tied_across_modules")
    return found


def _tensor_features(bp: Blueprint, slots) -> set[str]:
    found = set()
    params = {s.ref for _, s in slots if s.kind == "param" and s.ref is not None}
    for t in {s.ref for _, s in slots if s.kind != "child" and s.ref is not None}:
        spec = bp.tensors[t]
        kind = {**dict.fromkeys(FLOAT_DTYPES, "floating"), **dict.fromkeys(INT_DTYPES, "integer"),
                **dict.fromkeys(BOOL_DTYPES, "bool"), **dict.fromkeys(COMPLEX_DTYPES, "complex")}[spec.dtype]
        found.add(f"{kind}_tensor")
        if spec.numel == 0:
            found.add("zero_size_tensor")
        if spec.view_of is not None:
            found.add("view_tensor")
        if spec.layout != "contiguous":
            found.add("non_contiguous_tensor" if spec.layout == "transposed" else "channels_last_tensor")
        if t in params:
            found.add("param_with_grad" if spec.grad else "param_without_grad")
            found.add("param_requires_grad" if spec.requires_grad else "param_frozen")
    return found
