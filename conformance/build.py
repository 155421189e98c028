"""Blueprint -> Python source -> live module graph.

The builder does not construct modules directly: it renders the blueprint as a short torch-only
Python program and executes it. The program *is* the reproducer printed on failure, so what a
user pastes is exactly what the test ran.

Variables: tensor ``i`` is ``t<i>`` and node ``i`` is ``n<i>``; the root is ``root``. Backends
(``conformance.backends``) run this program, then their wrap step, and hand tests a live
``conformance.handle.Handle``; assertion messages name objects by these labels.
"""
from __future__ import annotations

import functools
import sys
import types
import warnings

import torch

from strategies.blueprint import Blueprint, Node, Slot, TensorSpec
from strategies.layers import LAYERS

RUNTIME = "nnconform_graph"
IMPORTS = "import torch\nfrom torch import nn\n"

VALUES = '''

def _t(shape, dtype, seed):
    """Deterministic small values: no RNG involved."""
    v = [(k * 7 + seed) % 11 - 5 for k in range(math.prod(shape))]
    return torch.tensor([x > 0 for x in v] if dtype is torch.bool else v).reshape(shape).to(dtype)
'''

EXTRA_STATE_CLASS = '''

class ExtraState(nn.Module):
    """A custom module with extra state, as in the get_extra_state docs."""
    _version = 3

    def __init__(self, extra):
        super().__init__()
        self.extra = extra

    def get_extra_state(self):
        return {"extra": self.extra}

    def set_extra_state(self, state):
        self.extra = state["extra"]
'''


COMPLEX_VALUES = '''

def _c(shape, dtype, seed):
    """Deterministic complex values: real part _t(.., seed), imaginary part _t(.., seed + 1)."""
    real = torch.float32 if dtype is torch.complex64 else torch.float64
    return _t(shape, dtype, seed) + 1j * _t(shape, real, seed + 1)
'''

# Note [rich tensors]: the ``TensorSpec`` fields that ``strategies.tensors.rich_blueprints`` sets.
# Values stay a pure function of (shape, dtype, seed) (``_c`` for complex dtypes); a layout only
# changes how they are stored; a view reads its base's values. A spec with the defaults renders
# exactly as before these fields existed.
LAYOUT_SUFFIX = {"contiguous": "", "transposed": ".t().contiguous().t()",
                 "channels_last": ".contiguous(memory_format=torch.channels_last)"}


def render_value(spec: TensorSpec, seed: int, layout: str = "contiguous") -> str:
    """The expression of a fresh tensor of ``spec``'s shape and dtype with values of ``seed``."""
    helper = "_c" if spec.is_complex else "_t"
    return f"{helper}({spec.shape!r}, torch.{spec.dtype}, {seed})" + LAYOUT_SUFFIX[layout]


def render_tensor(i: int, spec: TensorSpec, is_param: bool) -> list[str]:
    if spec.view_of is not None:
        value = f"t{spec.view_of}.detach()[{spec.offset}:{spec.offset + spec.numel}].view({spec.shape!r})"
    else:
        value = render_value(spec, spec.seed, spec.layout)
    if is_param:
        lines = [f"t{i} = nn.Parameter({value}, requires_grad={spec.requires_grad})"]
    else:
        lines = [f"t{i} = {value}" + (".requires_grad_()" if spec.requires_grad else "")]
    if spec.grad:
        lines.append(f"t{i}.grad = {render_value(spec, spec.seed + 1)}")
    return lines


def _ref(kind: str, ref: int | None) -> str:
    return "None" if ref is None else f"{'n' if kind == 'child' else 't'}{ref}"


def render_slot(var: str, slot: Slot) -> str:
    value = _ref(slot.kind, slot.ref)
    if slot.via in ("setattr", "member") or slot.kind == "plain":
        if slot.kind == "buffer" and slot.ref is not None and slot.via == "setattr":
            value = f"nn.Buffer({value}, persistent={slot.persistent})"
        return f"{var}.{slot.name} = {value}"
    if slot.kind == "param":
        return f"{var}.register_parameter({slot.name!r}, {value})"
    if slot.kind == "buffer":
        return f"{var}.register_buffer({slot.name!r}, {value}, persistent={slot.persistent})"
    return f"{var}.add_module({slot.name!r}, {value})"


def render_node(i: int, node: Node, cls: tuple[str, str] | None = None) -> list[str]:
    """``cls``: (name, source) of the generated class that replaces ``nn.Module``/``ExtraState``."""
    var = f"n{i}"
    refs = [_ref(s.kind, s.ref) for s in node.slots]
    if node.kind in ("Sequential", "ModuleList", "ParameterList"):
        items = ", ".join(refs)
        return [f"{var} = nn.{node.kind}({items})" if node.kind == "Sequential" else f"{var} = nn.{node.kind}([{items}])"]
    if node.kind in ("ModuleDict", "ParameterDict"):
        pairs = ", ".join(f"({s.name!r}, {r})" for s, r in zip(node.slots, refs))
        return [f"{var} = nn.{node.kind}(OrderedDict([{pairs}]))"]
    if node.kind in LAYERS:
        layer = LAYERS[node.kind]
        sizes = node.args[: len(layer.arg_names)]
        bias = [f"bias={node.args[-1]}"] if layer.has_bias_flag else []
        head = f"{var} = nn.{node.kind}({', '.join([*map(str, sizes), *bias])})"
        return [head] + [render_slot(var, s) for s in node.slots if s.ref is not None]
    if node.kind == "ExtraState":
        head = f"{var} = {cls[0] if cls else 'ExtraState'}({node.args[0]})"
    else:
        head = f"{var} = {cls[0] if cls else 'nn.Module'}()"
    return [head] + [render_slot(var, s) for s in node.slots]


# Note [own-state layers in the program]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# A layer whose slots are ``via="own"`` (``strategies.layer_state``) is rendered as its plain
# constructor call with keyword arguments, after ``torch.manual_seed(<node index>)`` so that its
# random initialisation is the same in every run of the reproducer (``run`` keeps the caller's RNG
# untouched). Nothing is assigned to it: its tensors and the children its constructor made are
# only bound to their labels (``t5 = n3.weight``, ``n2 = n3.out_proj``), the children right after
# their parent. Blueprints without own-state layers render as before.
def own_state(bp: Blueprint) -> tuple[set[int], set[int]]:
    """(nodes rendered by ``render_own_state``: own-state layers and the children their
    constructors make, tensors those constructors make)."""
    from strategies.layer_state import OWN, own_tensors

    if not any(s.via == OWN for n in bp.nodes for s in n.slots):
        return set(), set()
    inner = {s.ref for n in bp.nodes for s in n.slots if s.kind == "child" and s.via == OWN}
    nodes = {i for i, n in enumerate(bp.nodes) if i in inner or any(s.via == OWN for s in n.slots)}
    return nodes, own_tensors(bp)


def _own_bindings(bp: Blueprint, i: int) -> list[str]:
    """Labels of what node ``i``'s constructor made: its tensors, then each child and its own."""
    from strategies.layer_state import OWN

    lines = []
    for s in bp.nodes[i].slots:
        if s.via != OWN or s.ref is None:
            continue
        if s.kind == "child":
            lines.append(f"n{s.ref} = {_member(f'n{i}', s.name)}")
            lines += _own_bindings(bp, s.ref)
        else:
            lines.append(f"t{s.ref} = {_member(f'n{i}', s.name)}")
    return lines


def _member(var: str, name: str) -> str:
    return f"{var}.{name}" if name.isidentifier() else f"getattr({var}, {name!r})"


def render_own_state(bp: Blueprint, i: int) -> list[str]:
    """An own-state layer: seed, constructor call, labels (Note [own-state layers in the
    program]); nothing for a child its parent's constructor makes (bound after the parent)."""
    from strategies.layer_state import inner_nodes

    if i in inner_nodes(bp):
        return []
    node = bp.nodes[i]
    kwargs = ", ".join(f"{k}={v!r}" for k, v in node.args)
    return [f"torch.manual_seed({i})", f"n{i} = nn.{node.kind}({kwargs})"] + _own_bindings(bp, i)


def render_body(bp: Blueprint, device: str | None = None, forward: bool = False) -> str:
    """The statements that build ``bp``; under ``with torch.device(device)`` when one is given.
    With ``forward``, plain and extra-state nodes are instances of generated classes whose
    ``forward`` touches every member (``conformance.forward``)."""
    params = bp.param_ids()
    body = []
    if forward:
        from conformance.forward import render_classes
        classes = render_classes(bp)
    else:
        classes = {}
    # Bases before their views (Note [rich tensors]); without views this is index order.
    own = own_state(bp)  # layers that keep their own state: Note [own-state layers in the program]
    for i, spec in sorted(enumerate(bp.tensors), key=lambda item: item[1].view_of is not None):
        if i not in own[1]:
            body += render_tensor(i, spec, i in params)
    for i, node in enumerate(bp.nodes):
        body += render_own_state(bp, i) if i in own[0] else render_node(i, node, classes.get(i))
    body.append(f"root = n{bp.root}")
    defs = "".join(dict.fromkeys(source for _, source in classes.values()))
    if device is None:
        return defs + "\n".join(body) + "\n"
    return defs + f"with torch.device({device!r}):\n" + "".join(f"    {line}\n" for line in body)


def render(bp: Blueprint, device: str | None = None, forward: bool = False) -> str:
    """The whole torch-only program: header (imports, helpers) and body."""
    return _header(bp) + render_body(bp, device, forward)


def _header(bp: Blueprint) -> str:
    """Imports and helpers, only those this blueprint's program uses."""
    kinds = {n.kind for n in bp.nodes}
    rendered = len(bp.tensors) > len(own_state(bp)[1])  # own-state layers' tensors are not rendered
    imports = ("import math\n" if rendered else "") + (
        "from collections import OrderedDict\n" if kinds & {"ModuleDict", "ParameterDict"} else ""
    )
    helpers = (VALUES if rendered else "") + (COMPLEX_VALUES if any(t.is_complex for t in bp.tensors) else "") + (
        EXTRA_STATE_CLASS if "ExtraState" in kinds else "")
    return imports + IMPORTS + helpers + "\n"


def _runtime() -> types.ModuleType:
    """The header's definitions, executed once into an importable module, so that every graph
    shares one ``ExtraState`` class that pickle can find by name (``nnconform_graph.ExtraState``)."""
    module = sys.modules.get(RUNTIME)
    if module is None:
        module = types.ModuleType(RUNTIME)
        exec(compile("import math\nfrom collections import OrderedDict\n" + IMPORTS + VALUES + COMPLEX_VALUES + EXTRA_STATE_CLASS,
                     f"<{RUNTIME}>", "exec"), module.__dict__)
        sys.modules[RUNTIME] = module
    return module


def run(bp: Blueprint, device: str | None = None, forward: bool = False) -> dict:
    """Run the program's body against the shared runtime header and return its namespace,
    keeping torch's global RNG untouched (layer initialisation draws from it)."""
    namespace = dict(vars(_runtime()))
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        exec(_compiled_body(bp, device, forward), namespace)
    _relabel_stored_buffers(bp, namespace)
    return namespace


def _compiled_body(bp: Blueprint, device, forward):
    """Compiled once per blueprint (shrinking and replays build one blueprint many times), except
    big graphs, whose code is not kept: 256 cached programs of the soak profile's 1,000 nodes
    held about 250 MB."""
    if len(bp.nodes) > CACHED_NODES:
        return compile(render_body(bp, device, forward), "<nnconform blueprint>", "exec")
    return _cached_body(bp, device, forward)


CACHED_NODES = 30


@functools.lru_cache(maxsize=256)
def _cached_body(bp: Blueprint, device, forward):
    return compile(render_body(bp, device, forward), "<nnconform blueprint>", "exec")


def _relabel_stored_buffers(bp: Blueprint, namespace: dict) -> None:
    """``m.b = nn.Buffer(t)`` stores a new tensor object: label that one as ``t``."""
    for i, node in enumerate(bp.nodes):
        for s in node.slots:
            if s.kind == "buffer" and s.via == "setattr" and s.ref is not None:
                namespace[f"t{s.ref}"] = getattr(namespace[f"n{i}"], s.name)
