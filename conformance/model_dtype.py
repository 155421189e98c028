"""The reference model of dtype conversions: which tensors a conversion casts, and to what.

Pure functions of a :class:`~strategies.blueprint.Blueprint` and a :class:`Conversion`; nothing
here imports torch. The rules, with the invariant ids of ``spec/invariants.md``:
- ``float()``/``double()``/``half()``/``bfloat16()`` and ``to(dtype)`` cast floating-point (and
  complex) parameters and buffers, and the parameters' ``.grad``; integer and bool ones keep
  their dtype (``conv.float_family_only_floating``, ``conv.to_dtype_float_or_complex_only``);
- ``type(dst_type)`` casts every parameter and buffer (``conv.type_casts_all``); an integer or
  bool target fails with ``RuntimeError`` when a parameter requires grad, since only floating
  point and complex tensors can require gradients;
- plain (unregistered) tensor attributes are never cast;
- ``requires_grad`` is kept, except that a tensor cast to a non-floating dtype cannot require grad;
- a tensor whose dtype does not change keeps its storage (``conv.noop_keeps_storage``).
"""
from __future__ import annotations

from dataclasses import dataclass

from conformance.model import tensor_roles
from strategies.blueprint import FLOAT_DTYPES, Blueprint

COMPLEX_DTYPES = ("complex64", "complex128")


@dataclass(frozen=True)
class Conversion:
    """One conversion call: ``call`` is the method call text on the module, e.g. ``double()``."""

    call: str
    dtype: str  # the target dtype, by torch name
    casts_all: bool = False  # type(): integer and bool tensors are cast too
    warns: bool = False  # to(complex): a UserWarning that complex modules are new

    @property
    def gradable(self) -> bool:
        """Whether a tensor of the target dtype may require grad."""
        return self.dtype in FLOAT_DTYPES + COMPLEX_DTYPES


FLOAT_FAMILY = tuple(Conversion(f"{name}()", dtype) for name, dtype in
                     (("float", "float32"), ("double", "float64"), ("half", "float16"), ("bfloat16", "bfloat16")))
TO_DTYPE = (
    Conversion("to(torch.float64)", "float64"),
    Conversion("to(dtype=torch.float16)", "float16"),
    Conversion("to(torch.zeros(1, dtype=torch.bfloat16))", "bfloat16"),
    Conversion("to('cpu', torch.float64)", "float64"),
    Conversion("to(torch.float32)", "float32"),
    Conversion("to(torch.complex128)", "complex128", warns=True),
)
TYPE_FLOAT = (
    Conversion("type(torch.float64)", "float64", casts_all=True),
    Conversion("type('torch.DoubleTensor')", "float64", casts_all=True),
    Conversion("type(torch.float16)", "float16", casts_all=True),
    Conversion("type(torch.float32)", "float32", casts_all=True),
)
TYPE_INTEGRAL = (
    Conversion("type(torch.int32)", "int32", casts_all=True),
    Conversion("type('torch.LongTensor')", "int64", casts_all=True),
    Conversion("type(torch.bool)", "bool", casts_all=True),
)
# Every conversion that succeeds on any graph: the ones the identity and sharing laws run over.
FLOAT_TARGETS = FLOAT_FAMILY + TO_DTYPE + TYPE_FLOAT
# to() with a non-floating dtype: TypeError before anything is touched.
TO_INTEGRAL_CALLS = ("to(torch.int64)", "to(torch.zeros(1, dtype=torch.int32))", "to(torch.bool)",
                     "to('cpu', torch.uint8)", "to(dtype=torch.int16)")


def cast(dtype: str, conv: Conversion) -> str:
    """The dtype a registered tensor of ``dtype`` has after ``conv``."""
    if conv.casts_all or dtype in FLOAT_DTYPES + COMPLEX_DTYPES:
        return conv.dtype
    return dtype


def registered_dtypes(bp: Blueprint, conv: Conversion) -> dict[int, str]:
    """Each reachable parameter and buffer (tensor index) -> its dtype after ``conv``."""
    return {t: cast(bp.tensors[t].dtype, conv) for t in tensor_roles(bp)}


def requires_grad_after(bp: Blueprint, t: int, conv: Conversion) -> bool:
    spec = bp.tensors[t]
    return spec.requires_grad and (cast(spec.dtype, conv) == spec.dtype or conv.gradable)


def raises(bp: Blueprint, conv: Conversion) -> bool:
    """``type(<integer or bool>)`` cannot keep a parameter that requires grad."""
    params = [t for t, role in tensor_roles(bp).items() if role == "param"]
    return not conv.gradable and any(bp.tensors[t].requires_grad for t in params)


def unchanged(bp: Blueprint, conv: Conversion) -> set[int]:
    """Registered tensors whose dtype ``conv`` leaves as it is."""
    return {t for t, dtype in registered_dtypes(bp, conv).items() if dtype == bp.tensors[t].dtype}


def member_slots(bp: Blueprint, kind: str) -> list[tuple[int, str, int]]:
    """``(node, name, ref)`` of every non-None slot of ``kind`` on a reachable node (ref: a tensor, or a node)."""
    nodes = bp.reachable()
    return [(i, s.name, s.ref) for i in nodes for s in bp.nodes[i].slots if s.kind == kind and s.ref is not None]
