"""pytest plugin for ``tools/bench.py`` (``-p benchplugin`` with ``tools/`` on the path).

Per test it records the CPU time of its call phase (drawing, building, the model, the checks,
Hypothesis: everything) and, afterwards, the CPU time of what the test ran against torch: every
handle's reproducer (program + steps, ``Handle.reproducer()``) compiled, then executed alone. That
is the torch-only cost of the same calls on the same graphs, the floor the suite's cost is
measured against. It also samples the process's resident memory every 0.1 s.

Writes JSON to ``$NNCONFORM_BENCH_OUT``: ``{"tests": [...], "rss": [[seconds, bytes], ...]}``.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time

import pytest

from conformance import guard
from conformance import handle as handle_module
from conformance.registry import REGISTRY

RESULTS: list[dict] = []
RSS: list[tuple[float, int]] = []
_STOP = threading.Event()
PAGE = os.sysconf("SC_PAGE_SIZE")


def _sample(start: float) -> None:
    while not _STOP.wait(0.1):
        with open("/proc/self/statm") as f:
            RSS.append((round(time.monotonic() - start, 2), int(f.read().split()[1]) * PAGE))


def pytest_configure(config):
    handle_module.CREATED = []
    threading.Thread(target=_sample, args=(time.monotonic(),), daemon=True).start()


def replay(handles) -> tuple[float, int]:
    """CPU seconds of executing the handles' reproducers, and how many ran through."""
    total, ran = 0.0, 0
    state = guard.snapshot()  # a reproducer draws from the RNG (layer init) like any program
    for h in handles:
        try:
            code = compile(h.reproducer(), "<nnconform bench replay>", "exec")
        except SyntaxError:
            continue
        namespace = {"__name__": "nnconform_graph"}
        start = time.process_time()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, namespace)
        except Exception:  # noqa: BLE001 - a failing example's reproducer stops where it fails
            pass
        total += time.process_time() - start
        ran += 1
    guard.restore(state)
    return total, ran


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    handle_module.CREATED = []
    start = time.process_time()
    try:
        return (yield)
    finally:
        suite = time.process_time() - start
        handles, handle_module.CREATED = handle_module.CREATED, []
        torch_only, ran = replay(handles)
        marker = item.get_closest_marker("invariant")
        inv = REGISTRY.get(marker.args[0]) if marker else None
        RESULTS.append({"test": item.nodeid, "area": inv.area if inv else "?", "suite": suite, "torch": torch_only,
                        "handles": len(handles), "replayed": ran,
                        "nodes": [len(h.blueprint.nodes) for h in handles if h.blueprint is not None]})


def pytest_sessionfinish(session):
    _STOP.set()
    out = os.environ.get("NNCONFORM_BENCH_OUT")
    if out:
        with open(out, "w") as f:
            json.dump({"tests": RESULTS, "rss": RSS}, f)
