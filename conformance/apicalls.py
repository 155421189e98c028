"""What the properties called: the API calls in the step texts that ran (a pytest plugin).

Note [recording API calls]
~~~~~~~~~~~~~~~~~~~~~~~~~~
``Handle.run`` and ``Handle.attempt`` pass every step's transcript text to ``record``. Nothing
is observed on the object under test: the text is what ran (Note [one source per call] in
``conformance.handle``), so ``ast`` reads the calls from it:

* ``X.meth(...)`` and ``getattr(X, 'meth')(...)`` where ``meth`` is the name of an inventory
  method (``conformance.api``); ``nn.Sequential(...)`` (or ``torch.nn.``, or a bare
  ``Sequential(...)``) for a container's constructor; ``nn.utils.sub.f(...)`` (``torch.``
  optional, or ``sub.f(...)`` for a ``torch.nn.utils`` submodule ``sub``, or the
  ``nn.utils.f`` re-export) for an inventory function;
* per call: the number of positional arguments, the keyword names, whether ``*``/``**``
  unpacking hides some (``dynamic``), and for a method with documented overloads
  (``Module.to``) the overload, from the first argument's expression: a string, an int, ``None``
  or ``torch.device(...)`` is ``device``; ``torch.<dtype>`` (or ``getattr(torch, '<dtype>')``)
  or ``x.dtype`` is ``dtype``; ``x.device`` is ``device``; ``torch.<memory format>`` is
  ``memory_format``; any other expression is ``tensor``. A bare name is first looked up in the step's own assignments (a step's bound
  names appear as ``device = 'cpu'`` lines), then read by its spelling (``device``/``dtype`` in
  it), else ``tensor``. Without positional arguments the keywords decide, ``memory_format``,
  ``tensor``, ``device``, ``dtype`` in that order.

Steps repeat a lot (every Hypothesis example re-runs the same texts), so the analysis of a text
is cached; ``record`` costs a dictionary lookup and a few counter increments per step. It only
counts while this plugin is registered (``-p conformance.apicalls``, or ``pytest_plugins``); a
failure to analyse is counted, never raised into a test.

Each process counts its own calls; an xdist worker hands its counts to the controller in
``workeroutput`` at the end of its session (a worker that crashes loses its counts: the file's
``processes`` says how many reported). The controller (or the single process) writes
``api-coverage.json`` into the report folder (``--report-dir``, default ``reports/out``) when
``--report-dir`` is given or conformance tests ran. ``python -m conformance.coverage --api``
reads it.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest

SCHEMA = "nnconform.api-coverage"
VERSION = 1
FILE = "api-coverage.json"
_OUTPUT_KEY = "nnconform_api_calls"
_CONFORMANCE_DIR = Path(__file__).parent


class Call(NamedTuple):
    kind: str  # method, constructor, function
    target: str  # method name, class name, or the function's dotted spelling (nn.utils.sub.f)
    positional: int  # positional arguments before any *unpacking
    keywords: tuple[str, ...]  # sorted keyword names
    overload: str | None  # label, for a method with documented overloads
    dynamic: bool  # *args / **kwargs unpacking: some arguments cannot be named


_COUNTS: Counter = Counter()  # Call -> times run
_STATE = {"on": False, "sessions": 0, "steps": 0, "errors": 0, "tests": 0, "last_error": None}


# -- what the inventory names --------------------------------------------------------------------

class Targets(NamedTuple):
    methods: frozenset
    constructors: frozenset
    functions: dict  # dotted spelling (nn.utils...) -> canonical key
    submodules: frozenset  # torch.nn.utils submodule names (for ``sub.f(...)``)
    overloaded: dict  # method name -> its overload labels
    dtypes: frozenset
    memory_formats: frozenset


@functools.lru_cache(maxsize=1)
def targets() -> Targets:
    import torch

    from conformance import api

    entries = api.inventory()
    functions = {}
    for e in entries:
        if e.kind == "function":
            functions[e.key] = e.key
            functions.update((a, e.key) for a in e.aliases)
    overloaded: dict[str, set] = {}
    for e in entries:
        if e.kind == "method" and e.overloads:
            overloaded.setdefault(e.name, set()).update(o.label for o in e.overloads)
    return Targets(
        methods=frozenset(e.name for e in entries if e.kind == "method"),
        constructors=frozenset(e.name for e in entries if e.kind == "constructor"),
        functions=functions,
        submodules=frozenset(k.split(".")[2] for k in functions if k.count(".") >= 3),
        overloaded={k: frozenset(v) for k, v in overloaded.items()},
        dtypes=frozenset(n for n in dir(torch) if isinstance(getattr(torch, n, None), torch.dtype)),
        memory_formats=frozenset(n for n in dir(torch) if isinstance(getattr(torch, n, None), torch.memory_format)),
    )


# -- reading a step ------------------------------------------------------------------------------

def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _torch_attr(node) -> str | None:
    """``X`` of ``torch.X`` or ``getattr(torch, 'X')``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch":
        return node.attr
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) == 2 and isinstance(node.args[0], ast.Name) and node.args[0].id == "torch"
            and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        return node.args[1].value
    return None


def classify(node, bound: dict, t: Targets, depth: int = 0) -> str:
    """The ``to`` overload a first argument selects: device, dtype, tensor or memory_format."""
    if isinstance(node, ast.Constant):
        return "device" if node.value is None or isinstance(node.value, (str, int)) and not isinstance(node.value, bool) \
            else "tensor"
    name = _torch_attr(node)
    if name is not None:
        if name in t.dtypes:
            return "dtype"
        if name in t.memory_formats:
            return "memory_format"
    if isinstance(node, ast.Call) and _dotted(node.func) in ("torch.device", "device"):
        return "device"
    if isinstance(node, ast.Attribute) and node.attr in ("dtype", "device"):
        return node.attr  # t.dtype, t.device
    if isinstance(node, ast.Name):
        if node.id in bound and depth < 5:
            return classify(bound[node.id], bound, t, depth + 1)
        lowered = node.id.lower()
        if "dtype" in lowered:
            return "dtype"
        if "device" in lowered or lowered == "dev":
            return "device"
    return "tensor"


def _overload(call: ast.Call, labels: frozenset, bound: dict, t: Targets) -> str | None:
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    if call.args and not isinstance(call.args[0], ast.Starred):
        label = classify(positional[0], bound, t)
    else:
        names = {k.arg for k in call.keywords}
        label = next((n for n in ("memory_format", "tensor", "device", "dtype") if n in names), None)
    return label if label in labels else None


def _target(func, t: Targets) -> tuple[str, str] | None:
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Name) and func.func.id == "getattr" \
            and len(func.args) >= 2 and isinstance(func.args[1], ast.Constant) and isinstance(func.args[1].value, str):
        name = func.args[1].value
        return ("method", name) if name in t.methods else None
    dotted = _dotted(func)
    if dotted is not None:
        plain = dotted.removeprefix("torch.")
        if plain in t.functions:
            return "function", t.functions[plain]
        if plain.split(".")[0] in t.submodules and f"nn.utils.{plain}" in t.functions:
            return "function", t.functions[f"nn.utils.{plain}"]
        head, _, last = plain.rpartition(".")
        if last in t.constructors and head in ("", "nn"):
            return "constructor", last
    if isinstance(func, ast.Attribute) and func.attr in t.methods:
        return "method", func.attr
    return None


@functools.lru_cache(maxsize=16384)
def analyse(text: str) -> tuple[Call, ...]:
    """The inventory calls in one step's text (cached per distinct text)."""
    t = targets()
    tree = ast.parse(text)
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            bound[node.targets[0].id] = node.value
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        target = _target(node.func, t)
        if target is None:
            continue
        kind, name = target
        positional = 0
        for a in node.args:
            if isinstance(a, ast.Starred):
                break
            positional += 1
        dynamic = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
        labels = t.overloaded.get(name) if kind == "method" else None
        overload = _overload(node, labels, bound, t) if labels else None
        found.append(Call(kind, name, positional, tuple(sorted(k.arg for k in node.keywords if k.arg)),
                          overload, dynamic))
    return tuple(found)


def record(text: str) -> None:
    """Count the inventory calls of one step that ran (no-op unless the plugin is on)."""
    if not _STATE["on"]:
        return
    _STATE["steps"] += 1
    try:
        calls = analyse(text)
    except Exception as exc:  # noqa: BLE001 - a recorder never fails a test; the count is reported
        _STATE["errors"] += 1
        _STATE["last_error"] = f"{type(exc).__name__}: {exc}"
        return
    for call in calls:
        _COUNTS[call] += 1


def snapshot() -> dict:
    """This process's counts, as plain data (execnet-serialisable)."""
    return {"calls": [[*call[:3], list(call.keywords), call.overload, call.dynamic, n] for call, n in _COUNTS.items()],
            "steps": _STATE["steps"], "distinct_steps": analyse.cache_info().currsize,
            "errors": _STATE["errors"], "last_error": _STATE["last_error"], "tests": _STATE["tests"]}


def reset() -> None:
    _COUNTS.clear()
    _STATE.update(steps=0, errors=0, tests=0, last_error=None)


def merge(parts: list[dict]) -> dict:
    """One document from process snapshots."""
    counts: Counter = Counter()
    for part in parts:
        for kind, target, positional, keywords, overload, dynamic, n in part["calls"]:
            counts[(kind, target, positional, tuple(keywords), overload, dynamic)] += n
    calls = [{"kind": k[0], "target": k[1], "positional": k[2], "keywords": list(k[3]), "overload": k[4],
              "dynamic": k[5], "count": n} for k, n in sorted(counts.items(), key=lambda kv: (kv[0][:3], kv[0][3], str(kv[0][4:])))]
    errors = [p["last_error"] for p in parts if p.get("last_error")]
    return {"schema": SCHEMA, "version": VERSION, "processes": len(parts),
            "tests": sum(p["tests"] for p in parts), "steps": sum(p["steps"] for p in parts),
            "distinct_steps": sum(p["distinct_steps"] for p in parts),
            "analysis_errors": sum(p["errors"] for p in parts), "last_error": errors[-1] if errors else None,
            "calls": calls}


# -- the plugin ----------------------------------------------------------------------------------

_WORKERS = pytest.StashKey[list]()


def pytest_configure(config):
    if not _STATE["sessions"]:  # a pytest.main nested in a run (a collect-only) keeps the run's counts
        reset()
    _STATE["sessions"] += 1
    _STATE["on"] = True
    config.stash[_WORKERS] = []


def pytest_unconfigure(config):
    _STATE["sessions"] = max(0, _STATE["sessions"] - 1)
    _STATE["on"] = _STATE["sessions"] > 0


def pytest_runtest_setup(item):
    if _CONFORMANCE_DIR in Path(str(item.path)).parents:
        _STATE["tests"] += 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Controller under xdist: a worker's counts (absent when it crashed)."""
    part = getattr(node, "workeroutput", {}).get(_OUTPUT_KEY)
    if part is not None:
        node.config.stash[_WORKERS].append(part)


def _folder(config) -> Path:
    given = config.getoption("report_dir", None)
    return Path(given) if given else config.rootpath / "reports" / "out"


def document(config) -> dict:
    """The run's calls so far, merged over the processes that reported (controller side)."""
    under_xdist = config.pluginmanager.get_plugin("dsession") is not None  # the controller runs no tests
    return merge(config.stash[_WORKERS] if under_xdist else [snapshot()])


def summary(config) -> dict | None:
    """For ``report.json`` (key ``api_coverage``): the inventory's coverage totals by this run and
    the in-scope gaps, one line each; None when this plugin is not active or no conformance test ran."""
    if not _STATE["on"] or _WORKERS not in config.stash:
        return None
    doc = document(config)
    if not doc["tests"]:
        return None
    from conformance import api

    entries = api.inventory()
    measured = api.measure(entries, doc["calls"])
    return {"totals": api.totals(measured), "gaps": api.gaps(measured), "steps": doc["steps"],
            "file": FILE, "inventory": api.dump(entries)}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput[_OUTPUT_KEY] = snapshot()
        return
    if config.getoption("collectonly"):
        return
    doc = document(config)
    if config.getoption("report_dir", None) is None and not doc["tests"]:
        return  # only the project's own tests ran: leave reports/out alone
    try:
        import torch

        doc["torch"] = torch.__version__
    except Exception:  # noqa: BLE001 - informative only
        doc["torch"] = None
    doc["backend"] = config.getoption("backend", None)
    doc["profile"] = config.getoption("hypothesis_profile", None)
    folder = _folder(config)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        tmp.replace(folder / FILE)
    except OSError as exc:
        print(f"nnconform api coverage: cannot write {folder / FILE}: {exc}", file=sys.stderr)
        return
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line(f"nnconform api coverage: {doc['steps']} steps, {len(doc['calls'])} distinct calls "
                            f"-> {folder / FILE}")
