"""The API surface under test, read from the installed torch: ``python -m conformance.api [--json]``.

Note [the inventory]
~~~~~~~~~~~~~~~~~~~~
Built by introspection (``inventory()``; torch is imported lazily, nothing initialises CUDA):

* **methods of** ``nn.Module``: every public (no leading ``_``) function in its class dictionary;
* **methods of the containers** (``Sequential``, ``ModuleList``, ``ModuleDict``,
  ``ParameterList``, ``ParameterDict``): the public functions a container class defines itself
  (new ones, and overrides such as ``Sequential.forward``), plus its constructor
  (``Sequential.__init__``, called as ``nn.Sequential(...)``). Operator protocol methods
  (``__getitem__``, ``__iadd__``, ...) are not listed: a step's text names them by syntax
  (``c[0]``, ``c += d``), and syntax says nothing about the receiver's type;
* **functions of** ``torch.nn.utils`` **that take a module**: public functions of
  ``torch.nn.utils`` and of its public submodules (their ``__all__``, else their public names
  defined there) whose *first* parameter is named ``module``, ``modules`` or ``*_module``, or is
  annotated as ``nn.Module``. Functions over parameter iterables or tensors (``clip_grad_norm_``,
  ``parameters_to_vector``), over a module class (``skip_init``) or over particular layers by
  other names (``fuse_conv_bn_eval(conv, bn)``) are not module API and are left out.

Each entry holds its ``inspect.signature``; its documented overloads, the docstring's
``.. function::`` / ``.. method::`` lines (``Module.to`` has four); the parameters its docstring's
``Args:`` section names; and its parameters: the signature's named parameters, the documented
ones and the overloads' (``*args`` / ``**kwargs`` count as parameters only when nothing else
names the parameters). A documented parameter the signature cannot accept (no such name, no
``**kwargs``) is *doc-only*: reported, never counted as a gap (a call cannot exercise it).
An overload's label is its first parameter's name (``device``, ``dtype``, ``tensor``,
``memory_format``).

Coverage (``measure``) joins the inventory with the calls recorded from the steps that ran
(``conformance.apicalls``). Calls are matched **by name**: a recorded ``x.append(...)`` counts for
every container's ``append``, and a tensor's ``t.to(...)`` counts for ``Module.to`` (step texts
carry no types). An entry is *tested* when some call matched it, *out of scope* when
``conformance/api_scope.py`` says so (with the reason), else *missing*.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import sys
from dataclasses import asdict, dataclass, field

SCHEMA = "nnconform.api-inventory"
VERSION = 1
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")
MODULE_PARAMS = ("module", "modules")  # a first parameter with one of these names (or *_module) takes a module
_SECTION = re.compile(r"^(Args|Arguments|Parameters|Keyword args|Keyword arguments|Kwargs):\s*$")
_PARAM_LINE = re.compile(r"^(\*{0,2}[A-Za-z_]\w*)\s*(\([^)]*\))?\s*:")
_OVERLOAD = re.compile(r"^\s*\.\.\s+(?:function|method)::\s*(.+?)\s*$")


@dataclass(frozen=True)
class Param:
    name: str  # '*args' / '**kwargs' for variadic ones
    kind: str  # positional, keyword, keyword_only, var_positional, var_keyword, or 'documented'
    default: str | None  # repr of the default; None when required or unknown
    sources: tuple[str, ...]  # signature, doc, overload
    accepted: bool = True  # False: documented, but the signature cannot take it (doc-only)


@dataclass(frozen=True)
class Overload:
    label: str  # the first parameter's name
    text: str  # as documented: to(dtype, non_blocking=False)
    params: tuple[str, ...]  # in order (positional arguments bind to them in this order)


@dataclass(frozen=True)
class Entry:
    key: str  # Module.state_dict, Sequential.__init__, nn.utils.parametrize.register_parametrization
    kind: str  # method, constructor, function
    owner: str  # Module, Sequential, ..., torch.nn.utils.parametrize
    name: str  # what a call names: the method's, the class's or the function's name
    signature: str
    params: tuple[Param, ...]
    positional: tuple[str, ...]  # what positional arguments bind to, in order
    variadic: bool  # extra positional arguments go to *args
    overloads: tuple[Overload, ...] = ()
    doc_params: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # functions: the dotted spellings that reach it (without 'torch.')
    summary: str = ""  # the docstring's first line

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def countable(self) -> tuple[str, ...]:
        """The parameters a call can exercise (doc-only ones excluded)."""
        return tuple(p.name for p in self.params if p.accepted)


# -- reading docstrings ------------------------------------------------------------------------

def doc_params(doc: str | None) -> tuple[str, ...]:
    """The parameter names an ``Args:`` (or ``Arguments:``, ``Parameters:``, ``Keyword args:``)
    section of a docstring names, in order, stars stripped."""
    found: list[str] = []
    lines = inspect.cleandoc(doc or "").splitlines()
    i = 0
    while i < len(lines):
        if not _SECTION.match(lines[i].strip()) or lines[i] != lines[i].lstrip():
            i += 1
            continue
        i += 1
        indent = None
        while i < len(lines):
            line = lines[i]
            if line.strip() and line == line.lstrip():
                break  # the next section
            if line.strip():
                here = len(line) - len(line.lstrip())
                indent = here if indent is None else indent
                match = _PARAM_LINE.match(line.strip()) if here == indent else None
                if match and match.group(1).lstrip("*") not in found:
                    found.append(match.group(1).lstrip("*"))
            i += 1
    return tuple(found)


def doc_overloads(doc: str | None) -> tuple[Overload, ...]:
    """The ``.. function:: f(a, b=1)`` (or ``.. method::``) lines of a docstring."""
    found = []
    for line in (doc or "").splitlines():
        match = _OVERLOAD.match(line)
        if not match:
            continue
        text = match.group(1)
        try:
            call = ast.parse(text, mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(call, ast.Call):
            continue
        names = [a.id for a in call.args if isinstance(a, ast.Name)] + [k.arg for k in call.keywords if k.arg]
        if names:
            found.append(Overload(label=names[0], text=text, params=tuple(names)))
    return tuple(found)


# -- building entries --------------------------------------------------------------------------

_KIND = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "keyword",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _signature(fn, *, drop_self: bool):
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name == "self":
        params = params[1:]
    return sig.replace(parameters=params)


def entry(fn, *, key: str, kind: str, owner: str, name: str, drop_self: bool = True,
          doc: str | None = None, aliases: tuple[str, ...] = ()) -> Entry:
    """One inventory entry for function ``fn`` (``doc``: the docstring to read, default fn's)."""
    from conformance import api_scope

    sig = _signature(fn, drop_self=drop_self)
    doc = inspect.getdoc(fn) if doc is None else inspect.cleandoc(doc)
    documented, overloads = doc_params(doc), doc_overloads(doc)
    named = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    var_pos = next((p for p in sig.parameters.values() if p.kind is p.VAR_POSITIONAL), None)
    var_kw = next((p for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD), None)
    in_overloads = [n for o in overloads for n in o.params]
    params: dict[str, Param] = {}

    def add(name, kind, default, source, accepted=True):
        old = params.get(name)
        if old is None:
            params[name] = Param(name, kind, default, (source,), accepted)
        elif source not in old.sources:
            params[name] = Param(old.name, old.kind, old.default, old.sources + (source,), old.accepted)

    for p in named:
        add(p.name, _KIND[p.kind], None if p.default is p.empty else repr(p.default), "signature")
    for n in documented:
        if n in (getattr(var_pos, "name", None), getattr(var_kw, "name", None)):
            continue  # documents the variadic parameter itself: added below
        add(n, "documented", None, "doc", accepted=n in params or var_kw is not None)
    for n in in_overloads:
        add(n, "documented", None, "overload", accepted=n in params or var_kw is not None or var_pos is not None)
    for var, star in ((var_pos, "*"), (var_kw, "**")):
        if var is not None and (not params or var.name in documented):
            add(star + var.name, _KIND[var.kind], None, "signature")
    positional = tuple(p.name for p in named if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    positional = api_scope.POSITIONAL.get(key, positional)
    return Entry(key=key, kind=kind, owner=owner, name=name, signature=f"{name}{sig}",
                 params=tuple(params.values()), positional=positional, variadic=var_pos is not None,
                 overloads=overloads, doc_params=documented, aliases=aliases,
                 summary=(doc or "").strip().splitlines()[0] if (doc or "").strip() else "")


def _public_functions(cls, *, stop) -> list[tuple[str, object]]:
    """Public functions ``cls`` defines itself or inherits from a class below ``stop`` in its MRO."""
    found = {}
    for klass in cls.__mro__:
        if klass is stop or klass is object:
            break
        for name, value in vars(klass).items():
            if name.startswith("_") or name in found:
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                found[name] = value
    return sorted(found.items())


def _takes_module(fn) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    first = params[0]
    if first.name in MODULE_PARAMS or first.name.endswith("_module"):
        return True
    ann = first.annotation
    if isinstance(ann, str):
        return re.search(r"(^|\.)Module$", ann.strip()) is not None
    from torch import nn

    return isinstance(ann, type) and issubclass(ann, nn.Module)


def utils_functions() -> list[tuple[object, list[str]]]:
    """(function, dotted spellings) of the ``torch.nn.utils`` functions that take a module."""
    import torch.nn.utils as utils

    modules = [("", utils)]
    for info in sorted(pkgutil.iter_modules(utils.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            modules.append((info.name, importlib.import_module(f"torch.nn.utils.{info.name}")))
    found: dict[object, list[str]] = {}
    for sub, mod in modules:
        names = getattr(mod, "__all__", None)
        if names is None:
            names = [n for n, v in vars(mod).items() if not n.startswith("_")
                     and getattr(v, "__module__", None) == mod.__name__]
        for n in names:
            fn = getattr(mod, n, None)
            if not inspect.isfunction(fn) or not (fn.__module__ or "").startswith("torch.nn.utils"):
                continue
            if _takes_module(fn):
                found.setdefault(fn, []).append(f"nn.utils.{sub + '.' if sub else ''}{n}")
    return list(found.items())


def _function_key(fn) -> str:
    return f"nn.utils.{fn.__module__.removeprefix('torch.nn.utils').lstrip('.')}.{fn.__name__}".replace("..", ".")


def inventory() -> list[Entry]:
    """Every entry, read from the installed torch now (not cached: a test may patch torch)."""
    from torch import nn

    entries = [entry(fn, key=f"Module.{name}", kind="method", owner="Module", name=name)
               for name, fn in _public_functions(nn.Module, stop=object)]
    for cname in CONTAINERS:
        cls = getattr(nn, cname)
        entries.append(entry(cls.__init__, key=f"{cname}.__init__", kind="constructor", owner=cname,
                             name=cname, doc=cls.__doc__))
        entries += [entry(fn, key=f"{cname}.{name}", kind="method", owner=cname, name=name)
                    for name, fn in _public_functions(cls, stop=nn.Module)]
    for fn, aliases in sorted(utils_functions(), key=lambda pair: _function_key(pair[0])):
        entries.append(entry(fn, key=_function_key(fn), kind="function", owner=fn.__module__, name=fn.__name__,
                             drop_self=False, aliases=tuple(sorted(set(aliases)))))
    return entries


def dump(entries: list[Entry]) -> dict:
    import torch

    return {"schema": SCHEMA, "version": VERSION, "torch": torch.__version__,
            "entries": [asdict(e) for e in entries]}


def load(doc: dict) -> list[Entry]:
    """Entries from ``dump``'s document."""
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"not an API inventory (schema {doc.get('schema')!r}, expected {SCHEMA!r})")
    out = []
    for e in doc["entries"]:
        e = dict(e)
        e["params"] = tuple(Param(**{**p, "sources": tuple(p["sources"])}) for p in e["params"])
        e["overloads"] = tuple(Overload(**{**o, "params": tuple(o["params"])}) for o in e["overloads"])
        for k in ("positional", "doc_params", "aliases"):
            e[k] = tuple(e[k])
        out.append(Entry(**e))
    return out


# -- coverage ----------------------------------------------------------------------------------

@dataclass
class Measured:
    entry: Entry
    status: str  # tested, out_of_scope, missing
    reason: str = ""  # out_of_scope's
    calls: int = 0
    params: set = field(default_factory=set)  # exercised
    overloads: set = field(default_factory=set)  # exercised labels
    unattributed: int = 0  # calls with *args/**kwargs whose arguments cannot be named

    @property
    def missing_params(self) -> list[str]:
        return [n for n in self.entry.countable if n not in self.params]

    @property
    def missing_overloads(self) -> list[str]:
        return [o.label for o in self.entry.overloads if o.label not in self.overloads]


def _matches(entry: Entry, call: dict) -> bool:
    if call["kind"] == "method":
        return entry.kind == "method" and entry.name == call["target"]
    if call["kind"] == "constructor":
        return entry.kind == "constructor" and entry.name == call["target"]
    return entry.kind == "function" and (call["target"] == entry.key or call["target"] in entry.aliases)


def bound(entry: Entry, call: dict) -> set[str]:
    """The parameters of ``entry`` a recorded call exercised: its keywords, and what its
    positional arguments bind to (through its overload when it has one)."""
    got = {k for k in call["keywords"] if entry.param(k) is not None}
    overload = next((o for o in entry.overloads if o.label == call.get("overload")), None)
    order = overload.params if overload else entry.positional
    n = call["positional"]
    got.update(order[:n])
    if n > len(order) and entry.variadic:
        star = next((p.name for p in entry.params if p.kind == "var_positional"), None)
        if star:
            got.add(star)
    if call["keywords"] and any(entry.param(k) is None for k in call["keywords"]):
        star = next((p.name for p in entry.params if p.kind == "var_keyword"), None)
        if star:
            got.add(star)
    return got


def measure(entries: list[Entry], calls: list[dict], scope: dict[str, str] | None = None) -> list[Measured]:
    """Coverage of each entry by the recorded ``calls`` (``conformance.apicalls`` records)."""
    if scope is None:
        from conformance.api_scope import OUT_OF_SCOPE as scope
    out = []
    for e in entries:
        m = Measured(e, "missing")
        for call in calls:
            if not _matches(e, call):
                continue
            m.calls += call["count"]
            m.params |= bound(e, call)
            if call.get("overload"):
                m.overloads.add(call["overload"])
            if call.get("dynamic"):
                m.unattributed += call["count"]
        if e.key in scope:
            m.status, m.reason = "out_of_scope", scope[e.key]
        elif m.calls:
            m.status = "tested"
        out.append(m)
    return out


def totals(measured: list[Measured]) -> dict[str, dict[str, int]]:
    """{methods|overloads|parameters: {covered, out_of_scope, missing, total}} (doc-only
    parameters excluded; an out-of-scope entry's overloads and parameters are out of scope)."""
    t = {k: {"covered": 0, "out_of_scope": 0, "missing": 0, "total": 0} for k in ("methods", "overloads", "parameters")}
    for m in measured:
        labels = [o.label for o in m.entry.overloads]
        params = list(m.entry.countable)
        if m.status == "out_of_scope":
            t["methods"]["out_of_scope"] += 1
            t["overloads"]["out_of_scope"] += len(labels)
            t["parameters"]["out_of_scope"] += len(params)
        else:
            t["methods"]["covered" if m.status == "tested" else "missing"] += 1
            t["overloads"]["covered"] += sum(label in m.overloads for label in labels)
            t["overloads"]["missing"] += sum(label not in m.overloads for label in labels)
            t["parameters"]["covered"] += sum(p in m.params for p in params)
            t["parameters"]["missing"] += sum(p not in m.params for p in params)
    for v in t.values():
        v["total"] = v["covered"] + v["out_of_scope"] + v["missing"]
    return t


def gaps(measured: list[Measured]) -> list[str]:
    """In-scope entries, parameters and overloads a run never exercised, one line each."""
    out = []
    for m in measured:
        if m.status == "missing":
            out.append(f"{m.entry.key}: never called")
        elif m.status == "tested":
            out += [f"{m.entry.key}: parameter {p}" for p in m.missing_params]
            out += [f"{m.entry.key}: overload {o}" for o in m.missing_overloads]
    return out


# -- release diff ------------------------------------------------------------------------------

def diff(old: list[Entry], new: list[Entry]) -> list[str]:
    """Lines naming what appeared (``+``) or vanished (``-``) from ``old`` to ``new``: entries,
    parameters (doc-only ones marked), overloads, and changed signatures (``~``)."""
    before, after = {e.key: e for e in old}, {e.key: e for e in new}
    lines = [f"+ {k}{after[k].signature.removeprefix(after[k].name)}" for k in sorted(after.keys() - before.keys())]
    lines += [f"- {k}" for k in sorted(before.keys() - after.keys())]
    for k in sorted(before.keys() & after.keys()):
        a, b = before[k], after[k]
        pa, pb = {p.name: p for p in a.params}, {p.name: p for p in b.params}
        for n in pb.keys() - pa.keys():
            lines.append(f"+ {k}: parameter {n}{'' if pb[n].accepted else ' (documented only)'}")
        for n in pa.keys() - pb.keys():
            lines.append(f"- {k}: parameter {n}")
        oa, ob = {o.text for o in a.overloads}, {o.text for o in b.overloads}
        lines += [f"+ {k}: overload {t}" for t in sorted(ob - oa)]
        lines += [f"- {k}: overload {t}" for t in sorted(oa - ob)]
        if a.signature != b.signature:
            lines.append(f"~ {k}: signature {a.signature} -> {b.signature}")
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m conformance.api", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="dump the inventory as JSON (for --api-diff)")
    args = parser.parse_args(argv)
    entries = inventory()
    if args.json:
        json.dump(dump(entries), sys.stdout, indent=1)
        print()
        return 0
    for e in entries:
        overloads = f"  [{len(e.overloads)} overloads]" if e.overloads else ""
        print(f"{e.key:55} {e.signature}{overloads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
