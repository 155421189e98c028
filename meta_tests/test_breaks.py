"""The suite catches deliberately broken Module implementations (see meta_tests/breaks.py).

Per break: run its target conformance file with the break applied, in a fresh pytest process,
and expect a failure reported as a ConformanceError. Separately, the same selections must pass
on unbroken torch, so each red run is the break's doing and not an unrecorded finding.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meta_tests.breaks import BREAKS, ENV, Break

ROOT = Path(__file__).resolve().parents[1]
DROPPED_ENV = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS", ENV)


def run_conformance(*args, broken: str | None = None, backend: str = "eager") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV)}
    if broken:
        env[ENV] = broken
    command = [sys.executable, "-m", "pytest", *args, "-q", "-p", "meta_tests.breaks", "--hypothesis-profile=ci",
               f"--backend={backend}",
               "-o", "addopts=-p no:cacheprovider"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def digest(result, error_lines: int = 12) -> str:
    """The run's first error lines (the reproducer can be long), its failures and its last line."""
    lines = (result.stdout + result.stderr).splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("E ")), len(lines))
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return "\n".join([*lines[first:first + error_lines], "...", *failed, *lines[-1:]])


def present(brk) -> bool:
    return (ROOT / brk.target).is_file()


def skip_without_framework(backend: str) -> None:
    """A framework adapter's breaks need its framework installed (``make extras``); without it they
    skip, saying why (``.ci/run`` installs the pinned wheels where they install)."""
    from conformance import backends

    if backend in backends.FRAMEWORKS:
        try:
            backends.load(backend)
        except backends.BackendError as exc:
            pytest.skip(f"breaks of the {backend} adapter: {exc}")


@pytest.mark.parametrize("name", list(BREAKS))
def test_break_is_caught(name):
    brk = BREAKS[name]
    if not present(brk):
        pytest.skip(f"{brk.target} does not exist yet: cannot check break {name}")
    skip_without_framework(brk.backend)
    result = run_conformance(brk.target, "-x", "-k", brk.select, broken=name, backend=brk.backend)
    out = result.stdout + result.stderr
    assert f"deliberately broken: {name}" in out, f"break not applied:\n{digest(result)}"
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, (
        f"break {name!r} ({brk.what}) was not caught by {brk.target} -k {brk.select!r} "
        f"(exit {result.returncode}):\n{digest(result)}")
    assert "ConformanceError" in out, f"break {name!r} failed without a ConformanceError:\n{digest(result)}"


@pytest.mark.parametrize("target, backend", sorted({(b.target, b.backend) for b in BREAKS.values()}))
def test_selections_pass_unbroken(target, backend):
    """The breaks' selections in ``target`` pass on unbroken torch (or are recorded deviations)."""
    if not (ROOT / target).is_file():
        pytest.skip(f"{target} does not exist yet")
    skip_without_framework(backend)
    select = " or ".join(f"({b.select})" for b in BREAKS.values() if b.target == target and b.backend == backend)
    result = run_conformance(target, "-k", select, backend=backend)
    assert result.returncode == pytest.ExitCode.OK, f"{target} -k {select!r} fails without any break:\n{digest(result)}"


def test_unknown_break_is_a_usage_error():
    result = run_conformance("conformance/test_traversal.py", "--collect-only", broken="no.such.break")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, digest(result)
    assert f"{ENV}='no.such.break' is not a known break; choose one of" in result.stdout + result.stderr


def test_breaks_cover_every_area():
    areas = {name.split(".")[0] for name in BREAKS}
    assert len(BREAKS) >= 20, f"only {len(BREAKS)} breaks"
    assert {"traversal", "state_dict", "load", "apply", "train", "registration", "attributes", "grad", "copy",
            "containers", "dtype", "devices", "hooks", "wrapper"} <= areas, areas
    wrapped = {b.backend for b in BREAKS.values()} - {"eager"}
    assert wrapped >= {"compile", "module-compile", "ddp", "fx", "export", "jit"}, f"wrapper backends without a break: {wrapped}"


def test_break_with_missing_target_skips(monkeypatch):
    ghost = Break("ghost", "nothing", "conformance/test_not_written_yet.py", "x", lambda: None)
    monkeypatch.setitem(BREAKS, "ghost", ghost)
    with pytest.raises(pytest.skip.Exception, match="conformance/test_not_written_yet.py does not exist yet"):
        test_break_is_caught("ghost")
