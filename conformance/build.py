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
    v = (torch.arange(math.prod(shape)) * 7 + seed) % 11 - 5
    return (v > 0 if dtype is torch.bool else v).reshape(shape).to(dtype)
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


def render_tensor(i: int, spec: TensorSpec, is_param: bool) -> list[str]:
    value = f"_t({spec.shape!r}, torch.{spec.dtype}, {spec.seed})"
    if is_param:
        lines = [f"t{i} = nn.Parameter({value}, requires_grad={spec.requires_grad})"]
    else:
        lines = [f"t{i} = {value}" + (".requires_grad_()" if spec.requires_grad else "")]
    if spec.grad:
        lines.append(f"t{i}.grad = _t({spec.shape!r}, torch.{spec.dtype}, {spec.seed + 1})")
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
    for i, spec in enumerate(bp.tensors):
        body += render_tensor(i, spec, i in params)
    for i, node in enumerate(bp.nodes):
        body += render_node(i, node, classes.get(i))
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
    imports = ("import math\n" if bp.tensors else "") + (
        "from collections import OrderedDict\n" if kinds & {"ModuleDict", "ParameterDict"} else ""
    )
    helpers = (VALUES if bp.tensors else "") + (EXTRA_STATE_CLASS if "ExtraState" in kinds else "")
    return imports + IMPORTS + helpers + "\n"


def _runtime() -> types.ModuleType:
    """The header's definitions, executed once into an importable module, so that every graph
    shares one ``ExtraState`` class that pickle can find by name (``nnconform_graph.ExtraState``)."""
    module = sys.modules.get(RUNTIME)
    if module is None:
        module = types.ModuleType(RUNTIME)
        exec(compile("import math\nfrom collections import OrderedDict\n" + IMPORTS + VALUES + EXTRA_STATE_CLASS,
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


@functools.lru_cache(maxsize=256)
def _compiled_body(bp: Blueprint, device, forward):
    return compile(render_body(bp, device, forward), "<nnconform blueprint>", "exec")


def _relabel_stored_buffers(bp: Blueprint, namespace: dict) -> None:
    """``m.b = nn.Buffer(t)`` stores a new tensor object: label that one as ``t``."""
    for i, node in enumerate(bp.nodes):
        for s in node.slots:
            if s.kind == "buffer" and s.via == "setattr" and s.ref is not None:
                namespace[f"t{s.ref}"] = getattr(namespace[f"n{i}"], s.name)
