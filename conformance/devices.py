"""Devices under test (``--device``): discovery, the simulated accelerator, parametrization.

Note [devices]
~~~~~~~~~~~~~~
``--device`` takes a comma list of ``cpu``, ``meta``, ``nnsim`` (the simulated accelerator),
``cuda``, ``cuda:N``, ``xpu``, ``xpu:N``, ``mps`` or the name of a PrivateUse1 backend. The default
is every device the suite knows: those present run, the others are listed in the report header as
not present and their tests skip with that reason. A device asked for explicitly that is absent is
a usage error, so a misconfigured GPU runner cannot pass green; so is an empty name (``--device ""``,
``,``, ``cpu,,meta``), an index on cpu or meta, a non-numeric index, ``nnsim:1`` or ``mps:1`` (one
device each) and ``privateuseone`` (PrivateUse1 with no backend named). A list that leaves a
parameter empty (``--device cpu``: no pair, no move target) runs, and those tests skip saying so.

Tests ask for one of three direct parameters (not fixtures, so Hypothesis sees no function-scoped
fixture): ``device`` (a move target other than cpu), ``data_device`` (a device that holds data:
not meta) and ``device_pair`` (``(src, dst)``: cpu->X for every accelerator X, X->Y between
accelerators, cuda:0->cuda:1 when two GPUs are visible). Each item records its device in
``user_properties`` for the report.

Under pytest-xdist, worker ``gwK`` maps plain ``cuda`` (or ``xpu``) to index ``K mod visible``.
Indices are those left visible by an outer ``CUDA_VISIBLE_DEVICES``: torch renumbers them from 0.

Discovery never initialises CUDA: ``torch.cuda.device_count()`` reads NVML or the driver without
``torch.cuda._lazy_init`` (``meta_tests/test_devices_setup.py`` proves it in a subprocess).

Note [simulated accelerator]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``nnsim`` is torch's PrivateUse1 dispatch key, renamed and given Python hooks by the private,
experimental ``torch.utils.backend_registration._setup_privateuseone_for_python_backend``. Its
memory is real CPU memory: every device storage is built over the pointer of a CPU ``uint8``
tensor (``torch._C._construct_storage_from_data_pointer``) that the storage object keeps alive as
an attribute. Because the data hangs off the *storage*, it survives ``param.data = x`` and
``swap_tensors`` (both share storages), and views work: a view is the same storage with other
sizes, strides and offset. Kernels: allocation, ``_copy_from`` (copies between host views), the
view/``set_`` ops (CPU's device-agnostic kernels, by redispatch), and a fallback that runs any
other op on host views and maps the results back. Renaming PrivateUse1 is possible once per
process, so ``simulated_accelerator()`` does it once (each xdist worker is its own process); when
the helper is missing or PrivateUse1 is already taken, nnsim is absent with that reason.
"""
from __future__ import annotations

import os
import re

import pytest
import torch

SIM = "nnsim"
SIM_SETUP = f"from conformance.devices import simulated_accelerator; simulated_accelerator()  # registers {SIM!r}\n"
KNOWN = ("cpu", "meta", SIM, "cuda", "xpu", "mps")
_SELECTED = pytest.StashKey[list]()


# -- the simulated accelerator -------------------------------------------------------------------
_sim: dict = {}  # once per process: {"reason": None or why it is absent, "libs": [...]}
_CPU_KEYS = None


def simulated_accelerator() -> str | None:
    """Register nnsim once per process; return None, or the reason it is not available."""
    if not _sim:
        try:
            _sim["reason"] = _register()
        except Exception as exc:  # noqa: BLE001 - any failure means: not available, say why
            _sim["reason"] = f"simulated accelerator setup failed: {type(exc).__name__}: {exc}"
    return _sim["reason"]


def _register() -> str | None:
    from torch.utils import backend_registration as reg

    global _CPU_KEYS
    helper = getattr(reg, "_setup_privateuseone_for_python_backend", None)
    acc = getattr(torch._C, "_acc", None)
    if helper is None or acc is None or not hasattr(torch._C, "_construct_storage_from_data_pointer"):
        return ("this torch lacks the PrivateUse1 Python backend helper "
                "(torch.utils.backend_registration._setup_privateuseone_for_python_backend)")
    taken = torch._C._get_privateuse1_backend_name()
    if taken not in ("privateuseone", SIM):
        return f"PrivateUse1 is already taken by the {taken!r} backend"
    if taken == "privateuseone":
        helper(SIM)
    _CPU_KEYS = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
    aten = torch.library.Library("aten", "IMPL")
    for name, fn in (("empty.memory_format", _empty), ("empty_strided", _empty_strided), ("_copy_from", _copy_from)):
        aten.impl(name, fn, "PrivateUse1")
    for name in ("as_strided", "view", "_reshape_alias", "set_.source_Storage_storage_offset"):
        aten.impl(name, _cpu_kernel(name), "PrivateUse1")
    fallback = torch.library.Library("_", "IMPL")
    fallback.fallback(_run_on_host, "PrivateUse1")
    _sim["libs"] = [aten, fallback]  # registrations live as long as their Library objects
    back = torch.arange(6.0).to(SIM).view(2, 3).t().cpu()  # smoke test: a move, a view, a move back
    if not torch.equal(back, torch.arange(6.0).view(2, 3).t()):
        return f"simulated accelerator round trip gave {back.tolist()}"
    return None


def _cpu_kernel(name):
    base, _, overload = name.partition(".")
    op = getattr(getattr(torch.ops.aten, base), overload or "default")
    return lambda *args, **kwargs: op.redispatch(_CPU_KEYS, *args, **kwargs)


def _storage(nbytes: int):
    memory = torch.empty(max(nbytes, 1), dtype=torch.uint8)
    storage = torch._C._construct_storage_from_data_pointer(memory.data_ptr(), torch.device(SIM, 0), nbytes)
    storage.host = memory  # the CPU memory lives exactly as long as the device storage
    return storage


def _tensor(storage, dtype, size, stride, offset=0):
    t = torch._C._acc.create_empty_tensor([0], dtype)
    return torch.ops.aten.set_.source_Storage_storage_offset.redispatch(_CPU_KEYS, t, storage, offset, size, stride)


def host(t: torch.Tensor) -> torch.Tensor:
    """The CPU view of an nnsim tensor's memory (same sizes, strides, offset)."""
    memory = t.untyped_storage().host
    return torch.empty(0, dtype=t.dtype).set_(memory.untyped_storage(), t.storage_offset(), t.shape, t.stride())


def _empty_strided(size, stride, dtype=None, layout=None, device=None, pin_memory=None):
    dtype = dtype or torch.get_default_dtype()
    extent = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    return _tensor(_storage(extent * dtype.itemsize), dtype, size, stride)


def _empty(size, dtype=None, layout=None, device=None, pin_memory=None, memory_format=None):
    stride = torch.empty(size, device="meta", memory_format=memory_format or torch.contiguous_format).stride()
    return _empty_strided(size, stride, dtype)


def _copy_from(src, dst, non_blocking=False):
    (host(dst) if dst.device.type == SIM else dst).copy_(host(src) if src.device.type == SIM else src)
    return dst


def _run_on_host(op, *args, **kwargs):
    """Any other op: run it on host views, then map results back to device tensors."""
    from torch.utils import _pytree as pytree

    schema = op._schema.arguments  # boxed calls hand wrapped numbers over as Python scalars
    args = [torch.tensor(a) if isinstance(a, (bool, int, float)) and str(s.type) == "Tensor" else a
            for a, s in zip(args, schema)] + list(args[len(schema):])
    hosts, storages = {}, {}

    def down(x):
        if isinstance(x, torch.Tensor) and x.device.type == SIM:
            h = host(x)
            hosts[id(h)] = (h, x)
            storages[h.untyped_storage().data_ptr()] = x.untyped_storage()
            return h
        return torch.device("cpu") if isinstance(x, torch.device) and x.type == SIM else x

    out = op(*pytree.tree_map(down, args), **pytree.tree_map(down, kwargs))
    for h, x in hosts.values():  # an out= argument the op resized: give it device memory of that size
        if h.untyped_storage().data_ptr() not in storages:
            storage = _storage(h.untyped_storage().nbytes())
            storage.host.copy_(torch.empty(0, dtype=torch.uint8).set_(h.untyped_storage()))
            torch.ops.aten.set_.source_Storage_storage_offset.redispatch(
                _CPU_KEYS, x, storage, h.storage_offset(), h.shape, h.stride())
            storages[h.untyped_storage().data_ptr()] = storage

    def up(y):
        if not isinstance(y, torch.Tensor) or y.device.type != "cpu":
            return y
        if id(y) in hosts:  # an argument returned (in-place, out=)
            return hosts[id(y)][1]
        storage = storages.get(y.untyped_storage().data_ptr())
        if storage is not None:  # a view of an argument
            return _tensor(storage, y.dtype, y.shape, y.stride(), y.storage_offset())
        new = _empty_strided(y.shape, y.stride(), y.dtype)
        host(new).copy_(y)
        return new

    return pytree.tree_map(up, out)


# -- discovery -----------------------------------------------------------------------------------
def _count(kind: str) -> int:
    if kind == "cuda":
        return torch.cuda.device_count()  # no CUDA initialisation (see Note [devices])
    module = getattr(torch, kind, None)
    return module.device_count() if module is not None and hasattr(module, "device_count") else 0


def worker_index() -> int:
    """The xdist worker number (``gw3`` -> 3), 0 outside xdist."""
    return int(re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", "")) or 0)


def absent_reason(name: str) -> str | None:
    """None when ``name`` is present here, else why it is not (never raises)."""
    kind, colon, index = name.partition(":")
    if colon and not index.isdigit():
        return f"unknown device {name!r} (an index is a number: cuda:0)"
    if kind in ("cpu", "meta"):
        return None if not colon else f"{name}: cpu and meta take no index"
    if kind in (SIM, "mps") and colon and index != "0":
        return f"{name}: {kind} has one device, {kind}:0"
    if kind == SIM:
        return simulated_accelerator()
    if kind == "mps":
        return None if torch.backends.mps.is_available() else "mps: not available on this machine"
    if kind == "privateuseone":
        return ("privateuseone: no PrivateUse1 backend is registered under that name (name an out-of-tree "
                "backend loaded with --device-plugin, or nnsim)")
    if kind == "cuda" and not torch.backends.cuda.is_built():
        return "cuda: this torch is built without CUDA"
    if kind in ("cuda", "xpu"):
        count = _count(kind)
        env = os.environ.get("CUDA_VISIBLE_DEVICES") if kind == "cuda" else None
        visible = f" (CUDA_VISIBLE_DEVICES={env!r})" if env is not None else ""
        if count <= int(index or 0):
            return f"{name}: {count} {kind} device(s) visible{visible}"
        return None
    if kind == torch._C._get_privateuse1_backend_name():
        return _privateuse1_reason(kind)
    return f"unknown device {name!r}"


def _privateuse1_reason(kind: str) -> str | None:
    """An out-of-tree PrivateUse1 backend: its ``torch.<name>`` module says, else a one-element tensor."""
    module = getattr(torch, kind, None)
    try:
        if module is not None and hasattr(module, "is_available"):
            return None if module.is_available() else f"{kind}: PrivateUse1 backend not available"
        torch.empty(1, device=kind)
        return None
    except Exception as exc:  # noqa: BLE001 - whatever the backend raises, it is not usable here
        return f"{kind}: PrivateUse1 backend not usable ({type(exc).__name__}: {exc})"


def resolve(name: str) -> str:
    """``cuda``/``xpu`` -> this worker's index, modulo the visible count."""
    if name in ("cuda", "xpu") and _count(name) > 0:
        return f"{name}:{worker_index() % _count(name)}"
    return name


def known_devices() -> list[str]:
    names = list(KNOWN)
    backend = torch._C._get_privateuse1_backend_name()
    if backend not in ("privateuseone", SIM):
        names.append(backend)
    return names


def sync(device: str) -> None:
    """Wait for queued copies (``non_blocking=True``) on ``device``."""
    kind = device.partition(":")[0]
    module = getattr(torch, kind, None)
    if kind not in ("cpu", "meta", SIM) and module is not None and hasattr(module, "synchronize"):
        module.synchronize()


# -- pytest hooks --------------------------------------------------------------------------------
def pytest_addoption(parser):
    parser.getgroup("nnconform").addoption(
        "--device", default=None,
        help=f"comma list of devices to test moves on (default: every device present): {', '.join(KNOWN)}, cuda:N, ...")


def parse(option: str | None) -> list[str]:
    """The names ``--device`` lists (every known device when not given); a usage error when one is empty."""
    if option is None:
        return known_devices()
    names = [n.strip() for n in option.split(",")]
    if not all(names):
        raise pytest.UsageError(f"--device {option!r}: empty device name in the list; give a comma list of "
                                f"{', '.join(known_devices())}, cuda:N, ... (leave --device out for every device present)")
    return list(dict.fromkeys(names))


def pytest_configure(config):
    option = config.getoption("device")
    selected = [(name, absent_reason(name)) for name in parse(option)]
    if option is not None:
        missing = [f"{name} ({reason})" for name, reason in selected if reason]
        if missing:
            present = [n for n in known_devices() if absent_reason(n) is None]
            raise pytest.UsageError(f"--device: not present: {', '.join(missing)}; present here: {', '.join(present)}")
    config.stash[_SELECTED] = selected


def pytest_report_header(config):
    selected = config.stash.get(_SELECTED, [])
    present = ", ".join(resolve(n) for n, reason in selected if not reason)
    lines = [f"nnconform devices: {present or 'none'}"]
    lines += [f"  not present: {reason}" for _, reason in selected if reason]
    return lines


def _param(value, reasons, ident):
    reasons = [r for r in reasons if r]
    marks = [pytest.mark.skip(reason="device not present: " + "; ".join(reasons))] if reasons else []
    return pytest.param(value, marks=marks, id=ident)


def _pairs(selected):
    """cpu->X and X->Y over present accelerators; one skipped cpu->X for each absent one."""
    present = [n for n, r in selected if not r and n not in ("cpu", "meta")]
    pairs = [(("cpu", n), []) for n in present] + [((a, b), []) for a in present for b in present if a != b]
    pairs += [(("cpu", n), [r]) for n, r in selected if r]
    if any(n == "cuda" for n, _ in selected):
        count = _count("cuda") if torch.backends.cuda.is_built() else 0
        reason = f"cuda:0->cuda:1 needs two visible GPUs, {count} visible" if count < 2 else None
        pairs.append((("cuda:0", "cuda:1"), [reason]))
    return pairs


NONE_SELECTED = {  # what a parameter needs, for the skip reason when --device selects none of it
    "device": "no move target: --device {option!r} names no device other than cpu",
    "data_device": "no device that holds data: --device {option!r} names only meta",
    "device_pair": "no device pair to move between: --device {option!r} names no accelerator (nnsim, cuda, ...)",
}


def _or_skip(name, params, metafunc):
    """An empty list becomes one skipped parameter that says why (pytest's own empty set crashes here)."""
    if params:
        return params
    reason = NONE_SELECTED[name].format(option=metafunc.config.getoption("device"))
    return [pytest.param(None, marks=[pytest.mark.skip(reason=reason)], id="none")]


def pytest_generate_tests(metafunc):
    selected = metafunc.config.stash.get(_SELECTED, [])
    if "device" in metafunc.fixturenames:
        params = [_param(resolve(n), [r], n) for n, r in selected if n != "cpu"]
        metafunc.parametrize("device", _or_skip("device", params, metafunc))
    if "data_device" in metafunc.fixturenames:
        params = [_param(resolve(n), [r], n) for n, r in selected if n != "meta"]
        metafunc.parametrize("data_device", _or_skip("data_device", params, metafunc))
    if "device_pair" in metafunc.fixturenames:
        params = [_param(tuple(resolve(d) for d in pair), reasons, "-".join(pair)) for pair, reasons in _pairs(selected)]
        metafunc.parametrize("device_pair", _or_skip("device_pair", params, metafunc))


def pytest_collection_modifyitems(items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        for key in ("device", "data_device"):
            if isinstance(params.get(key), str):
                item.user_properties.append(("device", params[key]))
        if isinstance(params.get("device_pair"), tuple):
            item.user_properties.append(("device", "->".join(params["device_pair"])))
