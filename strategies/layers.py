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
