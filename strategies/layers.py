"""The built-in layers a blueprint may use as leaves, described by their documented variables.

Each entry says which constructor arguments the layer takes and which parameters and buffers it
then holds, in the order its documentation lists them. The strategies use this to draw tensor
specs of the right shapes; the reference model uses it to know a leaf's members. Nothing here
asks torch.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    kind: str  # "param" or "buffer"
    name: str
    shape: Callable[[tuple], tuple[int, ...]]
    dtype: str | None = None  # fixed dtype (an integer counter); None: any floating dtype
    optional: bool = False  # registered as None when the layer is built with bias=False


@dataclass(frozen=True)
class Layer:
    arg_names: tuple[str, ...]  # integer sizes, drawn small (zero allowed where the layer allows it)
    members: tuple[Member, ...]
    min_size: int = 0
    has_bias_flag: bool = False  # last constructor argument is bias=True/False


def _bias(shape) -> Member:
    return Member("param", "bias", shape, optional=True)


LAYERS: dict[str, Layer] = {
    "Linear": Layer(
        ("in_features", "out_features"),
        (Member("param", "weight", lambda a: (a[1], a[0])), _bias(lambda a: (a[1],))),
        has_bias_flag=True,
    ),
    "Conv2d": Layer(
        ("in_channels", "out_channels", "kernel_size"),
        (Member("param", "weight", lambda a: (a[1], a[0], a[2], a[2])), _bias(lambda a: (a[1],))),
        min_size=1,
        has_bias_flag=True,
    ),
    "BatchNorm1d": Layer(
        ("num_features",),
        (
            Member("param", "weight", lambda a: (a[0],)),
            Member("param", "bias", lambda a: (a[0],)),
            Member("buffer", "running_mean", lambda a: (a[0],)),
            Member("buffer", "running_var", lambda a: (a[0],)),
            Member("buffer", "num_batches_tracked", lambda a: (), dtype="int64"),
        ),
    ),
    "Embedding": Layer(
        ("num_embeddings", "embedding_dim"),
        (Member("param", "weight", lambda a: (a[0], a[1])),),
        min_size=1,
    ),
    "LSTM": Layer(
        ("input_size", "hidden_size"),
        (
            Member("param", "weight_ih_l0", lambda a: (4 * a[1], a[0])),
            Member("param", "weight_hh_l0", lambda a: (4 * a[1], a[1])),
            Member("param", "bias_ih_l0", lambda a: (4 * a[1],)),
            Member("param", "bias_hh_l0", lambda a: (4 * a[1],)),
        ),
        min_size=1,
    ),
    "LayerNorm": Layer(
        ("normalized_shape",),
        (Member("param", "weight", lambda a: (a[0],)), Member("param", "bias", lambda a: (a[0],))),
    ),
}


# -- layers that keep their own state -----------------------------------------------------------
# Note [own-state layers]
# ~~~~~~~~~~~~~~~~~~~~~~~
# ``LAYERS`` describes leaves whose members the builder replaces with the blueprint's tensors.
# ``OWN_STATE_LAYERS`` describes layers built by their plain constructor call and left as made:
# their members (and, for MultiheadAttention and TransformerEncoderLayer, their child modules) are
# the ones the constructor creates and registers. The table is static and reviewed: members in
# registration order, as the layers' docstrings list them and their constructors register them
# (torch/nn/modules/{linear,conv,batchnorm,sparse,rnn,normalization,activation,transformer}.py),
# never read from torch at test time. A member whose ``shape`` is None is registered as None
# (``register_parameter(name, None)``/``register_buffer(name, None)``); ``init`` is the documented
# initial value where the docs state one (``ones``, ``zeros``, ``padding``: the row at
# ``padding_idx`` is zeros), else ``random`` (drawn from torch's RNG: not predicted, only kept).
# These kinds are not in ``graphs.NODE_KINDS``: ``blueprints()`` never draws them; they are drawn
# by ``strategies.layer_state.own_state_blueprints``.


@dataclass(frozen=True)
class OwnMember:
    kind: str  # "param", "buffer" or "child"
    name: str
    shape: tuple[int, ...] | None = None  # None: registered as None (child: unused)
    dtype: str = "float32"  # the default dtype for floating members; "int64" for a counter
    init: str = "random"  # "ones" | "zeros" | "padding" | "random"
    child: tuple[str, tuple] | None = None  # kind "child": (layer kind, constructor kwargs)


@dataclass(frozen=True)
class OwnLayer:
    """``params``: (name, allowed values) drawn in order (first value: what shrinking reaches);
    ``kwargs``: drawn values -> the constructor's keyword arguments, in order; ``members``:
    keyword arguments -> the members the constructor registers, in registration order."""

    params: tuple[tuple[str, tuple], ...]
    members: Callable[[dict], tuple[OwnMember, ...]]
    kwargs: Callable[[dict], dict] = dict


def _opt(kind: str, name: str, present: bool, shape, init: str = "random", dtype: str = "float32") -> OwnMember:
    return OwnMember(kind, name, tuple(shape) if present else None, dtype, init)


def _linear_members(k: dict) -> tuple[OwnMember, ...]:
    out, inp = k["out_features"], k["in_features"]
    return (OwnMember("param", "weight", (out, inp)), _opt("param", "bias", k.get("bias", True), (out,)))


def _conv_members(dims: int):
    def members(k: dict) -> tuple[OwnMember, ...]:
        out = k["out_channels"]
        weight = (out, k["in_channels"]) + (k["kernel_size"],) * dims
        return (OwnMember("param", "weight", weight), _opt("param", "bias", k["bias"], (out,)))
    return members


def _batchnorm_members(k: dict) -> tuple[OwnMember, ...]:
    c, affine, track = k["num_features"], k["affine"], k["track_running_stats"]
    return (
        _opt("param", "weight", affine, (c,), "ones"),
        _opt("param", "bias", affine, (c,), "zeros"),
        _opt("buffer", "running_mean", track, (c,), "zeros"),
        _opt("buffer", "running_var", track, (c,), "ones"),
        _opt("buffer", "num_batches_tracked", track, (), "zeros", "int64"),
    )


def _embedding_members(k: dict) -> tuple[OwnMember, ...]:
    init = "random" if k["padding_idx"] is None else "padding"
    return (OwnMember("param", "weight", (k["num_embeddings"], k["embedding_dim"]), init=init),)


def _rnn_members(gates: int):
    """RNNBase: for each layer, for each direction (``_reverse`` suffix): weight_ih, weight_hh and,
    with bias, bias_ih and bias_hh (bias=False registers no bias at all, not None)."""
    def members(k: dict) -> tuple[OwnMember, ...]:
        h, directions = k["hidden_size"], 2 if k["bidirectional"] else 1
        out = []
        for layer in range(k["num_layers"]):
            size = k["input_size"] if layer == 0 else h * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                out += [OwnMember("param", f"weight_ih{suffix}", (gates * h, size)),
                        OwnMember("param", f"weight_hh{suffix}", (gates * h, h))]
                if k["bias"]:
                    out += [OwnMember("param", f"bias_ih{suffix}", (gates * h,)),
                            OwnMember("param", f"bias_hh{suffix}", (gates * h,))]
        return tuple(out)
    return members


def _layernorm_members(k: dict) -> tuple[OwnMember, ...]:
    n, affine = k["normalized_shape"], k["elementwise_affine"]
    return (_opt("param", "weight", affine, (n,), "ones"), _opt("param", "bias", affine and k["bias"], (n,), "zeros"))


def _groupnorm_members(k: dict) -> tuple[OwnMember, ...]:
    c, affine = k["num_channels"], k["affine"]
    return (_opt("param", "weight", affine, (c,), "ones"), _opt("param", "bias", affine, (c,), "zeros"))


def _mha_members(k: dict) -> tuple[OwnMember, ...]:
    """in_proj_weight, or q/k/v_proj_weight when kdim or vdim differs from embed_dim (the others
    registered as None, in that order), in_proj_bias (None without bias), the child out_proj (a
    NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias)), then bias_k and bias_v
    with add_bias_kv (without it they are plain None attributes, not registered)."""
    e, kdim, vdim, bias = k["embed_dim"], k["kdim"], k["vdim"], k["bias"]
    same = kdim == e and vdim == e
    if same:
        proj = (OwnMember("param", "in_proj_weight", (3 * e, e)), OwnMember("param", "q_proj_weight"),
                OwnMember("param", "k_proj_weight"), OwnMember("param", "v_proj_weight"))
    else:
        proj = (OwnMember("param", "q_proj_weight", (e, e)), OwnMember("param", "k_proj_weight", (e, kdim)),
                OwnMember("param", "v_proj_weight", (e, vdim)), OwnMember("param", "in_proj_weight"))
    out = proj + (
        _opt("param", "in_proj_bias", bias, (3 * e,)),
        OwnMember("child", "out_proj",
                  child=("NonDynamicallyQuantizableLinear", (("in_features", e), ("out_features", e), ("bias", bias)))),
    )
    if k["add_bias_kv"]:
        out += (OwnMember("param", "bias_k", (1, 1, e)), OwnMember("param", "bias_v", (1, 1, e)))
    return out


def _encoder_layer_members(k: dict) -> tuple[OwnMember, ...]:
    """The children TransformerEncoderLayer.__init__ registers, in order (activation "relu" is a
    function, not a child)."""
    d, ff, bias = k["d_model"], k["dim_feedforward"], k["bias"]

    def child(name, kind, **kw):
        return OwnMember("child", name, child=(kind, tuple(kw.items())))

    mha = dict(embed_dim=d, num_heads=k["nhead"], bias=bias, add_bias_kv=False, kdim=d, vdim=d)
    norm = dict(normalized_shape=d, elementwise_affine=True, bias=bias)
    return (
        child("self_attn", "MultiheadAttention", **mha),
        child("linear1", "Linear", in_features=d, out_features=ff, bias=bias),
        child("dropout", "Dropout"),
        child("linear2", "Linear", in_features=ff, out_features=d, bias=bias),
        child("norm1", "LayerNorm", **norm),
        child("norm2", "LayerNorm", **norm),
        child("dropout1", "Dropout"),
        child("dropout2", "Dropout"),
    )


_SIZES = (1, 2, 3)
_FLAGS = (True, False)
_CONV = (("in_channels", _SIZES), ("out_channels", _SIZES), ("kernel_size", (1, 2)), ("bias", _FLAGS))
_RNN = (("input_size", _SIZES), ("hidden_size", _SIZES), ("num_layers", (1, 2)), ("bias", _FLAGS),
        ("bidirectional", (False, True)))

OWN_STATE_LAYERS: dict[str, OwnLayer] = {
    "Linear": OwnLayer((("in_features", _SIZES), ("out_features", _SIZES), ("bias", _FLAGS)), _linear_members),
    "Conv1d": OwnLayer(_CONV, _conv_members(1)),
    "Conv2d": OwnLayer(_CONV, _conv_members(2)),
    "Conv3d": OwnLayer(_CONV, _conv_members(3)),
    "BatchNorm1d": OwnLayer((("num_features", _SIZES), ("affine", _FLAGS), ("track_running_stats", _FLAGS)),
                            _batchnorm_members),
    "Embedding": OwnLayer((("num_embeddings", _SIZES), ("embedding_dim", _SIZES), ("padding_idx", (None, 0, 1, 2))),
                          _embedding_members,
                          # padding_idx must index a row
                          lambda d: {**d, "padding_idx": d["padding_idx"] if d["padding_idx"] is None
                                     else d["padding_idx"] % d["num_embeddings"]}),
    "LSTM": OwnLayer(_RNN, _rnn_members(4)),
    "GRU": OwnLayer(_RNN, _rnn_members(3)),
    "LayerNorm": OwnLayer((("normalized_shape", _SIZES), ("elementwise_affine", _FLAGS), ("bias", _FLAGS)),
                          _layernorm_members),
    "GroupNorm": OwnLayer((("num_groups", (1, 2)), ("channels_per_group", (1, 2)), ("affine", _FLAGS)),
                          _groupnorm_members,
                          lambda d: {"num_groups": d["num_groups"],
                                     "num_channels": d["num_groups"] * d["channels_per_group"], "affine": d["affine"]}),
    "MultiheadAttention": OwnLayer(
        (("num_heads", (1, 2)), ("head_dim", (1, 2)), ("bias", _FLAGS), ("add_bias_kv", (False, True)),
         ("kdim", (None, 1, 3)), ("vdim", (None, 2))),
        _mha_members,
        lambda d: {"embed_dim": d["num_heads"] * d["head_dim"], "num_heads": d["num_heads"], "bias": d["bias"],
                   "add_bias_kv": d["add_bias_kv"],
                   "kdim": d["kdim"] or d["num_heads"] * d["head_dim"],
                   "vdim": d["vdim"] or d["num_heads"] * d["head_dim"]}),
    "TransformerEncoderLayer": OwnLayer(
        (("nhead", (1, 2)), ("head_dim", (1, 2)), ("dim_feedforward", (1, 3)), ("bias", _FLAGS)),
        _encoder_layer_members,
        lambda d: {"d_model": d["nhead"] * d["head_dim"], "nhead": d["nhead"], "dim_feedforward": d["dim_feedforward"],
                   "bias": d["bias"]}),
}
# Kinds that only appear as children a constructor makes (never drawn on their own).
OWN_STATE_CHILDREN: dict[str, Callable[[dict], tuple[OwnMember, ...]]] = {
    "NonDynamicallyQuantizableLinear": _linear_members,
    "Dropout": lambda k: (),
}


def own_members(kind: str, kwargs: dict) -> tuple[OwnMember, ...]:
    """The members an own-state layer of ``kind`` built with ``kwargs`` registers, in order."""
    if kind in OWN_STATE_CHILDREN:
        return OWN_STATE_CHILDREN[kind](kwargs)
    return OWN_STATE_LAYERS[kind].members(kwargs)
