"""The live handle: the object under test, observed only through itself, and the steps run on it.

Note [one source per call]
~~~~~~~~~~~~~~~~~~~~~~~~~~
A test never writes a call twice (once as code, once as text for the message). It hands the
handle the *text* of the step, and the handle executes that text in the reproducer's namespace
and keeps it in a transcript::

    keys = h.run("list(root.state_dict())")
    h.run("root.float()")
    err = h.attempt("root.add_module('a.b', nn.Module())")   # the exception raised, or None

The last line of a step, when it is an expression, is its value; in the transcript it appears as
``print(<expression>)``. Keyword arguments bind names for the step (``h.run("root.state_dict()[k]",
k=key)``) and appear in the transcript as ``k = 'a.b'``: pass only values whose ``repr`` is source
(str, int, float, bool, None, tuples and lists of those); build anything else inside the step.
The reproducer printed on failure is ``h.reproducer()``: the backend's prelude, the blueprint's
program, the backend's wrap step and the transcript. It is exactly what ran.

Note [observing through the handle]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``root`` is the object under test: for a wrapper backend, the wrapper. ``h.node(i)`` and
``h.tensor(i)`` look blueprint objects up *through root*, by the first qualified name the
reference model gives them, mapped through the backend's declared name map. They never return
an object the build happened to create, so a wrapper that copies modules is observed in its
copies. Labels (``n3``, ``t5``) come from the same lookups: an object is labelled by the path at
which the object under test holds it, and an object found nowhere is ``<unlabelled ...>``.
Labels are recomputed after every step, so they always describe the live graph.
"""
from __future__ import annotations

import ast
import functools
import keyword
from dataclasses import dataclass, field

from conformance import apicalls
from strategies.blueprint import Blueprint

# None, or a list every new Handle is appended to (the bench plugin's record of what a test ran).
CREATED: list | None = None


@dataclass(frozen=True)
class NameMap:
    """A wrapper's declared renaming of qualified names: every name of the wrapped module appears
    as ``prefix + name`` (``torch.compile``: ``_orig_mod.``; DDP: ``module.``). Names outside the
    prefix (the wrapper itself at ``''``) are the wrapper's own and have no model counterpart."""

    prefix: str = ""

    def live(self, name: str) -> str:
        """The live name of model name ``name`` (``''`` is the wrapped root)."""
        if not self.prefix:
            return name
        return self.prefix + name if name else self.prefix.rstrip(".")

    def model(self, name: str) -> str | None:
        """The model name of live name ``name``, or None for the wrapper's own names."""
        if not self.prefix:
            return name
        if name == self.prefix.rstrip("."):
            return ""
        return name[len(self.prefix):] if name.startswith(self.prefix) else None


IDENTITY = NameMap()


def _attr(expr: str, name: str) -> str:
    """``expr.name``, or ``getattr(expr, 'name')`` for a name that is not an identifier."""
    return f"{expr}.{name}" if name.isidentifier() and not keyword.iskeyword(name) else f"getattr({expr}, {name!r})"


@functools.lru_cache(maxsize=4096)
def _compiled(code: str):
    """(statements, expression or None, transcript text) of one step, compiled once per text."""
    tree = ast.parse(code, mode="exec")
    expr = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
        expr = compile(ast.Expression(last.value), "<nnconform step>", "eval")
        shown = code.rstrip().splitlines()
        start = last.lineno - 1
        text = "\n".join(shown[:start] + [f"print({ast.unparse(last.value)})"])
    else:
        text = code.rstrip()
    return compile(tree, "<nnconform step>", "exec"), expr, text


@dataclass(eq=False)
class Handle:
    """A blueprint built by a backend: the object under test and the program that made it."""

    blueprint: Blueprint
    backend: object  # conformance.backends.Backend
    program: str  # prelude + build + wrap: the reproducer's first part
    namespace: dict = field(repr=False)
    device: str | None = None
    names: NameMap = IDENTITY
    steps: list[str] = field(default_factory=list)
    _labels: dict | None = field(default=None, repr=False)
    _labels_at: int = -1

    def __post_init__(self):
        if CREATED is not None:  # tools/benchplugin.py replays what each test ran
            CREATED.append(self)

    # -- the object under test ---------------------------------------------------------------
    @property
    def root(self):
        return self.namespace["root"]

    @property
    def cls(self) -> str:
        """The class under test: the type of the root (for messages)."""
        return type(self.root).__name__

    def class_of(self, i: int) -> str:
        """The class name that messages about node ``i`` name (``type(n).__name__``). On a
        backend without a wrap step it is the model's (the node's kind, rule ``class_name``);
        a wrapper may substitute classes of its own (ScriptModule, GraphModule), so there the
        law is only that a message names the class of the object it is about."""
        from conformance import model_state
        if not self.backend.wrap:
            return model_state.class_name(self.blueprint, i)
        try:
            return type(self.node(i)).__name__
        except AttributeError:  # the wrapper dropped the node: other checks report that
            return model_state.class_name(self.blueprint, i)

    @functools.cached_property
    def paths(self) -> dict[int, str]:
        """Node index -> its first model path (pre-order, de-duplicated), reachable nodes only."""
        from conformance import model

        return {i: name for name, i in reversed(model.named_modules(self.blueprint))}

    @functools.cached_property
    def tensor_paths(self) -> dict[int, tuple[str, str]]:
        """Tensor index -> (kind, first model name) over parameters, buffers, plain attributes."""
        from conformance import model

        found: dict[int, tuple[str, str]] = {}
        for kind in ("param", "buffer"):
            for name, ref in model.named_members(self.blueprint, kind):
                found.setdefault(ref, (kind, name))
        for node, name, ref in model.plain_attributes(self.blueprint):
            found.setdefault(ref, ("plain", model.join(self.paths[node], name)))
        return found

    def node(self, i: int):
        """Node ``i`` as the object under test holds it (``root.get_submodule``)."""
        return self.module(self.paths[i])

    def module(self, path: str):
        """The module at model path ``path``, looked up through the object under test by
        attribute, one name at a time (what ``get_submodule`` documents; ScriptModules do not
        implement ``get_submodule``, and that API is checked by its own tests)."""
        obj = self.root
        for part in filter(None, self.names.live(path).split(".")):
            obj = getattr(obj, part)
        return obj

    def tensor(self, i: int):
        """Tensor ``i`` as the object under test holds it (at its first path), or None when no
        path reaches it."""
        if i not in self.tensor_paths:
            return None
        kind, name = self.tensor_paths[i]
        owner, _, attr = name.rpartition(".")
        return getattr(self.module(owner), attr, None)

    def ref(self, i: int) -> str:
        """Source text that reaches tensor ``i`` through ``root`` (for steps)."""
        kind, name = self.tensor_paths[i]
        owner, _, attr = name.rpartition(".")
        return _attr(self.node_ref(owner), attr)

    def node_ref(self, path_or_index) -> str:
        """Source text that reaches a module (a model path, or a node index) through ``root``."""
        path = self.paths[path_or_index] if isinstance(path_or_index, int) else path_or_index
        text = "root"
        for part in filter(None, self.names.live(path).split(".")):
            text = _attr(text, part)
        return text

    # -- labels --------------------------------------------------------------------------------
    def labels(self) -> dict[int, str]:
        if self._labels is None or self._labels_at != len(self.steps):
            found: dict[int, str] = {}
            for i in self.paths:
                try:
                    found.setdefault(id(self.node(i)), f"n{i}")
                except (AttributeError, RuntimeError):  # not held there (jit raises RuntimeError)
                    pass
            for t in self.tensor_paths:
                try:
                    obj = self.tensor(t)
                except (AttributeError, RuntimeError):
                    obj = None
                if obj is not None:
                    found.setdefault(id(obj), f"t{t}")
            self._labels, self._labels_at = found, len(self.steps)
        return self._labels

    def label(self, obj) -> str:
        """``n3``/``t5`` for an object the graph holds at that blueprint object's first path."""
        if obj is None:
            return "None"
        return self.labels().get(id(obj), f"<unlabelled {type(obj).__name__}>")

    def labelled(self, pairs) -> list[tuple[str, str]]:
        """``[(model name, label)]`` of a live ``named_*()`` iteration, through the name map
        (names that are the wrapper's own are dropped)."""
        out = []
        for name, obj in pairs:
            mapped = self.names.model(name)
            if mapped is not None:
                out.append((mapped, self.label(obj)))
        return out

    def wrapper_modules(self) -> set[int]:
        """ids of the modules the wrapper holds as its own (names outside its name map, like the
        wrapper itself at ``''``): they have no model counterpart. Empty without a name map."""
        if not self.names.prefix:
            return set()
        return {id(m) for name, m in self.root.named_modules(remove_duplicate=False) if self.names.model(name) is None}

    def unmapped(self, names) -> list[str]:
        """Live names (``state_dict`` keys, ...) in model names; the wrapper's own dropped."""
        return [m for m in map(self.names.model, names) if m is not None]

    @staticmethod
    def expected(pairs, prefix: str = "n") -> list[tuple[str, str]]:
        """``[(name, label)]`` of a model result ``[(name, index)]``."""
        return [(name, f"{prefix}{i}") for name, i in pairs]

    # -- steps -----------------------------------------------------------------------------------
    def _compile(self, code: str):
        """A step's code objects: shared between handles (steps repeat in every example), except
        under a backend that compiles Python code objects (``fresh_code``): torch.compile caches
        per code object, so a function defined in a shared step would stay bound to the first
        handle's namespace."""
        return _compiled.__wrapped__(code) if getattr(self.backend, "fresh_code", False) else _compiled(code)

    def _translated(self, code: str) -> str:
        """The step as it runs on this backend (Note [framework profiles]): a framework's profile
        translates torch step text; a step it cannot map skips the test, naming the API."""
        if getattr(self.backend, "profile", None) is None:  # torch backends run torch text as it is
            return code
        from conformance.frameworks import NoCounterpart

        try:
            return self.backend.translate(code)
        except NoCounterpart as exc:
            import pytest

            pytest.skip(str(exc))

    def run(self, code: str, **env):
        """Execute one step (see Note [one source per call]); return its last expression's value."""
        stmts, expr, text = self._compile(self._translated(code))
        bound = _bound(env)
        self.steps.append(bound[0] + text)
        apicalls.record(bound[1] + text)  # Note [recording API calls]
        self.namespace.update(env)
        exec(stmts, self.namespace)
        return eval(expr, self.namespace) if expr is not None else None

    def attempt(self, code: str, **env) -> BaseException | None:
        """Run a step that may raise; return the exception (None when it succeeds). The
        transcript shows it inside ``try``/``except`` printing the error."""
        stmts, expr, text = self._compile(self._translated(code))
        body = "".join(f"    {line}\n" for line in text.splitlines())
        bound = _bound(env)
        self.steps.append(bound[0] + f"try:\n{body}except Exception as e:\n    print(repr(e))")
        apicalls.record(bound[1] + f"try:\n{body}except Exception as e:\n    print(repr(e))")  # Note [recording API calls]
        self.namespace.update(env)
        try:
            exec(stmts, self.namespace)
            if expr is not None:
                eval(expr, self.namespace)
        except Exception as exc:  # noqa: BLE001 - the caller judges the exception
            return exc
        return None

    @property
    def call(self) -> str:
        """The steps run so far, as one block (the ``call`` of a failure)."""
        return "\n".join(self.steps) if self.steps else "(no call: the build itself)"

    def reproducer(self) -> str:
        return self.program + "".join(f"{s}\n" for s in self.steps)


def _bound(env: dict) -> tuple[str, str]:
    """The assignments that show a step's inputs, and the same for the API recorder, which reads
    only short values (a long list of names is no argument a ``to`` overload depends on, and
    parsing it per step cost more than the calls under test on big graphs)."""
    shown = [(k, repr(v)) for k, v in env.items()]
    text = "".join(f"{k} = {r}\n" for k, r in shown)
    if all(len(r) <= 200 for _, r in shown):
        return text, text
    return text, "".join(f"{k} = {r if len(r) <= 200 else '[]'}\n" for k, r in shown)


def script(source: str, *, backend=None) -> Handle:
    """A handle over a hand-written program (fixed examples, container tests): ``source`` runs
    in the builder's runtime namespace and should bind ``root``; steps then run as usual.

    With ``backend``, the hand-written root goes through it as a blueprint's root does
    (``Backend.build``): its prelude and wrap step run on ``root`` after ``source``, the program
    shows them (prelude first, wrap after ``source``) and names map through ``backend.names``.
    There is no blueprint for ``Backend.admits`` to judge, so a wrap step that raises (a traced
    wrapper given a root without a traceable ``forward``, DDP given one without a parameter that
    requires a gradient) is the wrapper's precondition failing: the test skips, naming the
    backend and the exception. Only the wrap step is treated so; ``source`` and the steps under
    test raise as usual. (A backend that overrides ``build`` without a wrap step is not
    replayed: only its prelude and wrap are.)"""
    import hashlib
    import linecache

    import torch

    from conformance import build as builder

    namespace = dict(vars(builder._runtime()))
    # The source in linecache under a file name of its own, so that a wrapper reading the source
    # of a class it defines (torch.jit.script) finds it, as for a generated forward.
    filename = f"<nnconform script {hashlib.sha1(source.encode()).hexdigest()[:10]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    with torch.random.fork_rng(devices=[]):  # layer initialisation draws from the global RNG
        exec(compile(source, filename, "exec"), namespace)
    program = builder.IMPORTS + source.rstrip() + "\n"
    if backend is None:
        return Handle(None, backend, program, namespace)
    import pytest

    if getattr(backend, "profile", None) is not None:
        pytest.skip(f"a hand-written torch program; backend {backend.name} is a framework that is not torch "
                    "and renders blueprints only (Note [framework profiles])")

    reason = backend.refuses(None)
    if reason:
        pytest.skip(f"backend {backend.name} refuses a module built on cpu: {reason}")
    try:
        backend.wrap_root(namespace)
    except Exception as exc:  # noqa: BLE001 - the wrapper's precondition; reported as the skip's reason
        first = (str(exc).strip().splitlines() or [""])[0]
        pytest.skip(f"backend {backend.name} cannot wrap this hand-written root: {type(exc).__name__}: {first}")
    return Handle(None, backend, backend.program(program), namespace, names=backend.names)
