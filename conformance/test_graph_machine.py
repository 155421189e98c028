"""A whole graph under interleaved edits: one Hypothesis state machine, and the law that a
rejected call changes nothing (issue 11).

The machine draws a generated graph, builds it through the backend, then applies a random
sequence of documented calls to the live graph (every call a step on the run's one handle) and
to a pure model of it (``conformance.model_machine``): children added (new, or an existing
module: sharing), parameters and buffers registered, replaced or deleted (new or tied, buffers
persistent or not or ``None``), ``setattr`` of every kind of value onto names of every kind,
``delattr``, ``train``/``eval``, ``requires_grad_``, ``zero_grad``, casts, ``load_state_dict``
of an earlier snapshot (strict or not, with and without ``assign``), ``copy.deepcopy`` (the run
goes on with the copy) and calls Module rejects. After every step the live graph must show what
the model shows (Note [what the machine observes]); a failure's reproducer is the build program
followed by every step that ran.

Note [what the machine observes]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
One step, ``observe(root)`` (defined once, as the run's first step), reads through the object
under test: ``named_modules`` with and without de-duplication (with each module's ``training``
flag), ``named_children`` of every module, ``named_parameters``/``named_buffers`` with and
without de-duplication (with the kind of every object), ``state_dict`` keys, every parameter's
and buffer's dtype, ``requires_grad`` and values, and every plain tensor attribute. Objects are
compared by label: the machine keeps ``id -> label`` for every object it knows (as built, looked
up through ``root``, and each object a step creates), so a path holding another object than the
model says, or a copy where the model says the object is shared, shows as a different label.
Objects that must be new (after ``deepcopy``, a cast that changes a buffer's dtype, a load with
``assign``) are labelled afresh by their first path; the other paths must then hold the same one.

Note [what the machine leaves to the focused properties]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
As the container machines do, this one stays inside what torch 2.13 gets right, so that a known
deviation does not turn the whole run into an expected failure that checks nothing: a cast is
not made while a buffer whose dtype it changes is registered under two names
(``conv.sharing.shared_buffers``); a load with ``assign`` is not made while a tensor is
registered under two names (``load.assign.keeps_sharing``); unexpected keys are compared as a
set (their order around ``_extra_state``: ``load.nonstrict_reports_and_order``); a strict load
whose keys do not match is not made (it copies the matching values before raising: the law
below, ``test_strict_load_rejected_changes_nothing``); nor a load with a size mismatch (it raises
after copying the other keys); nor a deepcopy while a buffer that required grad has been cast (the
cast made it a non-leaf tensor, and ``Tensor.__deepcopy__`` refuses those: "Only Tensors created
explicitly by the user (graph leaves) support the deepcopy protocol"), or while the edited graph
fails the wrapper's documented precondition (``Backend.admits``: DDP rebuilds its reducer on a
copy). Members are edited on module-holding nodes only: built-in layers such as LSTM keep derived
state of their own members.
"""
from __future__ import annotations

import builtins

from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test
from hypothesis.stateful import invariant as always

from conformance import model_machine as mm
from conformance.check import expect_equal, expect_raises, expect_true
from conformance.edits import VALUES
from conformance.handle import _attr
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import blueprints
from strategies.blueprint import MODULE_HOLDERS

GRAPHS = blueprints(max_nodes=4, max_slots=3)
# The machine edits members of module-holding nodes only; a few built-in layers join as members.
MACHINE_GRAPHS = blueprints(max_nodes=4, max_slots=3,
                            kinds=MODULE_HOLDERS + ("ParameterList", "ParameterDict", "Linear", "BatchNorm1d", "LSTM"))
FRESH = ("fresh", "x-y")  # unused names (registration accepts any non-dotted string)
BAD_NAMES = ("", "a.b", 5)
MAX_SNAPSHOTS = 3

OBSERVER = '''import copy

def observe(root):
    """Everything the machine checks, as plain data (names, ids, flags, values)."""
    mods = list(root.named_modules())
    params, buffers = list(root.named_parameters()), list(root.named_buffers())
    return {
        "modules_all": [(n, id(m), m.training) for n, m in root.named_modules(remove_duplicate=False)],
        "modules": [(n, id(m)) for n, m in mods],
        "children": [(n, [(c, id(k)) for c, k in m.named_children()]) for n, m in mods],
        "params_all": [(n, id(p), isinstance(p, nn.Parameter))
                       for n, p in root.named_parameters(remove_duplicate=False)],
        "params": [(n, id(p), isinstance(p, nn.Parameter)) for n, p in params],
        "buffers_all": [(n, id(b), isinstance(b, nn.Parameter)) for n, b in root.named_buffers(remove_duplicate=False)],
        "buffers": [(n, id(b), isinstance(b, nn.Parameter)) for n, b in buffers],
        "state_dict": list(root.state_dict()),
        "tensors": [(n, str(t.dtype).removeprefix("torch."), t.requires_grad, t.flatten().tolist())
                    for n, t in params + buffers],
        "plain": [(n, k, id(v)) for n, m in mods for k, v in vars(m).items() if isinstance(v, torch.Tensor)],
    }'''
NAMED = ("modules_all", "modules", "children", "params_all", "params", "buffers_all", "buffers", "tensors", "plain")
IDS = {"modules_all": 1, "modules": 1, "params_all": 1, "params": 1, "buffers_all": 1, "buffers": 1, "plain": 2}
PROBLEMS = {
    "modules_all": "named_modules(remove_duplicate=False) (name, module, training) differs from the model",
    "modules": "named_modules() differs from the model",
    "children": "named_children() of some module differs from the model",
    "params_all": "named_parameters(remove_duplicate=False) (name, object, is a Parameter) differs from the model",
    "params": "named_parameters() differs from the model",
    "buffers_all": "named_buffers(remove_duplicate=False) (name, object, is a Parameter) differs from the model",
    "buffers": "named_buffers() differs from the model",
    "state_dict": "state_dict() keys differ from the model",
    "tensors": "(name, dtype, requires_grad, values) of the parameters and buffers differ from the model",
    "plain": "plain tensor attributes (module, name, object) differ from the model",
}


def machine_settings():
    """The active profile, with runs of up to 20 steps, one minimal failure and no explain phase."""
    return settings(settings.default, stateful_step_count=20, report_multiple_bugs=False,
                    phases=[p for p in settings.default.phases if p is not Phase.explain])


# -- calls: text, and the value objects a call creates ---------------------------------------
def new_source(kind: str, k: int) -> str:
    """Source of a new object of ``kind`` (``model_machine`` value names), values ``k``."""
    return {mm.PARAMETER: f"nn.Parameter(torch.full((2,), {k}.0))", mm.TENSOR: f"torch.full((2,), {k}.0)",
            mm.BUFFER: f"nn.Buffer(torch.full((2,), {k}.0))",
            mm.BUFFER_NP: f"nn.Buffer(torch.full((2,), {k}.0), persistent=False)",
            mm.MODULE: "nn.Module()", mm.NONE: "None", mm.LIST: "[1]"}[kind]


def rejected_calls(g: mm.Graph, node: int, target: str) -> dict[str, list[tuple[str, str, dict]]]:
    """Calls on ``node`` (reached as ``target``) that the model says raise, by group:
    ``{group: [(step, exception type name, step env)]}``. Registrations with malformed names,
    names in use by another kind, values of the wrong type (onto a name of the call's own kind,
    or an unused one); assignments of the wrong type onto registered names and an nn.Buffer onto
    ``training``; ``delattr`` of an unused name; ``train`` with a non-bool; ``load_state_dict`` of
    a non-mapping. Tests draw a group first, so that each turns up in a short run."""
    out: dict[str, list] = {}
    own = [s.name for s in g.bp.nodes[node].slots]
    for method in ("register_parameter", "register_buffer", "add_module"):
        for name in [*BAD_NAMES, *FRESH, "training", "forward", *own]:
            old = mm.existing(g, node, name)
            for value in (mm.PARAMETER, mm.TENSOR, mm.MODULE, mm.NONE, mm.LIST):
                error, fits = mm.rejection(method, name, old, value), value in mm.ACCEPTED[method]
                bad_name = name in BAD_NAMES or old not in (None, mm.KIND_OF[method])
                if not error or fits == (not bad_name):  # one reason to fail, not two
                    continue
                if name in BAD_NAMES:
                    why = "malformed name"
                elif bad_name:
                    why = "name in use by another kind"
                else:
                    why = "wrong value onto " + ("an unused name" if old is None else "a name of its kind")
                out.setdefault(f"{method}: {why}", []).append(
                    (f"{target}.{method}(name, {VALUES[value].source})", error, {"name": name}))
    for name in [*FRESH, "training", *own]:  # not 'forward': setattr shadows a class attribute
        old = mm.slot(g, node, name)
        for value in (mm.PARAMETER, mm.TENSOR, mm.MODULE, mm.NONE, mm.LIST, mm.BUFFER):
            outcome = mm.setattr_outcome(mm.existing(g, node, name), old.persistent if old else True, value)
            if isinstance(outcome, str):
                out.setdefault("setattr: wrong value", []).append(
                    (f"setattr({target}, name, {VALUES[value].source})", outcome, {"name": name}))
    unused = [n for n in FRESH if mm.existing(g, node, n) is None]
    out["delattr: unused name"] = [(f"delattr({target}, name)", "AttributeError", {"name": n}) for n in unused]
    out["train: not a bool"] = [(f"{target}.train('yes')", "ValueError", {})]
    out["load_state_dict: not a mapping"] = [("root.load_state_dict([1])", "TypeError", {})]
    return {group: calls for group, calls in out.items() if calls}


def draw_rejected(data, g: mm.Graph, targets: dict[int, str]) -> tuple[str, str, dict]:
    """A rejected call on one of ``targets`` (node -> source reaching it): the group first, over
    every node, then a node offering that group, then the call."""
    calls = {i: rejected_calls(g, i, target) for i, target in targets.items()}
    groups = sorted({group for by_group in calls.values() for group in by_group})
    group = data.draw(st.sampled_from(groups), label="kind of rejected call")
    node = data.draw(st.sampled_from([i for i in targets if group in calls[i]]), label="node")
    return data.draw(st.sampled_from(calls[node][group]), label="call")


class GraphMachine(RuleBasedStateMachine):
    """The live graph (``self.h``) and its model (``self.g``), with the labels of Note [what the
    machine observes]."""

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    # -- plumbing --------------------------------------------------------------------------
    @initialize(data=st.data())
    def start(self, data):
        self.h = draw_graph(data, self.backend, MACHINE_GRAPHS)
        self.g = mm.start(self.h.blueprint)
        self.ids: dict[int, str] = {}
        self.alive: list = []  # every object ever labelled: their ids stay theirs
        self.snaps: list[tuple] = []
        self.nonleaf: set[int] = set()  # buffers that required grad when a cast changed them
        self.names = set(FRESH) | {s.name for n in self.g.bp.nodes for s in n.slots}
        self.h.run(OBSERVER)
        self.relabel()

    def keep(self, obj, lab: str):
        self.alive.append(obj)
        self.ids[id(obj)] = lab

    def lookup(self, path: str):
        """The object at model path ``path`` (a module, or a member ``owner.name``), through root
        (``Handle.module`` reads one attribute per name)."""
        return self.h.module(path)

    def relabel(self, nodes=None, tensors=None):
        """Label afresh, by their first model path, the given nodes and tensors (None: all)."""
        node_paths, tensor_paths = mm.first_paths(self.g)
        for i, path in node_paths.items():
            if nodes is None or i in nodes:
                self.keep(self.h.module(path), mm.label(self.g, i))
        for t, path in tensor_paths.items():
            if tensors is None or t in tensors:
                owner, _, name = path.rpartition(".")
                obj = getattr(self.h.module(owner), name, None)
                if obj is not None:
                    self.keep(obj, f"t{t}")

    def lab(self, ident: int) -> str:
        return self.ids.get(ident, "<unlabelled>")

    def editable(self) -> list[int]:
        return [i for i in self.g.bp.reachable() if self.g.bp.nodes[i].kind in MODULE_HOLDERS]

    def draw_node(self, data, nodes=None) -> int:
        return data.draw(st.sampled_from(self.g.bp.reachable() if nodes is None else nodes), label="node")

    def target(self, node: int) -> str:
        return self.h.node_ref(mm.first_paths(self.g)[0][node])

    def tensor_ref(self, t: int) -> str:
        path = mm.first_paths(self.g)[1][t]
        owner, _, name = path.rpartition(".")
        return _attr(self.h.node_ref(owner), name)

    def draw_target(self, data, nodes: list[int], names=None) -> tuple[int, str]:
        """A node of ``nodes`` and a name (``names(node)``, default :meth:`draw_name`'s). Half of
        the time the (node, name) the last member call used, when it qualifies: calls on one name
        interact (delete then re-add, re-register with another persistence), and a short run
        would seldom draw them together otherwise."""
        last = getattr(self, "last", None)
        if last and last[0] in nodes and (names is None or last[1] in names(last[0])):
            if data.draw(st.booleans(), label="the last call's node and name again"):
                return last
        node = self.draw_node(data, nodes)
        if names is None:
            name = self.draw_name(data, node)
        else:
            name = data.draw(st.sampled_from(names(node)), label="name")
        self.last = (node, name)
        return node, name

    def draw_name(self, data, node: int) -> str:
        """A name of the node, or one it does not use: fresh, used elsewhere, or deleted."""
        self.names.update(s.name for s in self.g.bp.nodes[node].slots)
        return data.draw(st.sampled_from(sorted(self.names)), label="name")

    def rejected(self, step: str, error: str, **env):
        """A call the model says raises ``error``: it must, and the model stays as it is."""
        expect_raises(self.h, step, getattr(builtins, error), **env)

    # -- the one rule: an operation drawn per step -------------------------------------------
    # One rule rather than one per operation: Hypothesis's swarm testing switches whole rules off
    # per example, and a short (ci) run then seldom draws two related operations in one sequence.
    OPS = ("register", "register", "assign", "assign", "delete", "readd", "readd", "repersist", "repersist", "reject",
           "train", "train", "grads", "cast", "snapshot", "load", "load", "deepcopy")

    def enabled(self) -> list[str]:
        needs = {
            "register": bool(self.editable()), "assign": bool(self.editable()), "reject": bool(self.editable()),
            "delete": any(self.g.bp.nodes[i].slots for i in self.editable()),
            "readd": any(self.g.bp.nodes[i].slots for i in self.editable()),
            "repersist": any(s.kind == "buffer" for i in self.editable() for s in self.g.bp.nodes[i].slots),
            "snapshot": len(self.snaps) < MAX_SNAPSHOTS,
            "load": bool(self.snaps) and "load" not in self.backend.lacks,
            # deepcopy re-runs a wrapper's construction (DDP.__setstate__ rebuilds its reducer): only
            # while the edited graph meets the wrapper's documented precondition (Backend.admits).
            "deepcopy": "deepcopy" not in self.backend.lacks and not self.nonleaf & set(mm.model.tensor_roles(self.g.bp))
                        and self.backend.admits(self.g.bp),
        }
        return [op for op in self.OPS if needs.get(op, True)]

    @precondition(lambda self: hasattr(self, "h"))
    @rule(data=st.data())
    def step(self, data):
        op = data.draw(st.sampled_from(self.enabled()), label="operation")
        getattr(self, op)(data)

    # -- the invariant -----------------------------------------------------------------------
    @always()
    def agrees(self):
        if not hasattr(self, "h"):
            return
        h, expected = self.h, mm.view(self.g)
        got = h.run("observe(root)")
        for key in PROBLEMS:
            rows = got[key]
            if key == "state_dict":
                actual = h.unmapped(rows)
            else:
                actual = []
                for row in rows:
                    name = h.names.model(row[0])
                    if name is None:
                        continue
                    row = list(row)
                    row[0] = name
                    if key in IDS:
                        row[IDS[key]] = self.lab(row[IDS[key]])
                    if key == "children":
                        row[1] = [(c, self.lab(k)) for c, k in row[1]]
                    if key == "tensors":
                        row[3] = tuple(row[3])
                    actual.append(tuple(row))
            expect_equal(actual, expected[key], h, problem=PROBLEMS[key])

    # -- members -----------------------------------------------------------------------------
    def new_object(self, value: str, k: int) -> tuple[mm.Graph, int | None, str]:
        """The model with the object a call creates, its index, and its source."""
        if value == mm.MODULE:
            g, i = mm.new_node(self.g)
            return g, i, new_source(value, k)
        if value in (mm.PARAMETER, mm.TENSOR, mm.BUFFER, mm.BUFFER_NP):
            g, t = mm.new_tensor(self.g, requires_grad=value == mm.PARAMETER)
            return g, t, new_source(value, k)
        return self.g, None, new_source(value, k)

    def draw_value(self, data, node: int, kinds: tuple[str, ...]) -> tuple[mm.Graph, str, object, str]:
        """A value for a call: new (of ``kinds``), an existing module (not an ancestor: no cycle),
        an existing parameter (a tie) or buffer (shared), or None. Returns (model with the new
        object, value name, model ref, source)."""
        choices = [("new", k) for k in kinds if k not in (mm.NONE, "shared buffer")]
        choices += [("None", mm.NONE)] if mm.NONE in kinds else []
        if mm.MODULE in kinds:
            choices += [("node", i) for i in self.g.bp.reachable() if i not in mm.ancestors(self.g, node)]
        if mm.PARAMETER in kinds:
            choices += [("param", t) for t in mm.parameters(self.g)]
        if "shared buffer" in kinds:
            choices += [("buffer", t) for _, t in mm.model.named_members(self.g.bp, "buffer")]
        how, what = data.draw(st.sampled_from(choices), label="value")
        if how == "new":
            g, ref, source = self.new_object(what, mm.new_value(self.g))
            return g, what, ref, source
        if how == "None":
            return self.g, mm.NONE, None, "None"
        if how == "node":
            return self.g, mm.MODULE, what, self.target(what)
        return self.g, mm.PARAMETER if how == "param" else mm.TENSOR, what, self.tensor_ref(what)

    def apply(self, g: mm.Graph, node: int, name: str, kind: str | None, ref, persistent: bool, value: str):
        """Take the model after a successful member call; label the object it created (the
        model ``g`` holds one more node or tensor than ``self.g`` then)."""
        created = len(g.bp.nodes) > len(self.g.bp.nodes) or len(g.bp.tensors) > len(self.g.bp.tensors)
        if node == self.g.bp.root:
            node = g.bp.root  # a new module goes before the root: the root's index moves up
        if getattr(self, "last", None) and self.last[0] == self.g.bp.root:
            self.last = (g.bp.root, self.last[1])
        self.g = mm.put(g, node, name, kind, ref, persistent)
        if created and ref is not None:
            obj = self.h.namespace["value"]
            if value in (mm.BUFFER, mm.BUFFER_NP):  # nn.Buffer stores a plain tensor: label what is held
                obj = self.lookup(mm.model.join(mm.first_paths(self.g)[0][node], name))
            self.keep(obj, mm.label(self.g, ref) if kind == "child" else f"t{ref}")

    def register(self, data, node=None, name=None, method=None):
        if method is None:
            method = data.draw(st.sampled_from(["register_parameter", "register_buffer", "add_module"]), label="method")
        if node is None:
            node, name = self.draw_target(data, self.editable())
        kinds = {"register_parameter": (mm.PARAMETER, mm.NONE, mm.TENSOR),
                 "register_buffer": (mm.TENSOR, "shared buffer", mm.NONE, mm.MODULE),
                 "add_module": (mm.MODULE, mm.NONE, mm.TENSOR)}[method]
        g, value, ref, source = self.draw_value(data, node, kinds)
        persistent = data.draw(st.booleans(), label="persistent") if method == "register_buffer" else True
        flag = f", persistent={persistent}" if method == "register_buffer" else ""
        step = f"value = {source}\n{self.target(node)}.{method}(name, value{flag})"
        error = mm.rejection(method, name, mm.existing(self.g, node, name), value)
        if error:
            return self.rejected(step, error, name=name)
        self.h.run(step, name=name)
        self.apply(g, node, name, mm.KIND_OF[method], ref, persistent, value)

    def assign(self, data, node=None, name=None):
        if node is None:
            node, name = self.draw_target(data, self.editable())
        g, value, ref, source = self.draw_value(
            data, node, (mm.PARAMETER, mm.MODULE, mm.TENSOR, mm.BUFFER, mm.BUFFER_NP, mm.NONE))
        old = mm.slot(self.g, node, name)
        outcome = mm.setattr_outcome(old.kind if old else None, old.persistent if old else True, value)
        step = f"value = {source}\nsetattr({self.target(node)}, name, value)"
        if isinstance(outcome, str):
            return self.rejected(step, outcome, name=name)
        kind, persistent = outcome
        self.h.run(step, name=name)
        self.apply(g, node, name, kind, ref, persistent, value)

    def delete(self, data):
        node, name = self.draw_target(data, [i for i in self.editable() if self.g.bp.nodes[i].slots],
                                      lambda i: [s.name for s in self.g.bp.nodes[i].slots])
        self.h.run(f"delattr({self.target(node)}, name)", name=name)
        self.g = mm.put(self.g, node, name, None)

    def readd(self, data):
        """``delattr`` then registering the same name again, by a drawn call (of the name's old
        kind, half of the time): the name goes last."""
        slots = [(i, s) for i in self.editable() for s in self.g.bp.nodes[i].slots]
        kind = data.draw(st.sampled_from(sorted({s.kind for _, s in slots})), label="kind of the name")
        node, name = self.draw_target(data, sorted({i for i, s in slots if s.kind == kind}),
                                      lambda i: [s.name for s in self.g.bp.nodes[i].slots if s.kind == kind])
        old = mm.slot(self.g, node, name)
        self.h.run(f"delattr({self.target(node)}, name)", name=name)
        self.g = mm.put(self.g, node, name, None)
        same = {"child": "add_module", "param": "register_parameter", "buffer": "register_buffer"}.get(old.kind)
        if same and data.draw(st.booleans(), label="re-register with the old kind"):
            return self.register(data, node=node, name=name, method=same)
        if data.draw(st.booleans(), label="re-register by a register call"):
            return self.register(data, node=node, name=name)
        return self.assign(data, node=node, name=name)

    def repersist(self, data):
        """``register_buffer``/``nn.Buffer`` over a buffer name with another persistence, once or
        twice (switching it back): the slot keeps its place and takes the new persistence."""
        buffers = [(i, s.name) for i in self.editable() for s in self.g.bp.nodes[i].slots if s.kind == "buffer"]
        node, name = data.draw(st.sampled_from(buffers), label="node and buffer name")
        for _ in range(data.draw(st.sampled_from((2, 1)), label="switches")):
            old = mm.slot(self.g, node, name)
            persistent = not old.persistent
            if data.draw(st.booleans(), label="by register_buffer"):
                g, value, ref, source = self.draw_value(data, node, (mm.TENSOR, "shared buffer", mm.NONE))
                step = f"value = {source}\n{self.target(node)}.register_buffer(name, value, persistent={persistent})"
            else:
                value = mm.BUFFER if persistent else mm.BUFFER_NP
                g, ref, source = self.new_object(value, mm.new_value(self.g))
                step = f"value = {source}\nsetattr({self.target(node)}, name, value)"
            self.h.run(step, name=name)
            self.apply(g, node, name, "buffer", ref, persistent, value)

    def reject(self, data):
        step, error, env = draw_rejected(data, self.g, {i: self.target(i) for i in self.editable()})
        self.rejected(step, error, **env)

    # -- modes, gradients, casts ---------------------------------------------------------------
    def train(self, data):
        mode = data.draw(st.booleans(), label="mode")
        last = getattr(self, "last", None)
        if last and last[0] in self.g.bp.reachable() and data.draw(st.booleans(), label="the last call's node"):
            node = last[0]  # then members added to it meet a module in the mode just set
        else:  # a module-holding node first: the nodes members are added to
            node = self.draw_node(data, self.editable() + [i for i in self.g.bp.reachable() if i not in self.editable()])
        call = data.draw(st.sampled_from(["train(mode)", "eval()"] if not mode else ["train(mode)", "train()"]),
                         label="call")
        same = self.h.run(f"{self.target(node)}.{call} is {self.target(node)}", mode=mode)
        expect_true(same, self.h, actual=same, expected=True, problem=f"{call} should return the module itself")
        self.g = mm.train(self.g, node, mode)

    def grads(self, data):
        if data.draw(st.booleans(), label="zero_grad"):
            graded = self.h.run("root.zero_grad()\n[n for n, p in root.named_parameters() if p.grad is not None]")
            return expect_equal(graded, [], self.h, problem="zero_grad() should leave every .grad None")
        mode = data.draw(st.booleans(), label="requires_grad")
        if mode and any(not self.g.bp.tensors[t].floating for t in mm.parameters(self.g)):
            return  # an integer parameter cannot require grad: Tensor.requires_grad_ raises
        self.h.run("root.requires_grad_(mode)", mode=mode)
        self.g = mm.requires_grad_(self.g, mode)

    def cast(self, data):
        call = data.draw(st.sampled_from(sorted(mm.CASTS)), label="call")
        changed = mm.cast_changes(self.g, call)
        if changed & mm.shared_tensors(self.g, ("buffer",)):
            return  # conv.sharing.shared_buffers (known deviation): see Note [what the machine leaves ...]
        buffers = {t for _, t in mm.model.named_members(self.g.bp, "buffer")}
        same = self.h.run(f"root.{call} is root")
        expect_true(same, self.h, actual=same, expected=True, problem=f"{call} should return the module itself")
        self.nonleaf |= {t for t in changed & buffers if self.g.bp.tensors[t].requires_grad}
        self.g = mm.cast(self.g, call)
        self.relabel(nodes=set(), tensors=changed & buffers)

    # -- state_dict snapshots, loads, deepcopy -------------------------------------------------
    def snapshot(self, data):
        self.h.run(f"snap{len(self.snaps)} = copy.deepcopy(root.state_dict())")
        self.snaps.append(mm.snapshot(self.g))

    def load(self, data):
        strict, assign = data.draw(st.booleans(), label="strict"), data.draw(st.booleans(), label="assign")
        k = data.draw(st.integers(0, len(self.snaps) - 1), label="snapshot")
        snap = self.snaps[k]
        missing, unexpected = mm.load_keys(self.g, snap)
        # Note [what the machine leaves to the focused properties]: a strict load only when the keys
        # match (law.rejected_call_changes_nothing), assign only without shared tensors
        # (load.assign.keeps_sharing), no load with a size mismatch or an inexact conversion.
        strict = strict and not (missing or unexpected)
        assign = assign and not mm.shared_tensors(self.g) and mm.loadable(self.g, snap, True)
        if not mm.loadable(self.g, snap, assign):
            return
        result = self.h.run(f"root.load_state_dict(copy.deepcopy(snap{k}), strict=strict, assign=assign)",
                            strict=strict, assign=assign)
        expect_equal((self.h.unmapped(result.missing_keys), sorted(self.h.unmapped(result.unexpected_keys))),
                     (missing, sorted(unexpected)), self.h,
                     problem="load_state_dict (missing_keys, sorted unexpected_keys) differ from the model")
        self.g, placed = mm.load(self.g, snap, assign)
        self.relabel(nodes=set(), tensors=set(placed.values()))

    def deepcopy(self, data):
        self.h.run("original = root\nroot = copy.deepcopy(root)")
        old = set(self.ids)
        self.ids = {}
        self.relabel()
        reused = sorted(lab for ident, lab in self.ids.items() if ident in old)
        expect_equal(reused, [], self.h, problem="the deep copy holds objects of the original")


@invariant("machine.graph_sequence")
@needs("register")
def test_graph_operation_sequences(backend):
    run_state_machine_as_test(lambda: GraphMachine(backend), settings=machine_settings())


# -- the law, as properties ------------------------------------------------------------------
EVERYTHING = '''import copy

def everything(root):
    """The whole graph as plain data: members by identity, order, flags, values, hooks."""
    def tensor(t):
        return None if t is None else (id(t), type(t).__name__, str(t.dtype), t.requires_grad, t.flatten().tolist())
    out = []
    for n, m in root.named_modules(remove_duplicate=False):
        out.append((n, id(m), m.training, list(vars(m)),
                    [(k, tensor(p)) for k, p in m._parameters.items()],
                    [(k, tensor(b)) for k, b in m._buffers.items()], sorted(m._non_persistent_buffers_set),
                    [(k, id(c)) for k, c in m._modules.items()],
                    [(k, tensor(v)) for k, v in vars(m).items() if isinstance(v, torch.Tensor)],
                    [len(getattr(m, d)) for d in ("_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks",
                                                  "_load_state_dict_pre_hooks", "_backward_hooks")]))
    return out, list(root.state_dict())'''


def _hooked(data, backend):
    """A drawn graph, with a forward hook, a forward pre-hook and a state_dict hook on a node."""
    h = draw_graph(data, backend, GRAPHS)
    node = data.draw(st.sampled_from(h.blueprint.reachable()), label="hooked node")
    target = h.node_ref(node)
    h.run(EVERYTHING)
    if "hooks" not in backend.lacks:
        h.run(f"{target}.register_forward_hook(lambda m, a, o: None)\n"
              f"{target}.register_forward_pre_hook(lambda m, a: None)\n"
              f"{target}.register_state_dict_post_hook(lambda m, sd, prefix, local: None)")
    return h


@invariant("law.rejected_call_changes_nothing")
@needs("register")
@given(data=st.data())
def test_rejected_call_changes_nothing(data, backend):
    h = _hooked(data, backend)
    g = mm.start(h.blueprint)
    nodes = [i for i in h.blueprint.reachable() if h.blueprint.nodes[i].kind in MODULE_HOLDERS]
    assume(nodes)
    before = h.run("everything(root)")
    for _ in range(data.draw(st.integers(1, 4), label="rejected calls")):  # each leaves the graph as it was
        step, error, env = draw_rejected(data, g, {i: h.node_ref(i) for i in nodes})
        expect_raises(h, step, getattr(builtins, error), **env)
        expect_equal(h.run("everything(root)"), before, h, problem="a rejected call changed the graph")


@invariant("law.rejected_call_changes_nothing")
@needs("load")
@given(data=st.data())
def test_strict_load_rejected_changes_nothing(data, backend):
    """A strict load whose keys do not match (one key left out, or one added) raises, and must
    leave every value as it was."""
    h = _hooked(data, backend)
    how = data.draw(st.sampled_from(["unexpected key", "missing key"]), label="keys")
    h.run("sd = {k: torch.ones_like(v) if isinstance(v, torch.Tensor) else v for k, v in root.state_dict().items()}")
    if how == "unexpected key":
        h.run("sd['zzz'] = torch.ones(1)")
    else:
        h.run("sd.pop(next(iter(sd)), None) if len(sd) > 1 else sd.update(zzz=torch.ones(1))")
    before = h.run("everything(root)")
    expect_raises(h, "root.load_state_dict(sd)", RuntimeError)
    expect_equal(h.run("everything(root)"), before, h, problem="a rejected strict load changed the graph")
