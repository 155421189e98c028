"""Reference model of rich tensors (complex dtypes, views of one storage, layouts) under casts,
moves, copies and loads.

Pure functions of a :class:`~strategies.blueprint.Blueprint`; nothing here imports torch. What a
test observes of a tensor is read at its first location (``model_devices.locations``): one object
per tensor index, so ties are one entry. The rules, with the invariant ids of
``conformance/catalog/tensors.py``:

- [T1] as built (``tens.register.as_given``): each tensor has its spec's dtype, shape and the
  strides of its layout (``strides``); values are ``value_source``'s; tensors share a storage
  exactly when they are views of one base (``storage_groups``).
- [T2] casts (``tens.cast.*``): ``float()``/``double()``/``half()`` cast floating point tensors only
  ("Casts all floating point parameters and buffers"), so complex ones keep their dtype;
  ``to(dtype)`` casts floating point *and* complex ones ("this method will only cast the floating
  point or complex parameters and buffers to :attr:`dtype`"), whichever kind ``dtype`` is: a real
  ``dtype`` takes a complex tensor to its real part (``Tensor.to``), a complex one gives a real
  tensor a zero imaginary part. Grads follow their parameter; requires_grad is kept (every target
  here is floating or complex); strides are kept (``Tensor.to``'s default ``preserve_format``).
  A tensor whose dtype changes is "a copy of self" (``Tensor.to``): a storage of its own, so it
  no longer shares storage with anything; one whose dtype stays is returned as is and keeps its
  storage (``conv.noop_keeps_storage``).
- [T3] moves (``tens.move.*``): every parameter and buffer is copied to the target on its own
  (each is a new storage there and back); dtypes, strides and values are kept.
- [T4] copies (``tens.copy.*``): ``copy.deepcopy``, ``pickle`` and ``torch.save``/``torch.load`` are
  identities: dtype, strides, values, requires_grad and grads kept, and storage sharing kept
  (torch.save: "PyTorch preserves storage sharing across serialization."; deepcopy and pickle by
  the design law that copies preserve the sharing structure).
- [T5] loads (``tens.load.*``): ``load_state_dict`` copies values into the existing tensors, so a
  destination keeps its own strides (whatever the source's) and its storage sharing.
- [T6] device context (``tens.context.*``): a program run under ``with torch.device(X)`` builds
  the same graph on X (ties and shared buffers are one object, as on cpu); ``to_empty(device=Y)``
  gives every tensor fresh memory on Y ("without copying storage"), keeping dtype, shape and the
  sharing of objects; a following ``load_state_dict`` restores the loaded tensors' values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from conformance import model_devices as md
from strategies.blueprint import COMPLEX_DTYPES, FLOAT_DTYPES, Blueprint

REAL_OF = {"complex64": "float32", "complex128": "float64"}


# -- [T1] as built ---------------------------------------------------------------------------------
def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides as torch computes them (a zero-size dimension counts as 1)."""
    out, step = [], 1
    for size in reversed(shape):
        out.append(step)
        step *= max(size, 1)
    return tuple(reversed(out))


def strides(bp: Blueprint, t: int) -> tuple[int, ...]:
    """The strides tensor ``t`` is built with (views are contiguous slices of a 1-d base)."""
    spec = bp.tensors[t]
    shape = spec.shape
    if spec.layout == "transposed":  # (a, b) stored as the transpose of a row-major (b, a)
        return (1, shape[0])
    if spec.layout == "channels_last":  # (n, c, h, w) stored as (n, h, w, c)
        n, c, h, w = shape
        return (h * w * c, 1, w * c, c)
    return contiguous_strides(shape)


@dataclass(frozen=True)
class Source:
    """Where a tensor's values come from: the builder's ``_t``/``_c(shape, dtype, seed)``, flattened
    and sliced ``[start:stop]`` when it is a view, then reshaped to ``shape``."""

    make_shape: tuple[int, ...]
    dtype: str
    seed: int
    shape: tuple[int, ...]
    start: int | None = None
    stop: int | None = None


def value_source(bp: Blueprint, loc: md.Location) -> Source:
    """The values of ``loc`` as built (a grad: its own fresh values, seed + 1)."""
    spec = bp.tensors[loc.tensor]
    if loc.what == "grad" or spec.view_of is None:
        return Source(spec.shape, spec.dtype, md.value_seed(bp, loc), spec.shape)
    base = bp.tensors[spec.view_of]
    return Source(base.shape, base.dtype, base.seed, spec.shape, spec.offset, spec.offset + spec.numel)


def root_of(bp: Blueprint, t: int) -> int:
    """The tensor whose storage ``t`` uses: its base for a view, itself otherwise."""
    base = bp.tensors[t].view_of
    return t if base is None else base


def observed(bp: Blueprint, *, kinds=("param", "buffer"), nonempty: bool = False) -> list[md.Location]:
    """One location per registered tensor (its first), in ``locations`` order; ``nonempty``: only
    tensors with elements (every empty storage reads as one address, so sharing of those is not
    observable)."""
    seen, out = set(), []
    for loc in md.locations(bp):
        if loc.what in kinds and loc.tensor not in seen and (not nonempty or bp.tensors[loc.tensor].numel):
            seen.add(loc.tensor)
            out.append(loc)
    return out


def storage_groups(bp: Blueprint, locs: list[md.Location], fresh=frozenset()) -> list[list[str]]:
    """The labels of ``locs`` grouped by shared storage, each group in ``locs`` order, groups by
    their first member: views of one base share; a tensor in ``fresh`` has a storage of its own."""
    groups: dict[object, list[str]] = {}
    for loc in locs:
        key = ("own", loc.tensor) if loc.tensor in fresh else ("root", root_of(bp, loc.tensor))
        groups.setdefault(key, []).append(loc.label)
    return list(groups.values())


# -- [T2] casts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cast:
    call: str  # the method call on the module
    dtype: str  # the target dtype
    complex_too: bool  # to(dtype) casts complex tensors too; float()/double()/half() do not


CASTS = (
    Cast("float()", "float32", False),
    Cast("double()", "float64", False),
    Cast("half()", "float16", False),
    Cast("to(torch.float64)", "float64", True),
    Cast("to(torch.float32)", "float32", True),
    Cast("to(torch.complex64)", "complex64", True),
    Cast("to(torch.complex128)", "complex128", True),
)


def cast_dtype(dtype: str, cast: Cast) -> str:
    """[T2] the dtype of a parameter, buffer or grad of ``dtype`` after ``cast``."""
    if dtype in FLOAT_DTYPES or (cast.complex_too and dtype in COMPLEX_DTYPES):
        return cast.dtype
    return dtype


def recast(bp: Blueprint, cast: Cast | None) -> set[int]:
    """Registered tensors whose dtype ``cast`` changes (they get storage of their own)."""
    if cast is None:
        return set()
    return {loc.tensor for loc in observed(bp) if cast_dtype(bp.tensors[loc.tensor].dtype, cast) != bp.tensors[loc.tensor].dtype}


def discards_imaginary(dtype: str, cast: Cast) -> bool:
    """Whether the cast takes a complex tensor to a real dtype (torch warns that it drops the
    imaginary part)."""
    return dtype in COMPLEX_DTYPES and cast_dtype(dtype, cast) not in COMPLEX_DTYPES


# -- [T5] loads ------------------------------------------------------------------------------------
def relayout(bp: Blueprint) -> Blueprint:
    """The same graph with every other layout a tensor can have: transposed and channels-last
    tensors become contiguous, contiguous 2-d (both sizes >= 2) ones transposed and contiguous 4-d
    ones (channels >= 2, h * w >= 2) channels-last; views and their bases stay as they are."""
    bases = {s.view_of for s in bp.tensors if s.view_of is not None}
    out = []
    for t, spec in enumerate(bp.tensors):
        layout = spec.layout
        if spec.view_of is not None or t in bases:
            pass
        elif layout != "contiguous":
            layout = "contiguous"
        elif len(spec.shape) == 2 and min(spec.shape) >= 2:
            layout = "transposed"
        elif len(spec.shape) == 4 and spec.shape[1] >= 2 and prod(spec.shape[2:]) >= 2:
            layout = "channels_last"
        out.append(replace(spec, layout=layout))
    return replace(bp, tensors=tuple(out))


def aliases_of_loaded(bp: Blueprint) -> set[int]:
    """Tensors not loaded that share storage with a loaded one: a load writes into them too, so
    their values after a load are not the model's (they are left unchecked)."""
    loaded = md.loaded_tensors(bp)
    roots = {root_of(bp, t) for t in loaded}
    return {loc.tensor for loc in observed(bp) if loc.tensor not in loaded and root_of(bp, loc.tensor) in roots}


def state_locations(bp: Blueprint) -> list[md.Location]:
    """[T6] one location per tensor a state dict holds, at a name the state dict holds it under (a
    parameter, or a persistent buffer): where a load writes, whatever became of the tensor's
    other names."""
    persistent = {(i, s.name) for i in bp.reachable() for s in bp.nodes[i].slots
                  if s.kind == "param" or (s.kind == "buffer" and s.persistent)}
    loaded, seen, out = md.loaded_tensors(bp), set(), []
    for loc in md.locations(bp):
        if loc.what in ("param", "buffer") and (loc.node, loc.name) in persistent and loc.tensor in loaded \
                and loc.tensor not in seen:
            seen.add(loc.tensor)
            out.append(loc)
    return out
