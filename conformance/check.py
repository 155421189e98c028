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
    """A documented invariant does not hold. Besides the message, it carries the parts as
    attributes (``problem``, ``call``, ``actual``, ``expected``, ``invariant``, ``doc``,
    ``reproducer``) for the report plugin."""

    def __init__(self, problem: str, *, call: str, actual, expected, graph=None):
        inv = current.get()
        self.problem, self.call = problem, call
        self.actual, self.expected = repr(actual), repr(expected)
        self.invariant = inv.id if inv else None
        self.doc = inv.doc if inv else None
        self.reproducer = graph.repro(call) if graph is not None else None
        super().__init__(self.render(actual, expected))

    @property
    def message(self) -> str:
        return str(self).partition("reproducer (torch only):")[0].rstrip()

    def render(self, actual, expected) -> str:
        inv = current.get()
        lines = [
            f"{self.problem}\n",
            f"  call:     {self.call}\n",
            f"  actual:   {self.actual}\n",
            f"  expected: {self.expected}\n",
            _first_difference(actual, expected),
        ]
        if inv is not None:
            lines.append(f"  invariant: {inv.id} ({inv.tier}, {inv.area})\n  doc: {inv.doc}\n")
        if self.reproducer:
            lines.append("reproducer (torch only):\n" + textwrap.indent(self.reproducer, "    "))
        return "".join(lines)


def _first_difference(actual, expected) -> str:
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        for i, (a, e) in enumerate(zip(actual, expected)):
            if a != e:
                return f"  first difference at index {i}: {a!r} != {e!r}\n"
        if len(actual) != len(expected):
            return f"  lengths differ: {len(actual)} != {len(expected)}\n"
    return ""


def expect_equal(actual, expected, *, call: str, graph=None, problem: str = "result differs from the reference model"):
    __tracebackhide__ = True
    if actual != expected:
        raise ConformanceError(problem, call=call, actual=actual, expected=expected, graph=graph)


def expect_true(ok: bool, *, call: str, actual, expected, graph=None, problem: str = "invariant violated"):
    __tracebackhide__ = True
    if not ok:
        raise ConformanceError(problem, call=call, actual=actual, expected=expected, graph=graph)


def expect_error(error, fn, *, call: str, graph=None):
    """``fn()`` must raise ``error``, a pair (exception type, message); an empty message pins the
    type only. Messages compare exactly (a KeyError's without the quotes ``str`` adds)."""
    __tracebackhide__ = True
    exc_type, message = error
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the wrong exception is the finding
        name = exc_type.__name__ if isinstance(exc, exc_type) else type(exc).__name__
        actual = (name, (exc.args[0] if exc.args else str(exc)) if message else "")
    else:
        actual = ("no exception", "")
    expect_equal(actual, (exc_type.__name__, message), call=call, graph=graph, problem="wrong error behaviour")


def expect_no_error(fn, *, call: str, graph=None):
    """``fn()`` must not raise; returns its result."""
    __tracebackhide__ = True
    try:
        return fn()
    except Exception as exc:
        raise ConformanceError("raised where the model expects success", call=call, graph=graph,
                               actual=f"{type(exc).__name__}({exc})", expected="no exception") from exc


def _message(exc: BaseException) -> str:
    """The message as raised: ``str(KeyError('x'))`` adds quotes, ``args[0]`` does not."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)


def expect_raises(exc_type, fn, *, call: str, graph=None, match: str | None = None):
    """``fn()`` must raise ``exc_type`` (with ``match`` in its message, when given)."""
    __tracebackhide__ = True
    expected = f"{exc_type.__name__}" + (f" containing {match!r}" if match else "")
    try:
        fn()
    except exc_type as exc:
        if match is None or match in _message(exc):
            return exc
        actual = f"{type(exc).__name__}({str(exc)!r})"
    except Exception as exc:  # noqa: BLE001 - the wrong exception is the finding
        actual = f"{type(exc).__name__}({str(exc)!r})"
    else:
        actual = "no exception"
    raise ConformanceError("wrong error behaviour", call=call, actual=actual, expected=expected, graph=graph)
