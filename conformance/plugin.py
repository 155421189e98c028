"""The suite's pytest plugin: options, profiles, invariant checks, deviations, state guard.

Options: ``--backend NAME`` (a built-in, an entry point of ``nnconform.backends``, or
``package.module:factory``; default ``eager``), ``--device-plugin MODULE`` (imported before
device discovery, echoed in reproducers), ``--deviations FILE`` (default
``conformance/deviations/<backend>.txt``), and Hypothesis's ``--hypothesis-profile`` (default
``ci``; unknown names are a usage error).
"""
from __future__ import annotations

import fnmatch
import importlib
import warnings
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from conformance import check, deviations, guard, profiles
from conformance import backends
from conformance.registry import REGISTRY

CONFORMANCE_DIR = Path(__file__).parent
_DEVIATIONS = pytest.StashKey[list]()
_BACKEND = pytest.StashKey[backends.Backend]()


def pytest_addoption(parser):
    group = parser.getgroup("nnconform")
    group.addoption("--backend", default="eager",
                    help=f"implementation under test: {', '.join(backends.BUILTIN)}, an entry point of "
                         f"{backends.ENTRY_POINTS!r}, or package.module:factory")
    group.addoption("--device-plugin", action="append", default=[], metavar="MODULE",
                    help="import MODULE before device discovery (an out-of-tree PrivateUse1 device); repeatable")
    group.addoption("--deviations", default=None, help="known-deviations file (default: per backend)")


settings.load_profile(profiles.DEFAULT)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "invariant(id): the registered invariant a conformance test checks")
    config.addinivalue_line("markers", "needs(*capabilities): backend capabilities a conformance test needs")
    profile = config.getoption("hypothesis_profile", None)
    if profile is not None and profile not in profiles.PROFILES:
        raise pytest.UsageError(
            f"unknown Hypothesis profile {profile!r}; choose one of {', '.join(profiles.PROFILES)}"
        )
    for module in config.getoption("device_plugin"):
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure to import is the user's to fix
            raise pytest.UsageError(f"--device-plugin {module!r} cannot be imported: {type(exc).__name__}: {exc}") from None
    backends.DEVICE_PLUGINS[:] = config.getoption("device_plugin")
    try:
        backend = backends.load(config.getoption("backend"))
    except backends.BackendError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_BACKEND] = backend
    path = config.getoption("deviations")
    config.stash[_DEVIATIONS] = deviations.load(Path(path) if path else deviations.default_path(backend.name))


def known_deviations(config) -> list[deviations.Deviation]:
    """The deviations loaded for this run (empty before configure)."""
    return config.stash.get(_DEVIATIONS, [])


def backend_of(config) -> backends.Backend | None:
    """The backend under test (None before configure)."""
    return config.stash.get(_BACKEND, None)


def pytest_report_header(config):
    profile = config.getoption("hypothesis_profile", None) or profiles.DEFAULT
    backend = backend_of(config)
    return [f"nnconform: backend={backend.label if backend else '?'} profile={profile}"]


def _in_suite(item) -> bool:
    return CONFORMANCE_DIR in Path(str(item.path)).parents


def pytest_collection_modifyitems(config, items):
    unregistered = []
    for item in items:
        if not _in_suite(item):
            continue
        marker = item.get_closest_marker("invariant")
        ident = marker.args[0] if marker else None
        if ident not in REGISTRY:
            unregistered.append(f"{item.nodeid} (invariant {ident!r})")
            continue
        item.user_properties.append(("invariant", ident))
        _skip_missing_capabilities(config, item)
    if unregistered:
        raise pytest.UsageError(
            "conformance tests without a registered invariant (add @invariant(id) and an entry in "
            "conformance/catalog/):\n  " + "\n  ".join(unregistered)
        )
    _apply_deviations(config, items)


def _skip_missing_capabilities(config, item):
    backend = config.stash[_BACKEND]
    for marker in item.iter_markers("needs"):
        for capability in marker.args:
            if capability in backend.lacks:
                item.add_marker(pytest.mark.skip(reason=f"backend {backend.name} lacks capability {capability!r} "
                                                        f"({backends.CAPABILITIES[capability]}): {backend.lacks[capability]}"))
                item.user_properties.append(("capability", capability))
                return


def _apply_deviations(config, items):
    files = {item.nodeid.partition("::")[0] for item in items}
    for dev in config.stash[_DEVIATIONS]:
        matched = [item for item in items if dev.matches(item.nodeid)]
        for item in matched:
            item.add_marker(pytest.mark.xfail(reason=f"known deviation: {dev.reason} (evidence: {dev.evidence})", strict=False))
            item.user_properties.append(("deviation", dev.reason))
        # Warn only where the line could have matched: its file was collected, unfiltered.
        selected = any(fnmatch.fnmatchcase(f, dev.pattern.partition("::")[0]) for f in files)
        if not matched and selected and not config.getoption("keyword") and not config.getoption("markexpr"):
            warnings.warn(pytest.PytestWarning(f"deviations line {dev.line} ({dev.pattern!r}) matches no collected test"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A known deviation fails on every run; its evidence file holds the minimal reproducer, so
    skip shrinking it again (the costliest part of an expected failure)."""
    test = getattr(item, "obj", None)
    current = getattr(test, "_hypothesis_internal_use_settings", None)  # set by @given
    if current is None or not any(k == "deviation" for k, _ in item.user_properties):
        return (yield)
    test._hypothesis_internal_use_settings = settings(current, phases=(Phase.explicit, Phase.reuse, Phase.generate))
    try:
        return (yield)
    finally:
        test._hypothesis_internal_use_settings = current


@pytest.fixture(scope="session")
def backend(request):
    return request.config.stash[_BACKEND]


@pytest.fixture(autouse=True)
def _global_state_guard(request):
    """Restore global state after every test, and fail the test that changed it."""
    marker = request.node.get_closest_marker("invariant")
    token = check.current.set(REGISTRY.get(marker.args[0]) if marker else None)
    before = guard.snapshot()
    yield
    check.current.reset(token)
    leaked = guard.leaks(before, guard.snapshot())
    guard.restore(before)
    if leaked:
        pytest.fail(f"test changed global state and did not restore it: {', '.join(leaked)}", pytrace=False)
