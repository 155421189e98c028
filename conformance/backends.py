"""Backends: the one seam between the suite and the implementation under test.

Note [backends]
~~~~~~~~~~~~~~~
A backend turns a blueprint into a live :class:`~conformance.handle.Handle` (``build``). The
built-in ones render the blueprint as a torch program (``conformance.build``), run it, then run
the backend's *wrap step* on ``root``::

    eager           (nothing)
    module-compile  root.compile()
    compile         root = torch.compile(root)
    fx              root = torch.fx.symbolic_trace(root)
    export          root = torch.export.export(root, (torch.zeros(1),)).module()
    jit             root = torch.jit.script(root)
    ddp             root = nn.parallel.DistributedDataParallel(root)

The reproducer is ``prelude + program + wrap + steps``: what ran. A backend also declares

- ``names``: a :class:`~conformance.handle.NameMap` for wrappers that prefix every qualified
  name; the prefix itself is one finding (``backend.names.unprefixed``), and every other check
  runs modulo the map;
- ``lacks``: capabilities it does not offer, each with the reason (``{"pickle": "..."}``); a
  test marked ``@needs("pickle")`` then skips with that reason, and the report counts it;
- ``forward``: whether the blueprint must render a ``forward`` (tracing wrappers need one);
- ``base``: the backend whose known deviations it inherits (wrappers inherit eager's).

Third-party adapters are instances of :class:`Backend` (or a subclass overriding ``build``),
selected by ``--backend package.module:factory`` or published under the entry-point group
``nnconform.backends``; see ``docs/backends.md``.
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from conformance import build as builder
from conformance.handle import IDENTITY, Handle, NameMap

CAPABILITIES = {
    "register": "registering or assigning members on the object under test after wrapping",
    "to_empty": "Module.to_empty",
    "hooks": "module and global hooks firing around a call of the object under test",
    "forward": "calling the object under test",
    "pickle": "pickle and torch.save/torch.load of the object under test",
    "deepcopy": "copy.deepcopy of the object under test",
    "devices": "moving the object under test between devices (meta, accelerators)",
    "load": "load_state_dict on the object under test",
    "containers": "the container classes (Sequential, ModuleList, ...) as the object under test",
    "torch-objects": "the test's own Python reads torch objects (tensors, dtypes, classes) off the object under "
                     "test, not through a step a framework profile can translate",
}
ENTRY_POINTS = "nnconform.backends"

# Set by the plugin from --device-plugin: imports the reproducer needs before anything else.
DEVICE_PLUGINS: list[str] = []


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    wrap: str = ""  # statements that turn ``root`` into the object under test
    prelude: str = ""  # imports and set-up the wrap step needs, first in the reproducer
    names: NameMap = IDENTITY
    lacks: Mapping[str, str] = field(default_factory=dict)  # capability -> why not
    forward: bool = False  # render a generated forward (tracing wrappers)
    base: str | None = None  # inherit this backend's known deviations
    optional: bool = False  # may be unavailable in a torch build; absent -> usage error names why
    version: str = ""  # shown in the report header; default: torch's

    def __post_init__(self):
        unknown = sorted(set(self.lacks) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"backend {self.name!r}: unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}")

    def __repr__(self) -> str:  # Hypothesis prints the fixture in every failing example: keep it short
        return f"<backend {self.name}>"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis's printer would list every field
        p.text(repr(self))

    @property
    def label(self) -> str:
        return f"{self.name} {self.version or 'torch ' + torch.__version__}"

    def unavailable(self) -> str | None:
        """Why this backend cannot run here, or None."""
        return None

    def admits(self, bp) -> bool:
        """Whether the backend accepts this blueprint at all (a documented precondition of the
        wrapper, e.g. DDP's 'a parameter that requires a gradient'); draws that fail it are
        discarded with ``hypothesis.assume``."""
        return True

    def preconditions(self, bp) -> bool:
        """The wrapper's documented preconditions alone (``admits`` may also discard graphs a
        known deviation crashes on; ``test_wrap_accepts_callable_graphs`` draws past those)."""
        return self.admits(bp)

    def graphs(self, strategy):
        """The blueprint strategy a test draws from, as this backend narrows it (a framework
        adapter keeps to the node kinds it renders); the default keeps it."""
        return strategy

    def prepare(self) -> None:
        """Once per process, before the first test (and before the global-state guard takes its
        first snapshot): set-up the backend does to torch itself on first use."""

    def refuses(self, device: str | None) -> str | None:
        """Why the backend cannot put a module built on ``device`` under test (the test then
        skips with this reason), or None."""
        return None

    def build(self, bp, device: str | None = None, uses=(), forward: bool = False) -> Handle:
        """Build ``bp`` (on ``device``), wrap it, and return the live handle. ``uses``: the other
        devices the test will move it to (their set-up joins the prelude); ``forward``: render a
        generated forward even if the backend does not need one (tests that call the root)."""
        forward = forward or self.forward
        namespace = builder.run(bp, device, forward=forward)
        self.wrap_root(namespace)
        program = self.program(builder.render(bp, device, forward=forward), (device, *uses))
        return Handle(bp, self, program, namespace, device=device, names=self.names)

    def wrap_root(self, namespace: dict) -> None:
        """Run the wrap step on the ``root`` a build bound in ``namespace``. The prelude runs here
        too (it is first in the reproducer): the wrap step uses it."""
        if self.wrap:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(_compiled(self.prelude + self.wrap, self.name), namespace)

    def program(self, build: str, devices=()) -> str:
        """The reproducer's first part: devices' set-up, prelude, the ``build`` text, wrap step."""
        return _device_prelude(devices) + self.prelude + build + (self.wrap + "\n" if self.wrap else "")


@functools.lru_cache(maxsize=64)
def _compiled(source: str, name: str):
    return compile(source, f"<nnconform wrap: {name}>", "exec")


def _device_prelude(devices) -> str:
    from conformance.devices import SIM, SIM_SETUP

    lines = "".join(f"import {m}  # --device-plugin\n" for m in DEVICE_PLUGINS)
    if any(d and SIM in d for d in devices):
        lines += SIM_SETUP
    return lines


class DDP(Backend):
    """DistributedDataParallel needs a process group: gloo, world size 1, in this process."""

    def build(self, bp, device=None, uses=(), forward=False):
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        return super().build(bp, device, uses, forward)

    def admits(self, bp):
        """DDP raises for a module without a parameter that requires a gradient (documented)."""
        from conformance import model

        return any(bp.tensors[ref].requires_grad for _, ref in model.named_members(bp, "param"))

    def refuses(self, device):
        if device == "meta":
            return "DDP broadcasts parameters and buffers from rank 0 at construction; meta tensors hold no data"
        if device is not None and device.split(":")[0] not in ("cpu", "cuda"):
            return f"the gloo process group serves cpu and cuda tensors only, not {device}"
        return None

    def unavailable(self):
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_gloo_available():
            return "torch.distributed with gloo is not available in this torch build"
        return None


class Traced(Backend):
    """A wrapper that traces or compiles ``forward`` up front: it needs a root that can be called
    on the generated forward's input (``model_hooks.root_accepts``)."""

    def admits(self, bp):
        from conformance.model_hooks import root_accepts

        return root_accepts(bp)


class Exported(Traced):
    """torch.export crashes (an IndexError in ``_make_fx_helper``) on a root that registers two or
    more ``None`` buffers ahead of a tensor buffer: a deviation, recorded against
    ``test_wrap_accepts_callable_graphs`` (which draws such roots on purpose, past this filter) in
    deviations/export.txt with evidence/export_root_none_buffers_crash.py. Every other test
    discards such a graph, so that the crash does not stand in for what it checks."""

    def admits(self, bp):
        from conformance.deviations import root_none_buffers_ahead

        return super().admits(bp) and not root_none_buffers_ahead(bp)

    def preconditions(self, bp):
        return super().admits(bp)


class Scripted(Traced):
    """torch.jit.script compiles the forward of every submodule. Sequential.forward calls each
    child, so a Sequential holding a ModuleList/ModuleDict/ParameterList/ParameterDict (no forward)
    or an LSTM (returns a tuple the next child cannot take) cannot be scripted, and after one
    failed script a later script of the same structure in the process fails with "Can't redefine
    method: forward" (evidence/jit_sequential_failed_script_poisons.py): a precondition of the
    wrapper, not a finding."""

    UNSCRIPTABLE_IN_SEQUENTIAL = ("ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "LSTM")

    def admits(self, bp):
        return super().admits(bp) and not any(
            n.kind == "Sequential" and any(s.kind == "child" and s.ref is not None
                                           and bp.nodes[s.ref].kind in self.UNSCRIPTABLE_IN_SEQUENTIAL for s in n.slots)
            for n in bp.nodes)


class Compiled(Backend):
    """torch.compile patches ``nn.Module.__init__``/``__setstate__`` once, on its first compile:
    do it before the guard's first snapshot, so that it is not taken for a test's leak.
    Dynamo caches per code object: each handle compiles its steps afresh (``Handle._compile``)."""

    fresh_code = True

    def prepare(self):
        from torch._dynamo.mutation_guard import install_generation_tagging_init

        install_generation_tagging_init()


_DDP_PRELUDE = ("import torch.distributed as dist\n"
                "if not dist.is_initialized():\n"
                "    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)\n")
_TRACED = "the traced program is a new module: "

BUILTIN: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("eager", "eager torch.nn.Module"),
        Compiled("module-compile", "Module.compile(): forward compiled in place", wrap="root.compile()",
                forward=True, base="eager"),
        Compiled("compile", "torch.compile(root): an OptimizedModule wrapping the root",
                wrap="root = torch.compile(root)", names=NameMap("_orig_mod."), forward=True, base="eager",
                lacks={"containers": "torch.compile wraps a root module; the container classes are not reimplemented"}),
        Traced("fx", "torch.fx.symbolic_trace(root): a GraphModule", wrap="root = torch.fx.symbolic_trace(root)",
                forward=True, base="eager",
                lacks={"containers": _TRACED + "the container classes are not reimplemented"}),
        Exported("export", "torch.export.export(root, ...).module(): an unlifted exported module",
                wrap="root = torch.export.export(root, (torch.zeros(1),)).module()", forward=True, base="eager",
                lacks={"containers": _TRACED + "the container classes are not reimplemented",
                       "pickle": "ExportedProgram.module() registers forward pre/post hooks that are local lambdas "
                                 "(torch/export/_unlift.py _create_stateful_graph_module), so pickle and torch.save "
                                 "of the unlifted module always raise; torch.export.save of the ExportedProgram is "
                                 "the supported serialization"}),
        Scripted(
                "jit", "torch.jit.script(root): a RecursiveScriptModule (TorchScript is in maintenance mode)",
                wrap="root = torch.jit.script(root)", forward=True, base="eager", optional=True,
                lacks={"containers": "scripting wraps a root module; the container classes are not reimplemented",
                       "pickle": "a ScriptModule cannot be pickled (its C++ object has no __getstate__): "
                                 "torch.jit.save/torch.jit.load is its serialisation format",
                       "hooks": "RecursiveScriptModule disables register_forward_hook/register_forward_pre_hook "
                                "and the backward hooks (RuntimeError '... is not supported on ScriptModules'), "
                                "and submodules are called inside the compiled graph, where no Python hook runs",
                       "to_empty": "RecursiveScriptModule disables to_empty ('to_empty is not supported on "
                                   "ScriptModules')",
                       "register": "a ScriptModule's type (member names, kinds and types) is fixed when it is "
                                   "compiled: adding or deleting members, non-persistent buffers, replacing a "
                                   "child with an unscripted module or changing a member's kind all raise; only "
                                   "same-typed re-assignment of an existing slot is allowed"}),
        DDP("ddp", "DistributedDataParallel(root), gloo, world size 1, one process",
            wrap="root = nn.parallel.DistributedDataParallel(root)", prelude=_DDP_PRELUDE, names=NameMap("module."),
            forward=True, base="eager",
            lacks={"containers": "DDP wraps a root module; the container classes are not reimplemented"}),
    )
}


# Frameworks that are not torch (Note [framework profiles]): imported only when selected.
FRAMEWORKS = {"paddle": "conformance.frameworks.paddle:PADDLE", "mlx": "conformance.frameworks.mlx:MLX"}


class BackendError(Exception):
    """A ``--backend`` value that does not name a usable backend (a usage error)."""


def _entry_points() -> dict:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)}


def available() -> list[str]:
    return [*BUILTIN, *FRAMEWORKS, *(n for n in _entry_points() if n not in BUILTIN and n not in FRAMEWORKS)]


def _instantiate(obj, where: str) -> Backend:
    backend = obj() if callable(obj) and not isinstance(obj, Backend) else obj
    if not isinstance(backend, Backend):
        raise BackendError(f"{where} gave {type(backend).__name__}, not a conformance.backends.Backend")
    return backend


def load(spec: str) -> Backend:
    """A built-in name, an installed entry point's name, or ``package.module:factory``."""
    spec = spec.strip()
    if not spec:
        raise BackendError("--backend is empty; available: " + ", ".join(available()))
    if spec in BUILTIN:
        backend = BUILTIN[spec]
    elif spec in FRAMEWORKS:
        module, _, attr = FRAMEWORKS[spec].partition(":")
        try:
            backend = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise BackendError(f"--backend {spec!r}: its adapter {FRAMEWORKS[spec]} cannot be loaded: {exc}") from None
    elif ":" in spec:
        module, _, attr = spec.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise BackendError(f"--backend {spec!r}: cannot import {module!r}: {exc}") from None
        except AttributeError:
            raise BackendError(f"--backend {spec!r}: module {module!r} has no attribute {attr!r}") from None
        backend = _instantiate(obj, f"--backend {spec!r}")
    else:
        ep = _entry_points().get(spec)
        if ep is None:
            raise BackendError(f"unknown --backend {spec!r}; available: {', '.join(available())} "
                               "(or package.module:factory)")
        try:
            backend = _instantiate(ep.load(), f"entry point {spec!r} ({ep.value})")
        except ImportError as exc:
            raise BackendError(f"--backend {spec!r}: entry point {ep.value} cannot be imported: {exc}") from None
    reason = backend.unavailable()
    if reason:
        raise BackendError(f"--backend {spec!r} is not available here: {reason}")
    return backend
