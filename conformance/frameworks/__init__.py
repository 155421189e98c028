"""Frameworks that are not torch on the backend seam: a profile per framework.

Note [framework profiles]
~~~~~~~~~~~~~~~~~~~~~~~~~
A framework adapter (``paddle``, ``mlx``) is a :class:`Framework` backend: it renders a blueprint
as the framework's own program (the reproducer is Paddle or MLX code, not torch code) and runs it;
``root`` is then the framework's module object. Tests still write each call once, as torch step
text (Note [one source per call]); the framework's :class:`Profile` translates every step before
it runs, so the transcript and the reproducer show the framework's code, which is what ran:

- a call of a ``torch.nn.Module`` method on the object under test (a receiver reached from
  ``root`` or a node label ``n<i>``) becomes the framework's counterpart (``methods``);
- a torch name (``torch.float64``, ``nn.Module``) becomes the framework's (``names``);
- anything the profile does not map has no counterpart: the test skips, naming the torch API and
  the profile's reason, and the report counts the skip under ``no counterpart``.

Comparisons then run on what the translated step returned: labels are looked up through
``root`` as on every backend (``Handle.node``/``tensor``), so they need no framework code.

What differs by design (what counts as a buffer, whether sharing is de-duplicated, child order,
...) is listed in the framework's deviations file as ``design`` lines, each with the framework's
doc sentence and an evidence script in the framework's code (``conformance/deviations.py``, Note
[known deviations]); the report counts them apart from deviations. A test that reads torch
objects directly rather than through a step (``t.dtype is torch.float32``) is marked
``@needs("torch-objects")`` and skips on a framework with that reason.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from conformance.apicalls import _dotted
from conformance.backends import Backend


class NoCounterpart(Exception):
    """A step uses a torch API that the framework's profile does not map (the test skips)."""

    def __init__(self, framework: str, api: str, reason: str):
        super().__init__(f"no counterpart in {framework} for {api}: {reason}")
        self.framework, self.api, self.reason = framework, api, reason


# A method counterpart: receiver source, positional argument sources, keyword argument sources
# (name -> source) -> the framework's expression. Raise NoCounterpart (``Profile.lack``) for an
# argument it cannot take.
Render = Callable[[str, list, dict], str]


def method(name: str, *, kwargs: Mapping[str, str | None] = (), fixed: str = "", positional: int = 99,
           wrap: str = "{}") -> Render:
    """A counterpart that calls ``receiver.name(...)``: positional arguments pass through (at most
    ``positional``), keyword ``k`` becomes ``kwargs[k]`` (a name ``None`` means the argument has no
    counterpart), ``fixed`` is appended (``"include_self=True"``), and ``wrap`` formats the call."""
    table = dict(kwargs)

    def render(recv, args, kws, *, profile=None, api=""):
        if len(args) > positional:
            raise Unmapped(f"{api}: {len(args)} positional arguments ({name} takes {positional})")
        parts = list(args)
        for k, v in kws.items():
            if k not in table:
                raise Unmapped(f"{api}({k}=...): {name} has no such argument")
            if table[k] is None:
                raise Unmapped(f"{api}({k}=...): {name} has no counterpart of {k}")
            parts.append(f"{table[k]}={v}")
        if fixed:
            parts.append(fixed)
        return wrap.format(f"{recv}.{name}({', '.join(parts)})")

    return render


class Unmapped(Exception):
    """Raised by a method counterpart for an argument it cannot map (the step then has no counterpart)."""


@dataclass(frozen=True, repr=False, eq=False)
class Profile:
    """How torch's Module API maps onto one framework (Note [framework profiles])."""

    framework: str  # the import name shown in messages ("paddle", "mlx")
    distribution: str  # the pip distribution whose version the report shows
    extra: str  # pip extra of this project that installs it (".[paddle]")
    imports: str  # the reproducer's first lines
    render: Callable  # (blueprint) -> program text binding ``root``
    kinds: tuple[str, ...]  # blueprint node kinds the renderer can build
    methods: Mapping[str, Render | str] = field(default_factory=dict)  # torch method -> counterpart or why none
    names: Mapping[str, str] = field(default_factory=dict)  # torch dotted name -> framework source
    attributes: Mapping[str, str] = field(default_factory=dict)  # torch attribute on a module -> framework's
    admits: Callable | None = None  # (blueprint) -> bool: draws outside the renderer's reach
    module: str = ""  # what to import to tell whether it is installed (default: ``framework``)
    # Attribute names with no counterpart on *any* receiver (a hook registered on a module picked in a
    # loop, ``t.untyped_storage()``, ``sd._metadata``): a step that names one skips. Methods that
    # ``methods`` maps to a reason count here too.
    lacking: Mapping[str, str] = field(default_factory=dict)

    def translate(self, code: str) -> str:
        """The framework's text of torch step ``code`` (raises NoCounterpart)."""
        return _translate(self, code)


class _Rewriter(ast.NodeTransformer):
    def __init__(self, profile: Profile):
        self.profile = profile

    def lack(self, api: str, reason: str):
        raise NoCounterpart(self.profile.framework, api, reason)

    def visit_Call(self, node: ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and _on_module(func.value):
            name = func.attr
            api = f"Module.{name}"
            if name in self.profile.methods:
                counterpart = self.profile.methods[name]
                if isinstance(counterpart, str):
                    self.lack(api, counterpart)
                if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
                    self.lack(api, "a call with */** arguments cannot be mapped")
                recv = ast.unparse(self.visit(func.value))
                args = [ast.unparse(self.visit(a)) for a in node.args]
                kws = {k.arg: ast.unparse(self.visit(k.value)) for k in node.keywords}
                try:
                    text = counterpart(recv, args, kws, profile=self.profile, api=api)
                except Unmapped as exc:
                    self.lack(api, str(exc))
                return ast.parse(text, mode="eval").body
            if name in _module_api():
                self.lack(api, f"the {self.profile.framework} profile maps no counterpart of nn.Module.{name}")
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute):
        dotted = _dotted(node)
        if dotted and dotted.split(".")[0] in ("torch", "nn"):
            return self._name(dotted, node)
        if _on_module(node.value) and node.attr in self.profile.attributes:
            return ast.parse(self.profile.attributes[node.attr].format(ast.unparse(self.visit(node.value))),
                             mode="eval").body
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name):
        if node.id in ("torch", "nn"):
            return self._name(node.id, node)
        return node

    def _name(self, dotted: str, node):
        if dotted in self.profile.names:
            return ast.parse(self.profile.names[dotted], mode="eval").body
        self.lack(dotted, f"the {self.profile.framework} profile maps no counterpart of {dotted}")


def _on_module(node) -> bool:
    """Whether ``node`` reaches a module of the object under test: ``root``, a node label, or an
    attribute/``getattr``/item path from one (``root.a``, ``getattr(root, 'a.b')``, ``root[0]``)."""
    while True:
        if isinstance(node, ast.Name):
            return node.id == "root" or (node.id.startswith("n") and node.id[1:].isdigit())
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and node.args:
            node = node.args[0]
        else:
            return False


@functools.lru_cache(maxsize=4096)
def _translate(profile: Profile, code: str) -> str:
    tree = ast.parse(code, mode="exec")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in profile.lacking:
                raise NoCounterpart(profile.framework, node.attr, profile.lacking[node.attr])
            if isinstance(profile.methods.get(node.attr), str):
                raise NoCounterpart(profile.framework, f"Module.{node.attr}", profile.methods[node.attr])
    tree = ast.fix_missing_locations(_Rewriter(profile).visit(tree))
    return ast.unparse(tree)


@functools.cache
def _module_api() -> frozenset:
    """Public names of torch's Module and container classes (what a step may call on a module)."""
    from torch import nn

    names = set()
    for cls in (nn.Module, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict):
        names |= {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n, None))}
    return frozenset(names - set(keyword.kwlist))


@dataclass(frozen=True, repr=False)
class Framework(Backend):
    """A framework that is not torch, under its :class:`Profile` (Note [framework profiles])."""

    profile: Profile | None = None

    def __repr__(self) -> str:
        return f"<backend {self.name}>"

    @property
    def label(self) -> str:
        return f"{self.name} {self.profile.distribution} {self.framework_version()}"

    def framework_version(self) -> str:
        try:
            return importlib.metadata.version(self.profile.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "(not installed)"

    def unavailable(self) -> str | None:
        try:
            importlib.import_module(self.profile.module or self.profile.framework)
        except Exception as exc:  # noqa: BLE001 - any import failure makes the framework unavailable
            return (f"{self.profile.module or self.profile.framework} cannot be imported ({type(exc).__name__}: {exc}); install it with "
                    f"`pip install -e '{self.profile.extra}'` or `make conformance BACKEND={self.name}`")
        return None

    def admits(self, bp) -> bool:
        if any(n.kind not in self.profile.kinds for n in bp.nodes):
            return False
        return self.profile.admits(bp) if self.profile.admits else True

    def graphs(self, strategy):
        """The test's blueprint strategy restricted to the node kinds the renderer builds."""
        from strategies.graphs import restricted

        narrowed = restricted(strategy, kinds=self.profile.kinds)
        if narrowed is None:
            import pytest

            shown = repr(strategy)
            shown = shown if len(shown) <= 120 else shown[:117] + "..."
            pytest.skip(f"no counterpart in {self.profile.framework}: the test draws its graphs from {shown}, which "
                        f"the {self.name} renderer cannot narrow to the node kinds it builds "
                        f"({', '.join(self.profile.kinds)}): torch's built-in layers, and what else the strategy "
                        "draws, have no counterpart there")
        return narrowed

    def refuses(self, device):
        if device is not None:
            return f"the {self.name} adapter builds on the host CPU only (device {device} is torch's)"
        return None

    def translate(self, code: str) -> str:
        return self.profile.translate(code)

    def build(self, bp, device=None, uses=(), forward=False):
        from conformance.handle import Handle

        program = self.profile.imports + self.profile.render(bp)
        namespace: dict = {}
        exec(_compiled(program), namespace)
        return Handle(bp, self, program, namespace, device=None)


@functools.lru_cache(maxsize=256)
def _compiled(program: str):
    return compile(program, "<nnconform framework program>", "exec")
