"""Richer tensors in blueprints: complex dtypes, views sharing one storage, non-contiguous layouts.

Public API, in the style of ``hypothesis.extra`` (like ``strategies.graphs``): keyword-only
arguments, each taking a value or a strategy for it, checked when the strategy is built (fixed
values) or drawn (strategies).

``rich_blueprints`` draws a blueprint from ``graphs`` (default ``blueprints()``) and then decorates
its tensor table; it never changes the graph's nodes or slots. Only tensors that no built-in layer
holds are decorated (a layer's members have the shapes and dtypes its constructor gives them), and
every decoration is one draw that shrinks to "not decorated", so a failure shrinks towards today's
plain tensors:

- ``complex``: a floating tensor becomes complex64 or complex128 (its requires_grad and ``.grad``
  are kept: complex parameters can require grad);
- ``layouts``: a tensor becomes a 2-d ``transposed`` (column-major) or a 4-d ``channels_last`` one
  (its shape is redrawn so that the layout is not contiguous);
- ``views``: a few tensors become views of one base: either one of them (reshaped to 1-d) or a new
  tensor no slot holds; each is ``base.detach()[offset:offset + numel].view(shape)``, so views may
  overlap, and a parameter may be a view of another parameter's or a buffer's storage.

See ``strategies.blueprint.TensorSpec`` (``layout``, ``view_of``, ``offset``) and Note [rich
tensors] in ``conformance/build.py`` for how the program renders them.
"""
from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies.blueprint import COMPLEX_DTYPES, FLOAT_DTYPES, Blueprint, TensorSpec
from strategies.graphs import _chance, _check_bool, _resolve, blueprints
from strategies.layers import LAYERS

__all__ = ["rich_blueprints"]


def rich_blueprints(graphs=None, *, complex=True, views=True, layouts=True) -> st.SearchStrategy[Blueprint]:
    """Blueprints from ``graphs`` (a strategy of blueprints; default ``blueprints()``) whose tensors
    may be complex (``complex``), views sharing one storage (``views``) or transposed/channels-last
    (``layouts``)."""
    if graphs is None:
        graphs = blueprints()
    if not isinstance(graphs, st.SearchStrategy):
        raise InvalidArgument(f"graphs={graphs!r}: pass a strategy of blueprints (strategies.blueprints(...)) or None")
    checks = {name: (lambda v, name=name: _check_bool(name, v)) for name in ("complex", "views", "layouts")}
    args = dict(complex=complex, views=views, layouts=layouts)
    for name, value in args.items():
        if not isinstance(value, st.SearchStrategy):
            checks[name](value)
    return _rich(graphs, args, checks)


@st.composite
def _rich(draw, graphs, args, checks):
    opts = {name: _resolve(draw, value, checks[name]) for name, value in args.items()}
    bp = draw(graphs, label="graph")
    if not isinstance(bp, Blueprint):
        raise InvalidArgument(f"graphs drew {type(bp).__name__}: pass a strategy of blueprints")
    return _decorate(draw, bp, **opts)


def decoratable(bp: Blueprint) -> list[int]:
    """Tensors some slot holds and no built-in layer holds (nor any slot a constructor fills, such
    as an own-state layer's), that are not views yet."""
    held, in_layer = set(), set()
    for node in bp.nodes:
        for s in node.slots:
            if s.kind != "child" and s.ref is not None:
                ours = node.kind not in LAYERS and s.via in ("register", "setattr")
                (held if ours else in_layer).add(s.ref)
    return sorted(t for t in held - in_layer if bp.tensors[t].view_of is None and bp.tensors[t].layout == "contiguous")


def _decorate(draw, bp: Blueprint, *, complex: bool, views: bool, layouts: bool) -> Blueprint:
    tensors = list(bp.tensors)
    free = decoratable(bp)
    if complex:
        for t in free:
            if tensors[t].floating and _chance(draw, 3):
                tensors[t] = replace(tensors[t], dtype=draw(st.sampled_from(COMPLEX_DTYPES), label="complex dtype"))
    if views and len(free) >= 1 and _chance(draw, 2):
        chosen = draw(st.lists(st.sampled_from(free), min_size=min(2, len(free)), max_size=3, unique=True), label="views")
        free = [t for t in free if t not in chosen]
        tensors = _views(draw, tensors, chosen)
    if layouts:
        for t in free:
            layout = draw(st.sampled_from(("contiguous", "contiguous", "transposed", "channels_last")), label="layout")
            if layout == "transposed":
                shape = (draw(st.integers(2, 3)), draw(st.integers(2, 3)))
            elif layout == "channels_last":
                shape = (draw(st.integers(1, 2)), draw(st.integers(2, 3)), draw(st.integers(1, 2)), draw(st.integers(2, 3)))
            else:
                continue
            tensors[t] = replace(tensors[t], shape=shape, layout=layout)
    return replace(bp, tensors=tuple(tensors))


def _views(draw, tensors: list[TensorSpec], chosen: list[int]) -> list[TensorSpec]:
    """``chosen`` become views of one base of the first one's dtype: a new unheld tensor, or
    (about half the time) the first chosen tensor itself, reshaped to 1-d."""
    first = tensors[chosen[0]]
    dtype = first.dtype
    gradable = dtype in FLOAT_DTYPES + COMPLEX_DTYPES
    hidden = not draw(st.booleans(), label="base is held")  # shrinks to a new unheld base
    viewers = chosen if hidden else chosen[1:]
    base = len(tensors) if hidden else chosen[0]
    sizes = {t: max(1, tensors[t].numel) for t in viewers}
    offsets = {t: draw(st.integers(0, 3), label="offset") for t in viewers}
    length = max([offsets[t] + sizes[t] for t in viewers] + [1])
    if hidden:
        tensors.append(TensorSpec((length,), dtype, seed=len(tensors)))
    else:
        tensors[base] = replace(first, shape=(length,))
    for t in viewers:
        spec = tensors[t]
        shape = spec.shape if spec.numel else (1,)
        tensors[t] = replace(spec, shape=shape, dtype=dtype, view_of=base, offset=offsets[t],
                             requires_grad=spec.requires_grad and gradable, grad=spec.grad and gradable)
    return tensors
