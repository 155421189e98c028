"""The report plugin: one row per test, gathered on the controller, written as JSON/Markdown/HTML.

Where things happen (see ``reports/schema.md`` for the output):

* every process that runs tests (the single process, or each xdist worker) counts Hypothesis
  examples and reads a ``ConformanceError`` apart, and attaches both to the phase report;
* only the controller (the single process, or xdist's controller) keeps rows: phase reports
  reach it through ``pytest_runtest_logreport`` with their ``user_properties``, so ``-n 2``
  yields the same rows as one process. A worker that dies mid-test reaches it as xdist's crash
  report, which becomes an ``error`` row;
* the controller checkpoints the report while the run goes on (the first checkpoint writes all
  three files, marked "run in progress", so that a run killed with SIGKILL leaves no earlier run's
  green ``report.md``/``.html`` behind; later ones only ``report.json``), writes all files at the
  end, and turns SIGINT and SIGTERM into a stop request (Note [stop requests]).

A report is written when the run holds conformance tests (rows with an invariant) or when
``--report-dir`` is given; running only the project's own tests leaves ``reports/out`` alone.
A ``--report-dir`` that cannot be written (or ``--report-dir ""``) is a usage error before any
test runs; so is an unwritable default folder once conformance tests are collected in one
process (under xdist the controller sees no items: there it is reported like any write failure).
A write that fails later (a checkpoint, the final files, ``GITHUB_STEP_SUMMARY``) is reported on
the terminal and never aborts the run or changes its exit status.

Note [stop requests]
~~~~~~~~~~~~~~~~~~~~
The handler records the signal, asks pytest to stop after the current test
(``session.shouldstop``, and xdist's controller's own ``shouldstop``), and raises
``KeyboardInterrupt`` to interrupt the current test at once. Python runs signal handlers between
bytecodes of whatever runs at the time: inside a garbage-collection callback (Hypothesis keeps
one) or a ``__del__`` the ``KeyboardInterrupt`` is swallowed, so the stop request alone must end
the run: pytest then raises ``Interrupted`` at the next test, exit status 2. A later signal raises
again until the run is ending (pytest handles the interrupt, or the report is being written),
when it is ignored so the report is still written.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reports import output, render, rows, runinfo, schema

DEFAULT_DIR = Path("reports") / "out"
CHECKPOINT_SECONDS = 5.0  # writing report.json once a second cost 4% of a ci run
_EXAMPLES = pytest.StashKey[int]()


def pytest_addoption(parser):
    group = parser.getgroup("nnconform reports")
    group.addoption("--report-dir", default=None, metavar="DIR",
                    help="where report.json/.md/.html go (default: reports/out under the rootdir); "
                         "giving it also writes a report for runs without conformance tests")


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # xdist workers only run tests; rows live on the controller
        config.pluginmanager.register(Controller(config), "nnconform-reports")


# --- every process that runs tests -------------------------------------------------------------

@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item):
    """Count Hypothesis examples; trylast nests us inside Hypothesis's own statistics wrapper."""
    try:
        from hypothesis.statistics import collector
    except ImportError:
        return (yield)
    outer, counted = collector.value, []

    def note(stats):
        counted.append(rows.examples_run(stats))
        if outer is not None:
            outer(stats)

    try:
        with collector.with_value(note):
            return (yield)
    finally:
        if counted:
            item.stash[_EXAMPLES] = sum(counted)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    extra = {}
    if call.when == "call" and _EXAMPLES in item.stash:
        extra["examples"] = item.stash[_EXAMPLES]
    if call.excinfo is not None:
        details = rows.conformance_details(call.excinfo.value)
        if details:
            extra["conformance"] = details
    if extra:
        report.nnconform = extra  # a plain attribute: xdist serialises it with the report
    return report


# --- the controller ----------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Controller:
    def __init__(self, config):
        self.config = config
        self.folder_problem = self._check_folder()  # raises UsageError for an unusable --report-dir
        self.folder_problem_raised = False
        self.phases: dict[str, dict] = {}
        self.done: dict[str, dict] = {}
        self.collected: int | None = None
        self.collect_errors: set[str] = set()
        self.conformance_seen = False
        self.signal_name: str | None = None
        self.start, self.clock = _now(), time.monotonic()
        self.last_checkpoint = 0.0
        self.info: dict | None = None
        self.written: list[Path] = []
        self.doc: dict | None = None
        self.old_handlers: dict = {}
        self.drift: dict | None = None  # doc drift, checked once per run
        self.session = None
        self.unwinding = False  # the run is ending: a signal no longer raises
        self.attempts = 0  # checkpoints tried
        self.checkpoint_rows = 0  # rows in the last checkpoint tried
        self.checkpointed = False  # a checkpoint has replaced the last run's .md/.html
        self.failures: list[str] = []  # write failures already reported
        self.not_written: str | None = None  # why the final report files are missing
        self.summary_problem: str | None = None
        self._install_signal_handlers()

    def _check_folder(self) -> str | None:
        given = self.config.getoption("report_dir")
        if self.config.getoption("collectonly"):
            return None  # nothing will be written
        if given is not None and not given.strip():
            raise pytest.UsageError(f"--report-dir {given!r}: empty folder name; leave it out for {DEFAULT_DIR}")
        problem = output.folder_problem(self.folder, create=given is not None)
        if problem and given is not None:
            raise pytest.UsageError(f"--report-dir {given!r}: cannot write report files there: {problem}")
        return problem

    # signals ----------------------------------------------------------------------------------
    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return
        # Take over only signals left at Python's defaults (an ignored SIGINT stays ignored).
        for sig, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
            if signal.getsignal(sig) is default:
                self.old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        """See Note [stop requests]."""
        name = signal.Signals(signum).name
        self.signal_name = self.signal_name or name
        self._request_stop()
        if not self.unwinding:
            raise KeyboardInterrupt(f"received {name}")

    def _request_stop(self):
        reason = f"interrupted by {self.signal_name}"
        if self.session is not None and not self.session.shouldstop:
            self.session.shouldstop = reason
        dsession = self.config.pluginmanager.get_plugin("dsession")  # xdist's controller
        if dsession is not None and not getattr(dsession, "shouldstop", True):
            dsession.shouldstop = reason

    def pytest_sessionstart(self, session):
        self.session = session
        if self.signal_name:  # a signal during configuration whose KeyboardInterrupt was swallowed
            self._request_stop()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item):
        """In one process: a stop request made before the first test (or lost in between) stops here."""
        if self.signal_name:
            raise item.session.Interrupted(f"interrupted by {self.signal_name}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo):
        self.unwinding = True

    def pytest_unconfigure(self, config):
        for sig, handler in self.old_handlers.items():
            signal.signal(sig, handler)

    # gathering --------------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        given = self.config.getoption("report_dir")
        return Path(given) if given else self.config.rootpath / DEFAULT_DIR

    @property
    def enabled(self) -> bool:
        if self.config.getoption("collectonly"):
            return False  # nothing ran: keep the last run's report
        return self.config.getoption("report_dir") is not None or self.conformance_seen

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        self.collected = len(session.items)
        self.conformance_seen = any(
            key == "invariant" for item in session.items for key, _ in item.user_properties)
        if self.enabled and self.folder_problem:
            self.folder_problem_raised = True
            raise pytest.UsageError(f"the report folder {self.folder} cannot be written: {self.folder_problem}; "
                                    f"give --report-dir DIR")
        self._checkpoint()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.collected = max(self.collected or 0, len(ids))
        self._checkpoint()

    def pytest_collectreport(self, report):
        if report.failed:  # a module that does not import is an error row, not a silent gap
            self.collect_errors.add(report.nodeid or "<collection>")
            self.phases[report.nodeid or "<collection>"] = {"setup": report}
            self._finish(report.nodeid or "<collection>")

    def pytest_runtest_logreport(self, report):
        if self.signal_name:  # re-assert a stop request made before xdist's loop began (it resets its flag)
            self._request_stop()
        self.phases.setdefault(report.nodeid, {})[report.when] = report
        if rows.finished(self.phases[report.nodeid]):
            self._finish(report.nodeid)

    def _finish(self, nodeid):
        row = self.done[nodeid] = rows.make_row(
            nodeid, self.phases.pop(nodeid), backend=self._backend(), registry=_registry(),
            deviation_of=self._deviation_of)
        self.conformance_seen |= row["invariant"] is not None  # under xdist, rows tell
        self._checkpoint()

    def _checkpoint(self):
        """report.json marked "run in progress" (at most every CHECKPOINT_SECONDS); the first also .md/.html.

        Best effort: a failure is reported once per distinct message and the run goes on."""
        if not self.enabled or self.folder_problem_raised:
            return
        first_row = self.done and not self.checkpoint_rows  # the first row is always written at once
        if self.attempts and not first_row and time.monotonic() - self.last_checkpoint <= CHECKPOINT_SECONDS:
            return
        self.attempts += 1
        self.checkpoint_rows = len(self.done)
        self.last_checkpoint = time.monotonic()
        try:
            doc = self._document(complete=False, reason="run in progress", exitstatus=None)
            if self.checkpointed:
                output.write_json(doc, self.folder)
            else:
                output.write_all(doc, self.folder)  # replaces the last run's .md/.html
                self.checkpointed = True
        except Exception as exc:  # noqa: BLE001 - a checkpoint never aborts the run
            self._report_failure("checkpoint", exc)

    def _report_failure(self, what: str, exc: Exception) -> None:
        message = (f"nnconform report: cannot write to {self.folder} ({what}): "
                   f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}")
        if message in self.failures:
            return
        self.failures.append(message)
        self._say(message + ("" if what == "final report" else "; the run goes on"))

    def _say(self, line: str) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            if getattr(getattr(terminal, "_tw", None), "width_of_current_line", 0):
                terminal.write("\n")  # after xdist's progress, which leaves the line open
            terminal.write_line(line, yellow=True)
        else:
            print(line, file=sys.stderr)

    def _backend(self) -> str:
        """The backend's name (not the option's spelling: a dotted path names its backend)."""
        plugin = sys.modules.get("conformance.plugin")
        backend = plugin.backend_of(self.config) if plugin else None
        return backend.name if backend else str(self.config.getoption("backend", None) or "unknown")

    def _backend_label(self) -> str | None:
        """What is under test, with its version (``paddle paddlepaddle 3.3.1``, ``eager torch 2.13.0``)."""
        plugin = sys.modules.get("conformance.plugin")
        backend = plugin.backend_of(self.config) if plugin else None
        return backend.label if backend else None

    def _deviation_of(self, nodeid: str, reason: str, where: str | None = None) -> dict:
        """The deviations line that marked ``nodeid``: by its location (the ``deviation_line``
        property), else by the node id where this process collected it, else by its reason (under
        xdist the controller collects nothing)."""
        plugin = sys.modules.get("conformance.plugin")
        found = plugin.known_deviations(self.config) if plugin else []
        match = (next((d for d in found if where is not None and d.where == where), None)
                 or next((d for d in found if d.matches(nodeid)), None)
                 or next((d for d in found if d.reason == reason), None))
        return {"pattern": match.pattern if match else None, "reason": reason,
                "evidence": match.evidence if match else None,
                "where": _relative_where(match.file, match.line) if match else where,
                "design": bool(match and match.design)}

    # the document -----------------------------------------------------------------------------
    def _document(self, *, complete: bool, reason: str | None, exitstatus) -> dict:
        if self.info is None:
            self.info = runinfo.collect(self.config)
        done = [self.done[k] for k in sorted(self.done)]
        devices = sorted({d for row in done for d in row["devices"]})
        registry = _registry()
        used = sorted({row["invariant"] for row in done if row["invariant"] in registry})
        version = self.info["torch"]["version"] or ""
        return {
            "schema": schema.SCHEMA,
            "schema_version": schema.VERSION,
            "run": {
                "complete": complete,
                "incomplete_reason": reason,
                "exit_status": exitstatus,
                "backend": self._backend(),
                "backend_label": self._backend_label(),
                "devices": devices,
                "start": self.start,
                "end": _now(),
                "duration": round(time.monotonic() - self.clock, 3),
                "tests_collected": self.collected,
                "tests_finished": len(done),
                "unfinished": sorted(self.phases),
                **self.info,
                "options": {**self.info["options"],
                            "deviations_mode": self.config.getoption("deviations_mode", None)},
            },
            "summary": {o: sum(r["outcome"] == o for r in done) for o in schema.OUTCOMES},
            "invariants": {
                i: {"tier": registry[i].tier, "area": registry[i].area, "doc": registry[i].doc,
                    "ref": registry[i].ref, "url": registry[i].url(version)} for i in used},
            "rows": done,
            "doc_drift": self._doc_drift(),
            "api_coverage": self._api_coverage() if exitstatus is not None else None,
        }

    def _api_coverage(self) -> dict | None:
        """``conformance.apicalls.summary``: the API inventory's coverage by this run's steps (null
        when that plugin is not loaded; ``{"error": ...}`` if it raises)."""
        calls = sys.modules.get("conformance.apicalls")
        if calls is None:
            return None
        try:
            return calls.summary(self.config)
        except Exception as exc:  # noqa: BLE001 - a broken summary never costs the report
            return {"error": repr(exc)}

    def _doc_drift(self) -> dict | None:
        """``conformance.docdrift.check()`` once per run; null when the conformance plugin is not
        loaded (the report plugin alone never imports torch); ``{"error": ...}`` if the check raises."""
        if self.drift is None and sys.modules.get("conformance.plugin") is not None:
            try:
                from conformance import docdrift

                self.drift = docdrift.check()
            except Exception as exc:  # noqa: BLE001 - a broken check never costs the report
                self.drift = {"error": repr(exc)}
        return self.drift

    def _incomplete_reason(self, session, exitstatus) -> str | None:
        if self.signal_name:
            return f"interrupted by {self.signal_name}"
        if self.collect_errors:
            return f"{len(self.collect_errors)} error(s) during collection"
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return f"interrupted: {session.shouldstop or session.shouldfail or 'KeyboardInterrupt'}"
        if exitstatus in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
            return f"pytest exited with {pytest.ExitCode(exitstatus).name}"
        if session.shouldstop or session.shouldfail:
            return f"stopped early: {session.shouldstop or session.shouldfail}"
        if self.phases:
            return f"{len(self.phases)} test(s) started but did not finish"
        if self.collected is not None and len(self.done) < self.collected:
            return f"{len(self.done)} of {self.collected} collected tests finished"
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self.unwinding = True  # a signal from now on must not cut the report short
        if not self.enabled or self.folder_problem_raised:
            return
        reason = self._incomplete_reason(session, exitstatus)
        self.doc = self._document(complete=reason is None, reason=reason, exitstatus=int(exitstatus))
        try:
            self.written = output.write_all(self.doc, self.folder)
        except Exception as exc:  # noqa: BLE001 - reported; the exit status stays the tests' verdict
            self.written = []
            self.not_written = f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"
            self._report_failure("final report", exc)
        self.summary_problem = output.append_step_summary(render.markdown(self.doc))

    def pytest_terminal_summary(self, terminalreporter):
        if self.doc is None:
            return
        terminalreporter.write_sep("=", "nnconform conformance summary")
        for line in render.terminal_lines(self.doc):
            terminalreporter.write_line(line)
        if self.written:
            terminalreporter.write_line(f"reports: {', '.join(str(p) for p in self.written)}")
        else:
            terminalreporter.write_line(f"nnconform report NOT written to {self.folder}: {self.not_written}", red=True)
        if self.summary_problem:
            terminalreporter.write_line(f"warning: nnconform report: {self.summary_problem}", yellow=True)


def _relative_where(file, line: int) -> str:
    """``file:line``, the file relative to the repository root when it lies inside it."""
    path = Path(file).resolve()
    try:
        path = path.relative_to(runinfo.SUITE_ROOT)
    except ValueError:
        pass
    return f"{path.as_posix()}:{line}"


def _registry() -> dict:
    from conformance.registry import REGISTRY

    return REGISTRY
