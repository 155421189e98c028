"""Blueprints: plain, frozen descriptions of module graphs.

A blueprint is data only (no torch import), so it can be drawn, shrunk, printed, compared and
fed to the reference model without touching the implementation under test.

Nodes are listed in topological order: a child slot names a node with a smaller index, so the
graph is acyclic by construction, and the last node is the root. Tensors live in one table and
slots refer to them by index; two slots naming the same tensor are one object (a tie for
parameters, a shared buffer for buffers).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")
INT_DTYPES = ("int64", "int32", "uint8")
BOOL_DTYPES = ("bool",)
COMPLEX_DTYPES = ("complex64", "complex128")  # drawn only by strategies.tensors.rich_blueprints

# How a tensor's memory is laid out (``TensorSpec.layout``): ``transposed`` is a 2-d tensor stored
# column-major (``.t().contiguous().t()``), ``channels_last`` a 4-d one in channels-last order.
LAYOUTS = ("contiguous", "transposed", "channels_last")

# Node kinds that hold child modules, hold parameters only, or are real built-in layers.
MODULE_HOLDERS = ("Module", "ExtraState", "Sequential", "ModuleList", "ModuleDict")
PARAM_CONTAINERS = ("ParameterList", "ParameterDict")
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict") + PARAM_CONTAINERS

SLOT_KINDS = ("child", "param", "buffer", "plain")


@dataclass(frozen=True)
class TensorSpec:
    """One tensor object. Parameters are the specs that parameter slots refer to."""

    shape: tuple[int, ...]
    dtype: str
    requires_grad: bool = False
    grad: bool = False  # parameters only: a .grad is attached
    seed: int = 0  # values are a pure function of (shape, dtype, seed)
    layout: str = "contiguous"  # one of LAYOUTS; the values do not depend on it
    # A view: tensor ``view_of`` (a 1-d contiguous tensor that is no view) read from element
    # ``offset`` on as ``shape`` (``base.detach()[offset:offset + numel].view(shape)``); its values
    # are the base's, its dtype is the base's, and ``seed`` is unused.
    view_of: int | None = None
    offset: int = 0

    @property
    def floating(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def is_complex(self) -> bool:
        return self.dtype in COMPLEX_DTYPES

    @property
    def is_view(self) -> bool:
        return self.view_of is not None

    @property
    def numel(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class Slot:
    """One named entry of a node, in registration order.

    ``ref`` is a node index for a child and a tensor index otherwise; ``None`` registers
    ``None`` under the name. ``via`` says how it is registered: ``register`` (the
    ``register_*``/``add_module`` call), ``setattr`` (attribute assignment; a new buffer is
    wrapped in ``nn.Buffer``) or ``member`` (assignment to a built-in layer's own name, which
    keeps the object as given) or ``own`` (the layer's constructor made and registered it, and
    the builder leaves it as made: the tensor spec describes the constructor's tensor, a child
    slot names a module the constructor made; see ``strategies.layer_state``).
    """

    kind: str
    name: str
    ref: int | None
    persistent: bool = True
    via: str = "register"


@dataclass(frozen=True)
class Node:
    kind: str
    slots: tuple[Slot, ...] = ()
    args: tuple = ()  # constructor arguments of a built-in layer; the extra state of ExtraState

    def slots_of(self, kind: str) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.kind == kind)


@dataclass(frozen=True)
class Blueprint:
    nodes: tuple[Node, ...]
    tensors: tuple[TensorSpec, ...] = ()

    @property
    def root(self) -> int:
        return len(self.nodes) - 1

    def param_ids(self) -> set[int]:
        return {s.ref for n in self.nodes for s in n.slots if s.kind == "param" and s.ref is not None}

    def buffer_ids(self) -> set[int]:
        return {s.ref for n in self.nodes for s in n.slots if s.kind == "buffer" and s.ref is not None}

    def reachable(self) -> list[int]:
        """Node indices reachable from the root, in index order."""
        seen, todo = {self.root}, [self.root]
        while todo:
            for s in self.nodes[todo.pop()].slots_of("child"):
                if s.ref is not None and s.ref not in seen:
                    seen.add(s.ref)
                    todo.append(s.ref)
        return sorted(seen)
