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
    ``reproducer``, ``cls``) for the report plugin. ``h`` is the live handle: the call is its
    transcript and the reproducer its whole program (Note [one source per call])."""

    def __init__(self, problem: str, *, actual, expected, h=None, call: str | None = None):
        inv = current.get()
        self.problem = problem
        self.call = call if call is not None else (h.call if h is not None else "")
        self.actual, self.expected = repr(actual), repr(expected)
        self.invariant = inv.id if inv else None
        self.doc = inv.doc if inv else None
        self.cls = h.cls if h is not None and "root" in h.namespace else None
        self.reproducer = h.reproducer() if h is not None else None
        super().__init__(self.render(actual, expected))

    @property
    def message(self) -> str:
        return str(self).partition("reproducer (")[0].rstrip()

    def render(self, actual, expected) -> str:
        inv = current.get()
        lines = [f"{self.problem}" + (f" (class under test: {self.cls})" if self.cls else "") + "\n"]
        call = self.call.splitlines() or [""]
        lines.append(f"  call:     {call[0]}\n" + "".join(f"            {c}\n" for c in call[1:]))
        lines += [
            f"  actual:   {self.actual}\n",
            f"  expected: {self.expected}\n",
            _first_difference(actual, expected),
        ]
        if inv is not None:
            lines.append(f"  invariant: {inv.id} ({inv.tier}, {inv.area})\n  doc: {inv.doc}\n")
        if self.reproducer:
            lines.append("reproducer (what ran):\n" + textwrap.indent(self.reproducer, "    "))
        return "".join(lines)


def _first_difference(actual, expected) -> str:
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        for i, (a, e) in enumerate(zip(actual, expected)):
            if a != e:
                return f"  first difference at index {i}: {a!r} != {e!r}\n"
        if len(actual) != len(expected):
            return f"  lengths differ: {len(actual)} != {len(expected)}\n"
    return ""


def expect_equal(actual, expected, h, *, problem: str = "result differs from the reference model"):
    """``actual`` (observed through ``h``'s steps) must equal the model's ``expected``."""
    __tracebackhide__ = True
    if actual != expected:
        raise ConformanceError(problem, actual=actual, expected=expected, h=h)


def expect_true(ok: bool, h, *, actual, expected, problem: str = "invariant violated"):
    __tracebackhide__ = True
    if not ok:
        raise ConformanceError(problem, actual=actual, expected=expected, h=h)


def _message(exc: BaseException) -> str:
    """The message as raised: ``str(KeyError('x'))`` adds quotes, ``args[0]`` does not."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)


def expect_error(h, code: str, error, **env):
    """The step ``code`` must raise ``error``, a pair (exception type, message); an empty
    message pins the type only. Messages compare exactly (a KeyError's without the quotes
    ``str`` adds). Returns the exception."""
    __tracebackhide__ = True
    exc_type, message = error
    exc = h.attempt(code, **env)
    if exc is None:
        actual = ("no exception", "")
    else:
        name = exc_type.__name__ if isinstance(exc, exc_type) else type(exc).__name__
        actual = (name, (exc.args[0] if exc.args else str(exc)) if message else "")
    expect_equal(actual, (exc_type.__name__, message), h, problem="wrong error behaviour")
    return exc


def expect_no_error(h, code: str, **env):
    """The step ``code`` must not raise; returns its value."""
    __tracebackhide__ = True
    try:
        return h.run(code, **env)
    except Exception as exc:
        raise ConformanceError("raised where the model expects success", h=h,
                               actual=f"{type(exc).__name__}({exc})", expected="no exception") from exc


def expect_raises(h, code: str, exc_type, *, match: str | None = None, **env):
    """The step ``code`` must raise ``exc_type`` (with ``match`` in its message, when given)."""
    __tracebackhide__ = True
    expected = f"{exc_type.__name__}" + (f" containing {match!r}" if match else "")
    exc = h.attempt(code, **env)
    if exc is None:
        actual = "no exception"
    elif isinstance(exc, exc_type) and (match is None or match in _message(exc)):
        return exc
    else:
        actual = f"{type(exc).__name__}({str(exc)!r})"
    raise ConformanceError("wrong error behaviour", actual=actual, expected=expected, h=h)
