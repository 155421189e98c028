"""The reference model of layers that keep their own state (``strategies.layer_state``).

Pure functions of a :class:`~strategies.blueprint.Blueprint`; nothing here imports torch. Names,
orders and sharing of own-state layers come from the generic model (``conformance.model``: their
slots are ordinary slots); this module adds what the constructors and their documentation say
about the members' dtypes and values, and how casts and modes change them. The members are
``strategies.layers.OWN_STATE_LAYERS`` (a static, reviewed table), never torch's output.

Rules (invariant ids in brackets):

- [L1] An own-state layer registers, in order, the members of its table entry; one whose shape
  is None is registered as None (``layer.own.members``). Floating members have the default dtype
  (float32), ``num_batches_tracked`` is int64; parameters require grad.
- [L2] Documented initial values (``layer.own.documented_init``): BatchNorm1d ``weight`` ones,
  ``bias`` zeros, ``running_mean`` zeros, ``running_var`` ones, ``num_batches_tracked`` 0;
  LayerNorm and GroupNorm ``weight`` ones, ``bias`` zeros; Embedding's row ``padding_idx`` zeros.
  Other members are random: not predicted, only kept (``init == "random"``).
- [L3] A cast (``float()``/``double()``/``half()``/``bfloat16()``/``to(dtype)``) changes the
  dtype of the floating members only; integral ones (``num_batches_tracked``) keep theirs
  (``layer.own.cast``). Values are the old values converted.
- [L4] BatchNorm1d with running stats, called in training mode on the batch ``BN_INPUT`` (per
  channel the values 0 and 2: mean 1, unbiased variance 2) with the default momentum 0.1,
  updates ``x_new = (1 - momentum) * x + momentum * x_t``: after ``k`` training calls from the
  initial state ``running_mean = 1 - 0.9**k`` and ``running_var = 2 - 0.9**k``; calls in eval
  mode change nothing (``layer.batchnorm.running_stats``). ``num_batches_tracked`` counts the
  training calls (``layer.batchnorm.num_batches_tracked``).
- [L5] The layers are called (``layer_call``) with a zero input (``OWN_CALLS``) whose dtype and
  device follow the layer's first floating member (the root's input ``x`` when it has none).
"""
from __future__ import annotations

from strategies.blueprint import FLOAT_DTYPES, Blueprint
from strategies.layer_state import OWN, own_nodes
from strategies.layers import own_members

MOMENTUM = 0.1  # BatchNorm's documented default
BN_INPUT = (0.0, 2.0)  # the two rows of a BatchNorm1d training batch, every channel alike


def kwargs(bp: Blueprint, i: int) -> dict:
    return dict(bp.nodes[i].args)


def layers(bp: Blueprint) -> list[int]:
    """Own-state layer nodes built by their own constructor call, reachable from the root."""
    reachable = set(bp.reachable())
    return [i for i in own_nodes(bp) if i in reachable]


def members(bp: Blueprint, i: int) -> list[tuple[str, str, tuple | None, str, str]]:
    """[L1] ``(kind, name, shape or None, dtype, init)`` of node ``i``'s parameters and buffers,
    in registration order."""
    return [(m.kind, m.name, m.shape, m.dtype, m.init) for m in own_members(bp.nodes[i].kind, kwargs(bp, i))
            if m.kind != "child"]


def member_tensors(bp: Blueprint, i: int) -> list[tuple[str, int]]:
    """``(name, tensor index)`` of node ``i``'s non-None own members, in slot order."""
    return [(s.name, s.ref) for s in bp.nodes[i].slots if s.via == OWN and s.kind != "child" and s.ref is not None]


def documented_values(bp: Blueprint, i: int) -> list[tuple[str, str]]:
    """[L2] ``(member name, rule)`` of the members whose initial value is documented:
    ``ones``, ``zeros``, or ``padding row <k> zeros``."""
    out = []
    for kind, name, shape, _, init in members(bp, i):
        if shape is None or init == "random":
            continue
        out.append((name, f"padding row {kwargs(bp, i)['padding_idx']} zeros" if init == "padding" else init))
    return out


def dtype_after_cast(dtype: str, target: str) -> str:
    """[L3] A member's dtype after a cast to ``target``: floating members only."""
    return target if dtype in FLOAT_DTYPES else dtype


def tracks_running_stats(bp: Blueprint, i: int) -> bool:
    node = bp.nodes[i]
    return node.kind == "BatchNorm1d" and kwargs(bp, i)["track_running_stats"]


def running_stats(train_calls: int) -> tuple[float, float]:
    """[L4] (running_mean, running_var) per channel after ``train_calls`` training calls on
    ``BN_INPUT`` from the initial state (mean 0, var 1)."""
    mean, var = 0.0, 1.0
    batch_mean = sum(BN_INPUT) / len(BN_INPUT)
    batch_var = sum((v - batch_mean) ** 2 for v in BN_INPUT) / (len(BN_INPUT) - 1)  # unbiased
    for _ in range(train_calls):
        mean = (1 - MOMENTUM) * mean + MOMENTUM * batch_mean
        var = (1 - MOMENTUM) * var + MOMENTUM * batch_var
    return mean, var


def batches_tracked(modes: list[bool]) -> int:
    """[L4] ``num_batches_tracked`` after calls in these modes (True: training)."""
    return sum(1 for training in modes if training)


# [L5] kind -> (input shape from the constructor's keyword arguments, input dtype: None = the
# layer's floating dtype, output element to keep or None, number of inputs the call takes)
OWN_CALLS = {
    "Linear": (lambda k: (k["in_features"],), None, None, 1),  # unbatched
    "Conv1d": (lambda k: (k["in_channels"], k["kernel_size"]), None, None, 1),  # unbatched (C, L)
    "Conv2d": (lambda k: (k["in_channels"],) + (k["kernel_size"],) * 2, None, None, 1),
    "Conv3d": (lambda k: (k["in_channels"],) + (k["kernel_size"],) * 3, None, None, 1),
    "BatchNorm1d": (lambda k: (2, k["num_features"]), None, None, 1),  # training mode needs 2 rows
    "Embedding": (lambda k: (1,), "int64", None, 1),  # index 0
    "LSTM": (lambda k: (1, k["input_size"]), None, 0, 1),  # unbatched (L, H_in); output [0]
    "GRU": (lambda k: (1, k["input_size"]), None, 0, 1),
    "LayerNorm": (lambda k: (k["normalized_shape"],), None, None, 1),
    "GroupNorm": (lambda k: (1, k["num_channels"], 2), None, None, 1),  # 2 values per group
    "MultiheadAttention": (None, None, 0, 3),  # (1, embed_dim), (1, kdim), (1, vdim); output [0]
    "TransformerEncoderLayer": (lambda k: (1, k["d_model"]), None, None, 1),  # unbatched (S, E)
}


def call_inputs(bp: Blueprint, i: int) -> list[tuple[tuple[int, ...], str | None]]:
    """[L5] ``(shape, dtype or None)`` of each input of a call of layer ``i``."""
    kind, k = bp.nodes[i].kind, kwargs(bp, i)
    shape, dtype, _, arity = OWN_CALLS[kind]
    if kind == "MultiheadAttention":
        return [((1, k["embed_dim"]), None), ((1, k["kdim"]), None), ((1, k["vdim"]), None)]
    return [(shape(k), dtype)] * arity


def input_source(bp: Blueprint, i: int) -> str | None:
    """[L5] Dotted path, from layer ``i``, of the member its call's input follows; None: ``x``."""
    def walk(j: int, path: str) -> str | None:
        node = bp.nodes[j]
        for s in node.slots:
            if s.via == OWN and s.kind != "child" and s.ref is not None and bp.tensors[s.ref].floating:
                return path + s.name
        for s in node.slots:
            if s.kind == "child" and s.via == OWN and s.ref is not None:
                found = walk(s.ref, f"{path}{s.name}.")
                if found:
                    return found
        return None

    return walk(i, "")
