"""Blueprint -> Python source -> live module graph.

The builder does not construct modules directly: it renders the blueprint as a short torch-only
Python program and executes it. The program *is* the reproducer printed on failure, so what a
user pastes is exactly what the test ran.

Labels: tensor ``i`` is the variable ``t<i>`` and node ``i`` is ``n<i>``; the root is also
``root``. Assertion messages name objects by these labels.
"""
from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass, field
from functools import cached_property

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


def render_node(i: int, node: Node) -> list[str]:
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
    head = f"{var} = ExtraState({node.args[0]})" if node.kind == "ExtraState" else f"{var} = nn.Module()"
    return [head] + [render_slot(var, s) for s in node.slots]


def render_body(bp: Blueprint, device: str | None = None) -> str:
    """The statements that build ``bp``; under ``with torch.device(device)`` when one is given."""
    params = bp.param_ids()
    body = []
    for i, spec in enumerate(bp.tensors):
        body += render_tensor(i, spec, i in params)
    for i, node in enumerate(bp.nodes):
        body += render_node(i, node)
    body.append(f"root = n{bp.root}")
    if device is None:
        return "\n".join(body) + "\n"
    return f"with torch.device({device!r}):\n" + "".join(f"    {line}\n" for line in body)


def render(bp: Blueprint, device: str | None = None) -> str:
    """The whole torch-only program: header (imports, helpers) and body."""
    return _header(bp) + render_body(bp, device)


def _header(bp: Blueprint) -> str:
    """Imports and helpers, only those this blueprint's program uses."""
    kinds = {n.kind for n in bp.nodes}
    imports = ("import math\n" if bp.tensors else "") + (
        "from collections import OrderedDict\n" if kinds & {"ModuleDict", "ParameterDict"} else ""
    )
    helpers = (VALUES if bp.tensors else "") + (EXTRA_STATE_CLASS if "ExtraState" in kinds else "")
    return imports + IMPORTS + helpers + "\n"


@dataclass
class Graph:
    """A built blueprint: the root, every node and tensor by index, and labels for messages."""

    blueprint: Blueprint
    source: str
    namespace: dict = field(repr=False)

    @property
    def root(self) -> torch.nn.Module:
        return self.namespace["root"]

    def node(self, i: int) -> torch.nn.Module:
        return self.namespace[f"n{i}"]

    def tensor(self, i: int):
        """The object registered for tensor ``i`` (for ``nn.Buffer`` assignment: the stored one)."""
        return self.namespace[f"t{i}"]

    @cached_property
    def _labels(self) -> dict[int, str]:
        names = (n for n in self.namespace if n[:1] in "nt" and n[1:].isdigit())
        return {id(self.namespace[n]): n for n in names}

    def label(self, obj) -> str:
        """``n3``/``t5`` for a blueprint object as built, else a short description."""
        if obj is None:
            return "None"
        return self._labels.get(id(obj), f"<unlabelled {type(obj).__name__}>")

    def labelled(self, pairs) -> list[tuple[str, str]]:
        """``[(name, label)]`` of a live ``named_*()`` iteration."""
        return [(name, self.label(obj)) for name, obj in pairs]

    def expected(self, pairs, prefix: str = "n") -> list[tuple[str, str]]:
        """``[(name, label)]`` of a model result ``[(name, index)]``."""
        return [(name, f"{prefix}{i}") for name, i in pairs]

    def repro(self, call: str) -> str:
        return self.source + call.strip() + "\n"


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


def build(bp: Blueprint, device: str | None = None) -> Graph:
    """Run the program's body against the shared runtime header, keeping torch's global RNG
    untouched (layer initialisation draws from it)."""
    namespace = dict(vars(_runtime()))
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        exec(compile(render_body(bp, device), "<nnconform blueprint>", "exec"), namespace)
    _relabel_stored_buffers(bp, namespace)
    return Graph(bp, render(bp, device), namespace)


def _relabel_stored_buffers(bp: Blueprint, namespace: dict) -> None:
    """``m.b = nn.Buffer(t)`` stores a new tensor object: label that one as ``t``."""
    for i, node in enumerate(bp.nodes):
        for s in node.slots:
            if s.kind == "buffer" and s.via == "setattr" and s.ref is not None:
                namespace[f"t{s.ref}"] = getattr(namespace[f"n{i}"], s.name)
