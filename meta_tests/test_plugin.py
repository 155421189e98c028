"""The suite's pytest plugin turns misuse into clear errors, and its state guard works.

Most checks run pytest in a subprocess (collection only, where that suffices) and read what it
prints: that output is what a user sees.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import plugin

ROOT = Path(__file__).resolve().parents[1]
TARGET = "conformance/test_traversal.py"
DROPPED_ENV = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS", "NNCONFORM_BREAK")


def run_pytest(*args, cwd=ROOT, env=None, timeout=120) -> subprocess.CompletedProcess:
    # Drop what the outer run set for itself (xdist worker, current test, a break); PYTEST_PLUGINS
    # passes. ``env``: variables the inner run gets on top (a break to plant).
    inner = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV)}
    inner.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env=inner,
                          capture_output=True, text=True, timeout=timeout)


def output(result) -> str:
    return result.stdout + result.stderr


def test_unknown_hypothesis_profile_is_a_usage_error():
    result = run_pytest(TARGET, "--collect-only", "-q", "--hypothesis-profile=nope")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output(result)
    assert "unknown Hypothesis profile 'nope'; choose one of ci" in output(result)


def test_unknown_backend_is_a_usage_error():
    result = run_pytest(TARGET, "--collect-only", "-q", "--backend=nope")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output(result)
    assert "unknown --backend 'nope'; available: eager" in output(result)


def _deviations(tmp_path, text: str = "") -> Path:
    """A deviations file holding ``text`` (default: none), for runs that need one."""
    path = tmp_path / "devs.txt"
    path.write_text(text)
    return path


def _item(nodeid: str, ident=None):
    marker = SimpleNamespace(args=(ident,)) if ident else None
    return SimpleNamespace(nodeid=nodeid, path=plugin.CONFORMANCE_DIR / "test_fake.py",
                           get_closest_marker=lambda name: marker, user_properties=[], iter_markers=lambda name: [],
                           fixturenames=["backend"])


def test_conformance_test_without_invariant_fails_collection():
    # The collection hook itself, on stand-in items: a real test file without @invariant would
    # have to sit inside conformance/, where other runs would pick it up.
    items = [_item("conformance/test_fake.py::test_ok", "traversal.modules.dedup"),
             _item("conformance/test_fake.py::test_unmarked"),
             _item("conformance/test_fake.py::test_unknown_id", "no.such.invariant")]
    with pytest.raises(pytest.UsageError) as info:
        plugin.pytest_collection_modifyitems(config=None, items=items)
    message = str(info.value)
    assert "conformance/test_fake.py::test_unmarked (invariant None)" in message
    assert "conformance/test_fake.py::test_unknown_id (invariant 'no.such.invariant')" in message
    assert "test_ok" not in message


LEAKY_TESTS = '''
import torch

def test_leaks_the_overwrite_flag():
    torch.__future__.set_overwrite_module_params_on_conversion(True)

def test_runs_after_the_leak():
    assert torch.__future__.get_overwrite_module_params_on_conversion() is False
'''


def test_guard_fails_a_leaking_test_and_restores_the_flag(tmp_path):
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent(LEAKY_TESTS))
    result = run_pytest(str(tmp_path / "test_leaky.py"), "-p", "conformance.plugin", "-q", "-p", "no:randomly",
                        "--rootdir", str(tmp_path), "--deviations", str(_deviations(tmp_path)))
    out = output(result)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, out
    assert "ERROR at teardown of test_leaks_the_overwrite_flag" in out
    assert "test changed global state and did not restore it: torch.__future__ overwrite flag" in out
    assert "2 passed" in out and "1 error" in out  # the leaky test ran; the next one saw the flag restored
