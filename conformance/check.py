"""Assertion helpers: on failure they say the call, actual, expected, the documentation
sentence, and a torch-only reproducer. They hide themselves from tracebacks.

The invariant of the running test is set by the plugin (``current``), so a test only passes
what it observed, what the model expected and the call it made.
"""
from __future__ import annotations

import textwrap
from contextvars import ContextVar

from conformance.registry import Invariant

current: ContextVar[Invariant | None] = ContextVar("nnconform_invariant", default=None)


class ConformanceError(AssertionError):
    """A documented invariant does not hold."""


def _first_difference(actual, expected) -> str:
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        for i, (a, e) in enumerate(zip(actual, expected)):
            if a != e:
                return f"  first difference at index {i}: {a!r} != {e!r}\n"
        if len(actual) != len(expected):
            return f"  lengths differ: {len(actual)} != {len(expected)}\n"
    return ""


def report(problem: str, *, call: str, actual, expected, graph=None) -> str:
    inv = current.get()
    lines = [
        f"{problem}\n",
        f"  call:     {call}\n",
        f"  actual:   {actual!r}\n",
        f"  expected: {expected!r}\n",
        _first_difference(actual, expected),
    ]
    if inv is not None:
        lines.append(f"  invariant: {inv.id} ({inv.tier}, {inv.area})\n  doc: {inv.doc}\n")
    if graph is not None:
        lines.append("reproducer (torch only):\n" + textwrap.indent(graph.repro(call), "    "))
    return "".join(lines)


def expect_equal(actual, expected, *, call: str, graph=None, problem: str = "result differs from the reference model"):
    __tracebackhide__ = True
    if actual != expected:
        raise ConformanceError(report(problem, call=call, actual=actual, expected=expected, graph=graph))


def expect_true(ok: bool, *, call: str, actual, expected, graph=None, problem: str = "invariant violated"):
    __tracebackhide__ = True
    if not ok:
        raise ConformanceError(report(problem, call=call, actual=actual, expected=expected, graph=graph))


def expect_raises(exc_type, fn, *, call: str, graph=None, match: str | None = None):
    """``fn()`` must raise ``exc_type`` (with ``match`` in its message, when given)."""
    __tracebackhide__ = True
    expected = f"{exc_type.__name__}" + (f" containing {match!r}" if match else "")
    try:
        fn()
    except exc_type as exc:
        if match is None or match in str(exc):
            return exc
        actual = f"{type(exc).__name__}({str(exc)!r})"
    except Exception as exc:  # noqa: BLE001 - the wrong exception is the finding
        actual = f"{type(exc).__name__}({str(exc)!r})"
    else:
        actual = "no exception"
    raise ConformanceError(report("wrong error behaviour", call=call, actual=actual, expected=expected, graph=graph))
