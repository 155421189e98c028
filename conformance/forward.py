"""Generated ``forward``: the classes that replace ``nn.Module``/``ExtraState`` in a blueprint's
program when the backend needs a forward (tracing and compiling wrappers, hook tests).

Note [generated forward]
~~~~~~~~~~~~~~~~~~~~~~~~
``render_classes(bp)`` gives each ``Module``/``ExtraState`` node a class whose
``forward(self, x)`` takes a float32 tensor of shape ``(1,)`` and returns one of that shape. What
it does is the reference model's rule, ``conformance.model_hooks`` [F1]-[F4]: it touches every
registered non-None parameter and buffer (``x = x + self.p0.to(x).sum()``: any dtype, zero-size
included), and uses its children in registration order: generated classes and accepting
``Sequential`` s are called, other containers are gone through by index or key, built-in layers
are called with ``<member>.new_zeros(shape)`` when their members are as the constructor made them
(``model_hooks.layer_called``) and otherwise touched member by member. A rendered class looks
like::

    class F_3f9a0c2b1e(nn.Module):
        def forward(self, x):
            x = x + self.p0.to(x).sum()
            x = self.m1(x)
            x = x + self.m2[0](self.m2[0].weight.new_zeros((3,))).nan_to_num().to(x).sum()
            return x


    F_3f9a0c2b1e = vars(__import__('sys').modules[__name__]).setdefault('F_3f9a0c2b1e', F_3f9a0c2b1e)

Built-in layers (``strategies.layers``), when ``layer_called``; otherwise, and for the members a
call may leave unread, each non-None member is touched (``t = layer.bias`` then
``x = x if t is None else x + t.to(x).sum()``: TorchScript types ``Conv2d.bias`` as Optional):

============  ===========================================================  =====================
layer         called as                                                    not called when
============  ===========================================================  =====================
Linear        ``l(l.weight.new_zeros((in_features,)))`` (unbatched)        a member of another
Conv2d        ``l(l.weight.new_zeros((in_channels, k, k)))`` (unbatched)   shape, or floating
BatchNorm1d   ``l(l.weight.new_zeros((2, num_features)))`` (2 rows:       members of different
              training mode needs more than one value per channel), then   dtypes (the call
              ``num_batches_tracked`` touched (eval mode does not read it)  raises: ``expected
Embedding     ``l(l.weight.new_zeros((1,), dtype=torch.int64))``           scalar type Float but
LSTM          ``l(l.weight_ih_l0.new_zeros((1, input_size)))[0]``          found Double``);
LayerNorm     ``l(l.weight.new_zeros((normalized_shape,)))``               BatchNorm1d(0) always,
                                                                           and BatchNorm1d whose
                                                                           running statistics
                                                                           require grad (torch
                                                                           refuses them)
============  ===========================================================  =====================

The input's dtype and device follow the layer's member, so a call stays valid after
``.double()``/``.half()``/``.to(device)``; every floating dtype works on CPU in both modes
(``meta_tests/test_forward.py``). The strategies draw each layer member's dtype on its own (and
ties may give a member another shape), so most drawn BatchNorm1d (running stats float32/float64,
weights any floating dtype) and LSTM (four parameters) are touched only; Embedding and bias-less
Linear/Conv2d are nearly always called. A call's output is ``nan_to_num``'d: drawn values can make
it NaN (BatchNorm1d in eval mode with a negative running_var), and ``x`` stays comparable with ==.

Names are content-addressed (``F_`` + a hash of the class text), so one text is one class. The
last line keeps the first class of that name in the module the program runs in: in a fresh
interpreter that is ``__main__`` (the class statement just bound it, so pickle finds
``__main__.F_...``); in the suite it is the runtime module ``nnconform_graph``, where
``render_classes`` has already put the class, compiled from the same text under its own file
name with the text in ``linecache`` — so ``torch.jit.script`` can read its source, and pickle,
``torch.save`` and ``copy.deepcopy`` find ``nnconform_graph.F_...`` as the very class the
objects have, however many graphs were built from that text.
"""
from __future__ import annotations

import hashlib
import keyword
import linecache

from conformance import model_hooks as rules
from strategies.blueprint import Blueprint
from strategies.layer_state import is_own
from strategies.layers import LAYERS

_PLACEHOLDER = "F__"


def _attr(expr: str, name: str) -> str:
    """``expr.name``, or ``getattr(expr, 'name')`` for a name that is not an identifier."""
    return f"{expr}.{name}" if name.isidentifier() and not keyword.iskeyword(name) else f"getattr({expr}, {name!r})"


def _touch(expr: str) -> str:
    """Read a tensor into ``x``. ``.to(x)`` (not ``.float()``) puts the tensor itself into an op
    with ``x``: ``torch.fx`` then records a buffer as a ``get_attr`` read at every call, where
    ``buffer.float()`` would run once, at trace time, and bake the value in as a constant."""
    return f"x = x + {expr}.to(x).sum()"


def _touch_layer_member(expr: str) -> list[str]:
    """A built-in layer's member: torch may annotate it ``Optional[Tensor]`` (``Conv2d.bias``),
    and TorchScript refines only a local variable."""
    return [f"t = {expr}", "x = x if t is None else x + t.to(x).sum()"]


def _layer_lines(bp: Blueprint, i: int, expr: str) -> list[str]:
    """[F2]/[F3] A built-in layer: called with a zero input, or touched member by member."""
    node = bp.nodes[i]
    present = [s.name for s in node.slots if s.ref is not None]
    if not rules.layer_called(bp, i):
        return [line for name in present for line in _touch_layer_member(_attr(expr, name))]
    member, shape, dtype = rules.LAYER_INPUTS[node.kind]
    args = node.args[: len(LAYERS[node.kind].arg_names)]
    zeros = f"{_attr(expr, member)}.new_zeros({tuple(shape(args))!r}" + (f", dtype=torch.{dtype})" if dtype else ")")
    index = rules.LAYER_OUTPUT_INDEX.get(node.kind)
    # Drawn values can make a layer's output NaN (BatchNorm1d in eval mode with a negative
    # running_var): nan_to_num keeps x finite, so values compare with ==.
    call = f"{expr}({zeros})" + (f"[{index}]" if index is not None else "") + ".nan_to_num()"
    unread = [name for name in rules.UNREAD_BY_CALL.get(node.kind, ()) if name in present]
    return [_touch(call)] + [line for name in unread for line in _touch_layer_member(_attr(expr, name))]


def _own_layer_lines(bp: Blueprint, i: int, expr: str) -> list[str]:
    """A layer that keeps its own state (``strategies.layer_state``): called with zero inputs
    (``model_layers`` [L5]) of its first floating member's dtype and device, that member bound to
    ``t`` so that TorchScript refines an ``Optional[Tensor]`` member (``running_mean``); like ``x``
    when it has none. The children its constructor made are used by its own forward, not here."""
    from conformance import model_layers as ml

    source = ml.input_source(bp, i)
    # x.new_zeros(...).to(t), not t.new_zeros(...): torch.fx proxies x, while a buffer read from a
    # leaf module is a real tensor whose new_zeros would be baked into the trace as a constant.
    inputs = ", ".join(f"x.new_zeros({shape!r})" + (".to(t)" if source else "")
                       + (f".to(torch.{dtype})" if dtype else "") for shape, dtype in ml.call_inputs(bp, i))
    index = ml.OWN_CALLS[bp.nodes[i].kind][2]
    call = f"{expr}({inputs})" + (f"[{index}]" if index is not None else "") + ".nan_to_num()"
    if not source:
        return [_touch(call)]
    member = expr
    for part in source.split("."):
        member = _attr(member, part)
    return [f"t = {member}", f"x = x if t is None else x + {call}.to(x).sum()"]


def _use_lines(bp: Blueprint, i: int, expr: str) -> list[str]:
    """[F2] The statements that use node ``i``, reached from ``self`` as ``expr``."""
    node = bp.nodes[i]
    if node.kind in rules.GENERATED or (node.kind == "Sequential" and rules.accepts(bp, i)):
        return [f"x = {expr}(x)"]
    if is_own(node):
        return _own_layer_lines(bp, i, expr)
    if node.kind in LAYERS:
        return _layer_lines(bp, i, expr)
    keyed = node.kind in ("ModuleDict", "ParameterDict")
    # TorchScript numbers a Sequential's modules without its None entries (eager indexing counts
    # them), so a Sequential that holds None is gone through by name.
    by_name = any(s.ref is None for s in node.slots)
    lines = []
    for k, s in enumerate(node.slots):
        if s.ref is None:
            continue
        if keyed:
            item = f"{expr}[{s.name!r}]"
        else:
            item = f"getattr({expr}, {s.name!r})" if by_name else f"{expr}[{k}]"
        lines += [_touch(item)] if node.kind in rules.PARAMETER_CONTAINERS else _use_lines(bp, s.ref, item)
    return lines


def _class_source(bp: Blueprint, i: int) -> tuple[str, str]:
    """[F1] (name, source) of node ``i``'s class."""
    node = bp.nodes[i]
    lines = []
    for s in node.slots:
        if s.ref is None or s.kind == "plain":
            continue
        item = _attr("self", s.name)
        lines += _use_lines(bp, s.ref, item) if s.kind == "child" else [_touch(item)]
    body = "".join(f"        {line}\n" for line in lines + ["return x"])
    if node.kind == "ExtraState":  # TorchScript reads the source of the class's own __init__
        head = f"class {_PLACEHOLDER}(ExtraState):\n    def __init__(self, extra):\n        super().__init__(extra)\n\n"
    else:
        head = f"class {_PLACEHOLDER}(nn.Module):\n"
    # The class keeps its unique __qualname__ (pickle finds it by that) but shows the blueprint's
    # class name, so messages and reprs read as they would without a generated forward.
    text = (f"{head}    def forward(self, x):\n{body}\n\n"
            f"{_PLACEHOLDER} = vars(__import__('sys').modules[__name__]).setdefault({_PLACEHOLDER!r}, {_PLACEHOLDER})\n"
            f"{_PLACEHOLDER}.__name__ = {node.kind if node.kind == 'ExtraState' else 'Module'!r}\n\n\n")
    name = "F_" + hashlib.sha1(text.encode()).hexdigest()[:10]
    return name, text.replace(_PLACEHOLDER, name)


def _register(name: str, source: str) -> None:
    """Define class ``name`` in the runtime module from ``source``, once, with the source in
    ``linecache`` under a file name of its own (see Note [generated forward])."""
    from conformance.build import _runtime

    runtime = _runtime()
    filename = f"<nnconform_graph {name}>"
    # Every time: a linecache.clearcache() elsewhere must not leave a registered class sourceless.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    if name not in vars(runtime):
        exec(compile(source, filename, "exec"), vars(runtime))


def render_classes(bp: Blueprint) -> dict[int, tuple[str, str]]:
    """{node index: (class name, class source)} for every ``Module``/``ExtraState`` node; each
    class is also defined in the runtime module ``nnconform_graph`` (Note [generated forward])."""
    classes = {i: _class_source(bp, i) for i, node in enumerate(bp.nodes) if node.kind in rules.GENERATED}
    for name, source in classes.values():
        _register(name, source)
    return classes


def class_name(bp: Blueprint, i: int, *, forward: bool) -> str:
    """The ``__name__`` of node ``i``'s class, with or without a generated forward: the
    blueprint's kind either way (a generated class differs only in its ``__qualname__``)."""
    return bp.nodes[i].kind
