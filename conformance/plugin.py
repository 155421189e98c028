"""The suite's pytest plugin: options, profiles, invariant checks, deviations, state guard.

Options: ``--backend NAME`` (a built-in, an entry point of ``nnconform.backends``, or
``package.module:factory``; default ``eager``), ``--device-plugin MODULE`` (imported before
device discovery, echoed in reproducers), ``--deviations FILE`` (default
``conformance/deviations/<backend>.txt``), and Hypothesis's ``--hypothesis-profile`` (default
``ci``; unknown names are a usage error).
"""
from __future__ import annotations

import importlib
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from conformance import backends, check, deviations, guard, harness, profiles
from conformance.registry import REGISTRY
from strategies import graphs

CONFORMANCE_DIR = Path(__file__).parent
_DEVIATIONS = pytest.StashKey[list]()
_BACKEND = pytest.StashKey[backends.Backend]()
_DRAFT = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("nnconform")
    group.addoption("--backend", default="eager",
                    help=f"implementation under test: {', '.join(backends.BUILTIN)}, an entry point of "
                         f"{backends.ENTRY_POINTS!r}, or package.module:factory")
    group.addoption("--device-plugin", action="append", default=[], metavar="MODULE",
                    help="import MODULE before device discovery (an out-of-tree PrivateUse1 device); repeatable")
    group.addoption("--deviations", default=None, help="known-deviations file (default: per backend)")
    group.addoption("--deviations-mode", default="strict", metavar="MODE",
                    help="strict (default): an unexpected pass of a known deviation fails the run; "
                         "lenient: it is reported only; skip: known deviations are not run")
    group.addoption("--smoke", type=int, default=0, metavar="N",
                    help="smoke phase: first every test runs N examples (no shrinking, nothing reported), then "
                         "the run proper starts with the tests that failed there; with -x a failure shows in "
                         "seconds (one process only: not with -n)")
    group.addoption("--soak-nodes", default=None, metavar="N[,M...]",
                    help="graph sizes of the soak profile (default 100,1000)")
    group.addoption("--deviations-draft", default=None, metavar="FILE",
                    help="write a draft deviations file listing this run's failures, for a new backend")


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
    harness.SOAK[0] = _soak_nodes(config) if profile == "soak" else ()
    smoke = config.getoption("smoke")
    if smoke < 0:
        raise pytest.UsageError(f"--smoke {smoke}: give a number of examples >= 1 (0: no smoke phase)")
    if smoke and (config.getoption("numprocesses", None) or getattr(config, "workerinput", None)):
        raise pytest.UsageError("--smoke runs in one process: leave out -n (pytest-xdist reorders tests itself)")
    try:
        backend = backends.load(config.getoption("backend"))
    except backends.BackendError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_BACKEND] = backend
    backend.prepare()
    mode = config.getoption("deviations_mode")
    if mode not in deviations.MODES:
        raise pytest.UsageError(f"unknown --deviations-mode {mode!r}; choose one of {', '.join(deviations.MODES)}")
    draft = config.getoption("deviations_draft")
    if draft is not None and (not draft.strip() or Path(draft).is_dir()):
        raise pytest.UsageError(f"--deviations-draft {draft!r} is not a file path")
    path = config.getoption("deviations")
    if path is not None and not path.strip():
        raise pytest.UsageError("--deviations is empty; give a file, or leave the option out for the backend's own")
    chosen = Path(path) if path else deviations.default_path(backend.name)
    if not path and not chosen.is_file():
        config.stash[_DEVIATIONS] = []  # a third-party backend without a file of its own: no known deviations
    else:
        config.stash[_DEVIATIONS] = deviations.load(chosen, REGISTRY)
    config.stash[_DRAFT] = []


def known_deviations(config) -> list[deviations.Deviation]:
    """The deviations loaded for this run (empty before configure)."""
    return config.stash.get(_DEVIATIONS, [])


def backend_of(config) -> backends.Backend | None:
    """The backend under test (None before configure)."""
    return config.stash.get(_BACKEND, None)


def pytest_report_header(config):
    profile = config.getoption("hypothesis_profile", None) or profiles.DEFAULT
    backend = backend_of(config)
    mode = config.getoption("deviations_mode", "strict")
    found = known_deviations(config)
    files = sorted({str(d.file.relative_to(CONFORMANCE_DIR.parent)) if d.file.is_relative_to(CONFORMANCE_DIR.parent)
                    else str(d.file) for d in found})
    return [f"nnconform: backend={backend.label if backend else '?'} profile={profile}",
            f"nnconform: known deviations: {len(found)} lines from {', '.join(files) or 'no file'} (mode {mode})"]


def _in_suite(item) -> bool:
    return CONFORMANCE_DIR in Path(str(item.path)).parents


def pytest_collection_modifyitems(config, items):
    suite, unregistered = [], []
    for item in items:
        if not _in_suite(item):
            continue
        marker = item.get_closest_marker("invariant")
        ident = marker.args[0] if marker else None
        if ident not in REGISTRY:
            unregistered.append(f"{item.nodeid} (invariant {ident!r})")
            continue
        suite.append((item, ident))
    if unregistered:
        raise pytest.UsageError(
            "conformance tests without a registered invariant (add @invariant(id) and an entry in "
            "conformance/catalog/):\n  " + "\n  ".join(unregistered)
        )
    for item, ident in suite:
        item.user_properties.append(("invariant", ident))
        _skip_missing_capabilities(config, item)
    _apply_deviations(config, items)


def _skip_missing_capabilities(config, item):
    backend = config.stash[_BACKEND]
    if "backend" not in item.fixturenames and backend is not backends.BUILTIN["eager"]:
        # A fixed example without the backend fixture builds eager torch objects itself (fixed
        # examples that can go through a wrapper take the fixture and ``script(..., backend=)``;
        # those left outside test_containers.py say at the test why they cannot: what they check
        # happens while a module is constructed, or there is no module). Under another backend its
        # result would be eager torch's, reported as the backend's.
        item.add_marker(pytest.mark.skip(reason=f"a fixed example of eager torch; it does not go through "
                                                f"backend {backend.name} (run it with --backend eager)"))
        return
    for marker in item.iter_markers("needs"):
        for capability in marker.args:
            if capability in backend.lacks:
                item.add_marker(pytest.mark.skip(reason=f"backend {backend.name} lacks capability {capability!r} "
                                                        f"({backends.CAPABILITIES[capability]}): {backend.lacks[capability]}"))
                item.user_properties.append(("capability", capability))
                return


def _devices(params: dict) -> list[str]:
    found = []
    for key in ("device", "data_device"):
        if key in params:
            found.append(str(params[key]))
    found += [str(d) for d in params.get("device_pair", ())]
    return found


def _whole_suite(config) -> bool:
    """Whether this run collected the whole suite (then a line matching nothing is stale)."""
    if config.getoption("keyword") or config.getoption("markexpr") or config.getoption("deselect", None):
        return False
    args = [Path(a.split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    return any(a == CONFORMANCE_DIR or a in CONFORMANCE_DIR.parents for a in args)


def _apply_deviations(config, items):
    found = config.stash[_DEVIATIONS]
    mode = config.getoption("deviations_mode")
    collected = set()
    for item in items:
        if not _in_suite(item):
            continue
        marker = item.get_closest_marker("invariant")
        ident = marker.args[0] if marker else None
        collected.add(ident)
        params = getattr(getattr(item, "callspec", None), "params", {})
        item.user_properties.append(("params", {k: deviations._show(v) for k, v in params.items()}))
        matching = [d for d in found if d.selects(ident, item.originalname, params, _devices(params))]
        # An unconditional claim covers the test whatever it draws: it wins over one conditional
        # on the drawn graph (which a wrapper's file may inherit from its base).
        dev = next((d for d in matching if not d.when), matching[0] if matching else None)
        if dev is None:
            continue
        if dev.when and mode != "skip":
            # Every conditional line is a claim on its own graphs (a wrapper's and its base's):
            # judged after the call, on the graph of each failure Hypothesis reports.
            for d in matching:
                d.matched.add(item.nodeid)
            item.stash[_CONDITIONAL] = matching
            continue
        dev.matched.add(item.nodeid)
        for d in matching:
            if d is not dev:
                d.shadowed.add(item.nodeid)
        text = f"known deviation ({dev.where}): {dev.reason} (evidence: {dev.evidence})"
        item.stash[_LINE] = dev
        if mode == "skip":
            item.add_marker(pytest.mark.skip(reason=f"{text}; not run under --deviations-mode skip"))
        else:
            item.add_marker(pytest.mark.xfail(reason=text, strict=False))
        item.user_properties.append(("deviation", dev.reason))
        item.user_properties.append(("deviation_line", dev.where))
    whole = _whole_suite(config)
    stale = [dev for dev in found if not dev.matched and not dev.shadowed and (whole or set(dev.invariant.split(",")) & collected)]
    for dev in stale[:STALE_SHOWN]:
        warnings.warn(pytest.PytestWarning(
            f"deviations line {dev.where} ({dev.pattern!r}) matches no collected test: "
            "retire it, or fix its selectors"))
    if len(stale) > STALE_SHOWN:
        rest = stale[STALE_SHOWN:]
        warnings.warn(pytest.PytestWarning(
            f"{len(rest)} more deviations lines match no collected test (lines "
            f"{', '.join(str(d.line) for d in rest[:STALE_SHOWN])}{', ...' if len(rest) > STALE_SHOWN else ''})"))


STALE_SHOWN = 10  # warnings for stale deviations lines, one each; the rest are summed up in one


_LINE = pytest.StashKey["deviations.Deviation"]()
_CONDITIONAL = pytest.StashKey["list[deviations.Deviation]"]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Strict mode: a known deviation that passes is a false claim; fail it, naming the line and
    what its evidence script says on this torch."""
    report = yield
    conditional = item.stash.get(_CONDITIONAL, None)
    if conditional is not None and report.when == "call" and report.failed:
        _judge_conditional(item, report, conditional)
        return report
    dev = item.stash.get(_LINE, None)
    if (dev is not None and report.when == "call" and report.passed and hasattr(report, "wasxfail")
            and item.config.getoption("deviations_mode") == "strict"):
        verdict = deviations.evidence_verdict(str(dev.evidence_path))
        del report.wasxfail
        report.outcome = "failed"
        report.longrepr = (f"unexpected pass of a known deviation: {dev.where} claims {dev.pattern!r} fails "
                           f"({dev.reason}), but this test passed; {verdict}. "
                           f"(evidence: {dev.evidence}; --deviations-mode lenient reports this without failing)")
        report.user_properties.append(("unexpected_pass", verdict))
    return report


def _judge_conditional(item, report, devs) -> None:
    """A failure under lines conditional on the drawn graph (``when=``/``root=``/``has=``):
    expected when the graph of every failure Hypothesis reports (drawn last in each final replay)
    is one some line covers, else a failure naming the lines."""
    drawn = list(harness.FINAL.values()) or [harness.DRAWN[0]]  # every failure Hypothesis reports, else the last draw
    covering = [next((d for d in devs if d.holds_for(bp)), None) for bp in drawn]
    if all(covering):
        dev = covering[0]
        report.outcome = "skipped"
        report.wasxfail = (f"known deviation ({dev.where}), on a graph where {dev.when}: "
                           f"{dev.reason} (evidence: {dev.evidence})")
        report.user_properties.append(("deviation", dev.reason))
        report.user_properties.append(("deviation_line", dev.where))
    else:
        others = sum(d is None for d in covering)
        which = (f"{others} of the {len(drawn)} failures Hypothesis reports are on other graphs" if len(drawn) > 1
                 else "this failing graph is not one")
        lines = "; ".join(f"{d.where} covers only graphs where {d.when}" for d in devs)
        report.sections.append(("nnconform", f"the known deviation at {lines}; {which}"))


def pytest_runtest_logreport(report):
    """Collect failures for ``--deviations-draft`` (on the controller under xdist)."""
    if report.failed and report.when == "call":
        props = dict(report.user_properties)
        if props.get("invariant") and "deviation" not in props:
            name = report.nodeid.split("::")[-1].split("[")[0]
            _draft_rows.append((props["invariant"], name, props.get("params", {})))


_draft_rows: list = []


def pytest_sessionfinish(session):
    config = session.config
    target = config.getoption("deviations_draft", None)
    if target and not hasattr(config, "workerinput"):
        backend = backend_of(config)
        try:
            Path(target).write_text(deviations.draft(_draft_rows, backend.name if backend else "?"))
        except OSError as exc:
            warnings.warn(pytest.PytestWarning(f"--deviations-draft: cannot write {target}: {exc}"))
        else:
            config.get_terminal_writer().line(f"nnconform: draft deviations ({len(_draft_rows)} failures) -> {target}")


def _soak_nodes(config) -> tuple[int, ...]:
    given = config.getoption("soak_nodes")
    if given is None:
        return profiles.SOAK_NODES
    try:
        sizes = tuple(int(n) for n in given.split(","))
    except ValueError:
        sizes = ()
    if not sizes or not all(1 <= n <= graphs.MAX_NODES for n in sizes):
        raise pytest.UsageError(f"--soak-nodes {given!r}: give node counts from 1 to {graphs.MAX_NODES}, comma-separated")
    return sizes


def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere): Note [memory between tests]."""
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = {"fn": _malloc_trim(), "tests": 0}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Note [memory between tests]
    ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    torch frees a test's tensors, but glibc keeps the freed pages in its heaps: over a soak run
    (graphs of 1,000 nodes) the resident memory grew from 311 to 514 MiB while Python's own
    allocations (tracemalloc) stayed flat. Handing the free pages back after every soak test, and
    after every 20th test otherwise, keeps it flat (``make bench``, section memory)."""
    _TRIM["tests"] += 1
    if _TRIM["fn"] is not None and (harness.SOAK[0] or _TRIM["tests"] % 20 == 0):
        _TRIM["fn"](0)


def pytest_runtestloop(session):
    """The smoke phase (``--smoke N``): Note [smoke phase]."""
    n = session.config.getoption("smoke")
    if not n or session.config.option.collectonly or session.testsfailed:
        return None  # pytest's own loop runs
    smoke_phase(session, n)
    return None


def smoke_phase(session, n: int) -> None:
    """Note [smoke phase]
    ~~~~~~~~~~~~~~~~~~~~~
    A failure that the ``ci`` profile finds in a test's 25 examples is usually there in its
    first few too, but pytest reaches the test only after every test before it has run all of
    theirs. With ``--smoke N`` every test first runs N examples, unshrunk and unreported
    (``runtestprotocol(log=False)``: fixtures, the global-state guard and the deviation judging
    run as always); the tests that failed there then run first in the run proper, which reports
    them in full (shrunk, with their reproducer). So ``-x --smoke 5`` stops at the first failure
    after one cheap pass, wherever its test is. A known deviation that happens to pass its smoke
    examples is not a failure there (strict mode judges the full run)."""
    from _pytest.runner import runtestprotocol

    items, failing = session.items, []
    writer = session.config.get_terminal_writer()
    start = time.monotonic()
    writer.line(f"nnconform: smoke phase, {n} examples per test, {len(items)} tests")
    for index, item in enumerate(items):
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is not None:
            test._hypothesis_internal_use_settings = settings(
                current, max_examples=n, phases=(Phase.explicit, Phase.generate))
        try:
            reports = runtestprotocol(item, nextitem=items[index + 1] if index + 1 < len(items) else None, log=False)
        finally:
            if current is not None:
                test._hypothesis_internal_use_settings = current
        if any(r.failed for r in reports):
            failing.append(item)
            if session.config.getoption("maxfail") == 1:
                session._setupstate.teardown_exact(None)  # the run proper sets up from scratch
                break
    writer.line(f"nnconform: smoke phase done in {time.monotonic() - start:.1f} s: "
                f"{len(failing)} test(s) failed{' and run first' if failing else ''}")
    if failing:
        first = set(map(id, failing))
        session.items[:] = failing + [item for item in items if id(item) not in first]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A known deviation fails on every run; its evidence file holds the minimal reproducer, so
    skip shrinking it again (the costliest part of an expected failure)."""
    harness.DRAWN[0] = None
    harness.FINAL.clear()
    test = getattr(item, "obj", None)
    current = getattr(test, "_hypothesis_internal_use_settings", None)  # set by @given
    if current is None or _LINE not in item.stash:
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
