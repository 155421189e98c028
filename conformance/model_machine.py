"""The reference model of the whole-graph state machine: one pure function per rule.

A :class:`Graph` is a blueprint (the structure, each tensor's shape, dtype and ``requires_grad``),
every node's ``training`` flag and every tensor's values; a rule maps a graph to the graph the
live module must look like afterwards (``conformance/test_graph_machine.py`` runs the rules on a
live graph and checks it against the model after every step). Nothing here imports torch.

Indices. The root stays the last node (``Blueprint.root``): a module a rule creates is inserted
just before it, so every other node keeps its index, and the root is labelled ``root`` rather
than by its index. Tensors a rule creates are appended. Labels: ``root``, ``n<i>``, ``t<i>``.

The rules, with the invariant ids they rest on:
- a member assignment or registration under a name of the same kind keeps the name's place, of
  another kind removes the old entry and appends the name; ``del`` removes it
  (``attr.reassign_order_and_delattr``, ``attr.setattr_matrix``, ``reg.*``); ``register_buffer``
  on an existing buffer name keeps its place and takes the new persistence (:func:`put`);
- the setattr matrix (:func:`setattr_outcome`): a Parameter always becomes a parameter, a Module
  a child; ``None`` keeps a parameter or child name's kind; an ``nn.Buffer`` or any tensor or
  ``None`` onto a buffer name is a buffer (persistence: the Buffer's, else kept); a tensor onto
  any other name is a plain attribute;
- a call Module rejects raises and changes nothing (:func:`rejection` gives the exception type,
  law ``law.rejected_call_changes_nothing``);
- ``train(mode)`` sets the flag on the module and every module below it (``train.*``);
- ``requires_grad_(mode)`` sets every reachable parameter's flag (``grad.requires_grad_``);
- ``float()``/``double()``/``half()`` cast floating parameters and buffers (``conformance.model_dtype``);
- ``load_state_dict``: missing and unexpected keys (``conformance.model_state``); without
  ``assign`` values are copied into the objects, the last key of an object winning; with
  ``assign`` each (module, name) takes a new object holding the last value given for it;
- ``copy.deepcopy`` leaves the model as it is (the live objects are new: the test relabels them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from conformance import model, model_dtype, model_modes, model_state
from strategies.blueprint import FLOAT_DTYPES, Blueprint, Node, Slot, TensorSpec

NEW_SHAPE = (2,)  # every tensor a rule creates: torch.full((2,), k) / nn.Parameter(torch.full((2,), k))


@dataclass(frozen=True)
class Graph:
    bp: Blueprint
    training: tuple[bool, ...]  # per node
    values: tuple[tuple[int, ...], ...]  # per tensor, flattened (small integers: exact in every dtype drawn)


# -- building the model ------------------------------------------------------------------------
def built_values(spec: TensorSpec) -> tuple[int, ...]:
    """The values the builder's ``_t(shape, dtype, seed)`` gives (``conformance.build``)."""
    out = []
    for k in range(math.prod(spec.shape)):
        v = (k * 7 + spec.seed) % 11 - 5
        out.append(int(v > 0) if spec.dtype == "bool" else v % 256 if spec.dtype == "uint8" else v)
    return tuple(out)


def start(bp: Blueprint) -> Graph:
    """A freshly built graph: every module in training mode."""
    return Graph(bp, (True,) * len(bp.nodes), tuple(built_values(s) for s in bp.tensors))


def label(g: Graph, i: int) -> str:
    return "root" if i == g.bp.root else f"n{i}"


def new_node(g: Graph) -> tuple[Graph, int]:
    """An empty ``nn.Module``, in training mode, inserted before the root; its index."""
    bp, r = g.bp, g.bp.root
    nodes = bp.nodes[:r] + (Node("Module"),) + bp.nodes[r:]
    return Graph(Blueprint(nodes, bp.tensors), g.training[:r] + (True,) + g.training[r:], g.values), r


def new_value(g: Graph) -> int:
    """``k`` of the next tensor a rule creates, ``torch.full((2,), k)``."""
    return len(g.bp.tensors) % 4


def new_tensor(g: Graph, *, requires_grad: bool) -> tuple[Graph, int]:
    """A float32 ``torch.full((2,), new_value(g))`` appended; its index."""
    k = new_value(g)
    spec = TensorSpec(NEW_SHAPE, "float32", requires_grad=requires_grad)
    return Graph(Blueprint(g.bp.nodes, g.bp.tensors + (spec,)), g.training, g.values + ((k,) * 2,)), len(g.bp.tensors)


# -- structure ---------------------------------------------------------------------------------
def slot(g: Graph, node: int, name) -> Slot | None:
    return next((s for s in g.bp.nodes[node].slots if s.name == name), None)


def put(g: Graph, node: int, name: str, kind: str | None, ref=None, persistent: bool = True) -> Graph:
    """``name`` of ``node`` now holds ``ref`` as ``kind`` (``None``: deleted). The same kind keeps
    the slot's place, another kind (or a deleted name re-registered) goes last."""
    slots = list(g.bp.nodes[node].slots)
    old = next((j for j, s in enumerate(slots) if s.name == name), None)
    new = Slot(kind, name, ref, persistent) if kind else None
    if old is not None and new is not None and slots[old].kind == kind:
        slots[old] = new
    else:
        if old is not None:
            del slots[old]
        if new is not None:
            slots.append(new)
    nodes = list(g.bp.nodes)
    nodes[node] = replace(nodes[node], slots=tuple(slots))
    return replace(g, bp=Blueprint(tuple(nodes), g.bp.tensors))


def ancestors(g: Graph, node: int) -> set[int]:
    """``node`` and every node above it: the modules that may not become its children (a cycle)."""
    return {i for i in range(len(g.bp.nodes)) if node in model_modes.descendants(g.bp, i)}


# -- the setattr matrix and the rejected calls -------------------------------------------------
# Values a call is given, by name: what ``setattr_outcome``/``rejection`` look at.
PARAMETER, MODULE, TENSOR, BUFFER, BUFFER_NP, NONE, LIST = (
    "Parameter", "Module", "Tensor", "Buffer", "Buffer(persistent=False)", "None", "list")
ACCEPTED = {"register_parameter": (PARAMETER, NONE), "register_buffer": (TENSOR, PARAMETER, NONE),
            "add_module": (MODULE, NONE)}
KIND_OF = {"register_parameter": "param", "register_buffer": "buffer", "add_module": "child"}


def existing(g: Graph, node: int, name) -> str | None:
    """What ``name`` is on ``node``: a slot kind, ``plain`` for ``training``, ``class`` for a name
    the class defines (``forward``), None when unused."""
    s = slot(g, node, name)
    if s is not None:
        return s.kind
    return {"training": "plain", "forward": "class"}.get(name)


def setattr_outcome(old_kind: str | None, old_persistent: bool, value: str):
    """``setattr(m, name, value)``: ``(kind, persistent)`` the name ends as, or the exception
    type name (spec ``attr.setattr_matrix``)."""
    if value == PARAMETER:
        return "param", True
    if old_kind == "param":
        return ("param", True) if value == NONE else "TypeError"
    if value == MODULE:
        return "child", True
    if old_kind == "child":
        return ("child", True) if value == NONE else "TypeError"
    marked = value in (BUFFER, BUFFER_NP)
    if marked or old_kind == "buffer":
        if not (marked or value in (TENSOR, NONE)):
            return "TypeError"
        if old_kind == "plain":
            return "KeyError"
        return "buffer", (value == BUFFER) if marked else old_persistent
    return "plain", True


def rejection(method: str, name, old_kind: str | None, value: str) -> str | None:
    """The exception type name a registration call raises, or None when it succeeds, checking in
    torch's order (``reg.*_errors``): ``add_module`` looks at the value, then for a clash, then at
    the name's form; the tensor registrations look at the name (type, form, clash), then the value."""
    wanted = KIND_OF[method]
    if method == "add_module":
        if value not in ACCEPTED[method]:
            return "TypeError"
        if not isinstance(name, str):
            return "TypeError"
        if old_kind not in (None, wanted):
            return "KeyError"
        return "KeyError" if "." in name or name == "" else None
    if not isinstance(name, str):
        return "TypeError"
    if "." in name or name == "" or old_kind not in (None, wanted):
        return "KeyError"
    return None if value in ACCEPTED[method] else "TypeError"


# -- modes, gradients, casts -------------------------------------------------------------------
def train(g: Graph, node: int, mode: bool) -> Graph:
    """``n.train(mode)`` / ``n.eval()``: the node and every module below it."""
    below = model_modes.descendants(g.bp, node)
    return replace(g, training=tuple(mode if i in below else f for i, f in enumerate(g.training)))


def parameters(g: Graph) -> list[int]:
    return model_modes.parameters(g.bp)


def set_specs(g: Graph, changes: dict[int, TensorSpec], values: dict[int, tuple] | None = None) -> Graph:
    tensors = tuple(changes.get(t, s) for t, s in enumerate(g.bp.tensors))
    vals = tuple((values or {}).get(t, v) for t, v in enumerate(g.values))
    return Graph(Blueprint(g.bp.nodes, tensors), g.training, vals)


def requires_grad_(g: Graph, mode: bool) -> Graph:
    """Every reachable parameter's ``requires_grad`` (mode True: floating parameters only; the
    test does not make the call when an integer parameter would make it raise)."""
    return set_specs(g, {t: replace(g.bp.tensors[t], requires_grad=mode) for t in parameters(g)})


CASTS = {c.call: c for c in model_dtype.FLOAT_FAMILY if c.call in ("float()", "double()", "half()")}


def cast(g: Graph, call: str) -> Graph:
    """``root.float()`` etc. (``conformance.model_dtype``): dtypes and ``requires_grad`` of the
    reachable parameters and buffers; values are small integers, kept exactly."""
    conv = CASTS[call]
    changes = {}
    for t, dtype in model_dtype.registered_dtypes(g.bp, conv).items():
        changes[t] = replace(g.bp.tensors[t], dtype=dtype, requires_grad=model_dtype.requires_grad_after(g.bp, t, conv))
    return set_specs(g, changes)


def cast_changes(g: Graph, call: str) -> set[int]:
    """Tensors whose dtype the cast changes (their buffers are new objects afterwards)."""
    return set(model_dtype.tensor_roles(g.bp)) - model_dtype.unchanged(g.bp, CASTS[call])


def shared_tensors(g: Graph, kinds=("param", "buffer")) -> set[int]:
    """Tensors registered (non-None) in two or more (module, name) slots of reachable modules:
    ties and shared buffers."""
    seen, shared = set(), set()
    for _, _, ref in [m for kind in kinds for m in model_dtype.member_slots(g.bp, kind)]:
        (shared if ref in seen else seen).add(ref)
    return shared


# -- state_dict snapshots and loads ------------------------------------------------------------
def snapshot(g: Graph) -> tuple:
    """``copy.deepcopy(root.state_dict())``, as ``(key, (shape, dtype, values) | None)`` pairs
    (``None``: an ``_extra_state`` entry)."""
    out = []
    for key, (what, ref) in model.state_dict_entries(g.bp):
        if what == "tensor":
            spec = g.bp.tensors[ref]
            out.append((key, (spec.shape, spec.dtype, g.values[ref])))
        else:
            out.append((key, None))
    return tuple(out)


def load_keys(g: Graph, snap: tuple) -> tuple[list[str], list[str]]:
    """``(missing_keys, unexpected_keys)`` of loading ``snap``."""
    given = [k for k, _ in snap]
    return model_state.missing_keys(g.bp, given), model_state.unexpected_keys(g.bp, given)


def loadable(g: Graph, snap: tuple, assign: bool) -> bool:
    """Whether the machine makes this load: every key both hold has the same shape, and the same
    dtype (``assign``) or dtypes the values convert between exactly (both floating, or equal).
    A size mismatch raises after copying the other keys (outside the model)."""
    given = dict(snap)
    for key, _, _, _, ref in model_state.member_keys(g.bp):
        if key in given and given[key] is not None:
            shape, dtype, _ = given[key]
            spec = g.bp.tensors[ref]
            if shape != spec.shape:
                return False
            if dtype != spec.dtype and (assign or not (dtype in FLOAT_DTYPES and spec.dtype in FLOAT_DTYPES)):
                return False
    return True


def load(g: Graph, snap: tuple, assign: bool) -> tuple[Graph, dict[tuple[int, str], int]]:
    """``load_state_dict(snap, strict=False, assign=assign)`` on a loadable snapshot; with
    ``assign`` also the new tensor index of each (module, name) it replaced."""
    given = dict(snap)
    if not assign:
        values = {ref: given[key][2] for ref, key in model_state.last_copied(g.bp).items() if key in given}
        return set_specs(g, {}, values), {}
    placed: dict[tuple[int, str], int] = {}
    for (node, name), key in model_state.last_writers(g.bp).items():
        if key not in given:
            continue
        s = slot(g, node, name)
        shape, dtype, values = given[key]
        rg = g.bp.tensors[s.ref].requires_grad if s.kind == "param" else False
        spec = TensorSpec(shape, dtype, requires_grad=rg)
        t = len(g.bp.tensors)
        g = Graph(Blueprint(g.bp.nodes, g.bp.tensors + (spec,)), g.training, g.values + (values,))
        g = put(g, node, name, s.kind, t, s.persistent)
        placed[(node, name)] = t
    return g, placed


# -- what the live graph must show -------------------------------------------------------------
def view(g: Graph) -> dict:
    """Every observation the machine checks after each step, with labels for objects."""
    bp = g.bp

    def node(i):
        return label(g, i)

    def tensor_row(name, t):
        spec = bp.tensors[t]
        return name, spec.dtype, spec.requires_grad, g.values[t]

    params = model.named_members(bp, "param")
    buffers = model.named_members(bp, "buffer")
    dedup = model.named_modules(bp)
    return {
        "modules_all": [(n, node(i), g.training[i]) for n, i in model.named_modules(bp, remove_duplicate=False)],
        "modules": [(n, node(i)) for n, i in dedup],
        "children": [(n, [(c, node(k)) for c, k in model.named_children(bp, i)]) for n, i in dedup],
        "params_all": [(n, f"t{t}", True) for n, t in model.named_members(bp, "param", remove_duplicate=False)],
        "params": [(n, f"t{t}", True) for n, t in params],
        "buffers_all": [(n, f"t{t}", False) for n, t in model.named_members(bp, "buffer", remove_duplicate=False)],
        "buffers": [(n, f"t{t}", False) for n, t in buffers],
        "state_dict": model.state_dict_keys(bp),
        "tensors": [tensor_row(n, t) for n, t in params + buffers],
        "plain": [(n, s.name, f"t{s.ref}") for n, i in dedup for s in bp.nodes[i].slots
                  if s.kind == "plain" and s.ref is not None],
    }


def first_paths(g: Graph) -> tuple[dict[int, str], dict[int, str]]:
    """Each reachable node's and registered or plain tensor's first model path: where the test
    looks an object up to label it afresh (after a deepcopy, a cast, an assigning load)."""
    nodes = {i: n for n, i in reversed(model.named_modules(g.bp))}
    tensors: dict[int, str] = {}
    for kind in ("param", "buffer"):
        for n, t in model.named_members(g.bp, kind):
            tensors.setdefault(t, n)
    for n, i in model.named_modules(g.bp):
        for s in g.bp.nodes[i].slots:
            if s.kind == "plain" and s.ref is not None:
                tensors.setdefault(s.ref, model.join(n, s.name))
    return nodes, tensors
