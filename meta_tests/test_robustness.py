"""Bad input and faults, tried as a careless or hostile user would (issue 12).

Each test reproduces one defect and asserts what the user gets: the exit code and the message.
Runs use pytest in a subprocess on small synthetic suites written into ``tmp_path`` (with
``-p conformance.devices`` or ``-p reports.plugin`` loaded as a user would), so they depend on
neither torch's speed nor the state of the conformance suite itself.

What a usage error looks like: exit status 4 (pytest's ``USAGE_ERROR``), one ``ERROR:`` line
that names the bad value, no traceback.
"""
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports import compare, render, rows, schema

ROOT = Path(__file__).resolve().parent.parent
SUITE = Path(__file__).parent / "report_fixtures" / "suite"
PLANTED = Path(__file__).parent / "report_fixtures" / "planted.json"
DROPPED_ENV = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS", "NNCONFORM_BREAK", "GITHUB_STEP_SUMMARY")


def environ(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**env, **extra}


def pytest_command(*args) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]


def run_pytest(cwd, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(pytest_command(*args), cwd=cwd, env=environ(**(env or {})), capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_usage_error(result, *names):
    """rc 4, exactly one ``ERROR:`` line naming every one of ``names``, no traceback."""
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, text[-3000:]
    assert "Traceback" not in text and "INTERNALERROR" not in text, text[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("ERROR: "), result.stderr
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def fresh_suite(tmp_path) -> Path:
    return Path(shutil.copytree(SUITE, tmp_path / "suite"))


def read_report(folder: Path) -> dict:
    return schema.validate(json.loads((folder / "report.json").read_text()))


# --- 1, 5, 7: --device ------------------------------------------------------------------------

DEVICE_TESTS = '''
def test_pair(device_pair):
    assert isinstance(device_pair, tuple)

def test_target(device):
    assert isinstance(device, str)

def test_data(data_device):
    assert isinstance(data_device, str)
'''


@pytest.fixture
def device_suite(tmp_path):
    (tmp_path / "test_dev.py").write_text(DEVICE_TESTS)
    return tmp_path


def run_devices(folder, value, *args):
    return run_pytest(folder, "-p", "conformance.devices", "-rs", f"--device={value}", *args, timeout=300)


@pytest.mark.parametrize("value", ["cpu", " cpu , meta "])
def test_device_list_without_a_pair_skips_the_pair_tests_with_a_reason(device_suite, value):
    """Defect 1: ``--device cpu`` gave INTERNALERROR (TypeError: can only join an iterable)."""
    result = run_devices(device_suite, value)
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.OK, text[-3000:]
    assert "INTERNALERROR" not in text and "Traceback" not in text, text[-3000:]
    assert f"no device pair to move between: --device {value!r} names no accelerator" in text, text[-3000:]
    assert "got empty parameter set" not in text, text[-3000:]
    assert ("1 passed, 2 skipped" if value == "cpu" else "2 passed, 1 skipped") in text, text[-3000:]


@pytest.mark.parametrize("value, expected", [
    ("cpu", {"device": "no move target", "device_pair": "no device pair to move between"}),
    ("meta", {"data_device": "no device that holds data", "device_pair": "no device pair to move between"}),
    ("cpu,meta", {"device_pair": "no device pair to move between"}),
])
def test_each_empty_device_parameter_is_one_skip_that_says_why(value, expected):
    from conformance import devices

    class Metafunc:
        fixturenames = ("device", "data_device", "device_pair")
        config = type("Config", (), {"getoption": staticmethod(lambda name: value),
                                     "stash": {devices._SELECTED: [(n, None) for n in devices.parse(value)]}})()
        params: dict = {}

        def parametrize(self, name, params):
            self.params[name] = params

    metafunc = Metafunc()
    devices.pytest_generate_tests(metafunc)
    skipped = {name: params[0].marks[0].kwargs["reason"] for name, params in metafunc.params.items()
               if len(params) == 1 and params[0].marks}
    assert {name: reason.partition(":")[0] for name, reason in skipped.items()} == expected


@pytest.mark.parametrize("value", ["", ",", " , ", "cpu,,meta", "cpu,"])
def test_device_list_with_an_empty_name_is_a_usage_error(value):
    """Defects 1 and 7: ``,`` crashed; ``""`` silently meant every device."""
    from conformance import devices

    with pytest.raises(pytest.UsageError, match="empty device name") as info:
        devices.parse(value)
    assert str(info.value).startswith(f"--device {value!r}: ")


@pytest.mark.parametrize("value", ["", ","])
def test_device_usage_error_is_one_line(device_suite, value):
    assert_usage_error(run_devices(device_suite, value, "--co"), f"--device {value!r}", "empty")


@pytest.mark.parametrize("value", ["privateuseone", "cuda:", "cpu:0", "nnsim:1", "cuda:x", "mps:2"])
def test_odd_device_names_are_absent_with_a_reason(value, monkeypatch):
    """Defect 5: ``absent_reason("privateuseone")`` raised AttributeError."""
    import torch

    from conformance import devices

    monkeypatch.setattr(torch._C, "_get_privateuse1_backend_name", lambda: "privateuseone")  # as before nnsim

    reason = devices.absent_reason(value)
    assert isinstance(reason, str) and value in reason, reason


def test_privateuseone_is_a_usage_error(device_suite):
    """Defect 5: ``--device privateuseone`` crashed with AttributeError."""
    assert_usage_error(run_devices(device_suite, "privateuseone", "--co"), "privateuseone", "no PrivateUse1 backend")


# --- 2, 7: the report folder ------------------------------------------------------------------

def run_reports(suite, *args, env=None, timeout=120):
    return run_pytest(suite, "-p", "reports.plugin", *args, env=env, timeout=timeout)


@pytest.mark.parametrize("kind", ["existing file", "/dev/null", "below a file", "empty"])
def test_unwritable_report_dir_is_a_usage_error_before_any_test(tmp_path, kind):
    """Defect 2: an unwritable ``--report-dir`` aborted the run after its first test, with a traceback."""
    suite = fresh_suite(tmp_path)
    (tmp_path / "a file").write_text("not a folder")
    folder = {"existing file": str(tmp_path / "a file"), "/dev/null": os.devnull,
              "below a file": str(tmp_path / "a file" / "out"), "empty": ""}[kind]
    result = run_reports(suite, "test_basic.py", "--report-dir", folder)
    assert_usage_error(result, f"--report-dir {folder!r}")
    assert "test_basic.py" not in result.stdout  # no test ran
    assert (tmp_path / "a file").read_text() == "not a folder"


def test_unwritable_default_report_dir_is_a_usage_error(tmp_path):
    """Defect 2: a checkout where ``reports/out`` cannot be written (here ``reports`` is a file)."""
    suite = fresh_suite(tmp_path)
    (suite / "reports").write_text("in the way")
    assert_usage_error(run_reports(suite, "test_basic.py"), str(suite / "reports" / "out"), "--report-dir")
    plain = run_reports(suite, "test_plain.py")  # no conformance tests: no report, so no error
    assert plain.returncode == pytest.ExitCode.OK, plain.stdout[-3000:]


def test_read_only_folders_are_named_as_unwritable(tmp_path, monkeypatch):
    """A read-only folder (or checkout) cannot be made as root here, so the OS's answer is stood in for."""
    import tempfile

    from reports import output

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert output.folder_problem(tmp_path, create=True) == "PermissionError: Permission denied"
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert output.folder_problem(tmp_path / "reports" / "out", create=False) == f"{tmp_path} is not writable"


BREAKS_THE_FOLDER = '''
import os, shutil, time
import pytest

OUT = os.environ["NNC_OUT"]

@pytest.mark.invariant("traversal.modules.dedup")
def test_first():
    pass

@pytest.mark.invariant("sd.order")
def test_replaces_the_report_folder_with_a_file():
    time.sleep(1.2)  # past the checkpoint interval
    shutil.rmtree(OUT)
    with open(OUT, "w") as f:
        f.write("in the way")

@pytest.mark.invariant("sd.order")
@pytest.mark.parametrize("n", range(3))
def test_after(n):
    time.sleep(0.5)
'''


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one process", "xdist"])
def test_later_write_failures_are_reported_and_the_run_goes_on(tmp_path, workers):
    """Defect 2: a checkpoint that cannot be written no longer aborts the run."""
    suite = fresh_suite(tmp_path)
    (suite / "test_breaks_folder.py").write_text(BREAKS_THE_FOLDER)
    out = suite / "out"
    result = run_reports(suite, "test_breaks_folder.py", "--report-dir", str(out), *workers,
                         env={"NNC_OUT": str(out)})
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.OK, text[-3000:]
    assert "5 passed" in text and "Traceback" not in text and "INTERNALERROR" not in text, text[-3000:]
    assert f"nnconform report: cannot write to {out}" in text, text[-3000:]
    assert "report NOT written" in text, text[-3000:]
    assert out.read_text() == "in the way"


def test_unwritable_step_summary_is_a_warning(tmp_path):
    """Defect 2: an unwritable ``GITHUB_STEP_SUMMARY`` turned a green run into rc 1 with a traceback."""
    suite = fresh_suite(tmp_path)
    summary = tmp_path / "no such folder" / "summary.md"
    result = run_reports(suite, "test_interrupt.py::test_finishes", "--report-dir", str(suite / "out"),
                         env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.OK, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert f"cannot append to GITHUB_STEP_SUMMARY {str(summary)!r}" in text, text[-3000:]
    assert read_report(suite / "out")["run"]["complete"] is True
    assert (suite / "out" / "report.html").is_file()


def test_kill_9_leaves_no_stale_markdown_or_html(tmp_path):
    """Defect 4: after ``kill -9``, report.md/.html still showed the previous run, green and complete."""
    suite = fresh_suite(tmp_path)
    out = suite / "out"
    first = run_reports(suite, "test_interrupt.py::test_finishes", "--report-dir", str(out))
    assert first.returncode == 0 and "(complete)" in first.stdout, first.stdout[-3000:]
    assert "INCOMPLETE" not in (out / "report.md").read_text()
    started = suite / "started"
    proc = subprocess.Popen(pytest_command("-p", "reports.plugin", "test_interrupt.py", "--report-dir", str(out)),
                            cwd=suite, env=environ(NNC_STARTED=str(started)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not started.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_report(out)["run"]["incomplete_reason"] == "run in progress"
    for name in ("report.md", "report.html"):
        path = out / name
        assert not path.exists() or "INCOMPLETE: run in progress" in path.read_text(), name


# --- 3: stop requests -------------------------------------------------------------------------

SIGNAL_IN_GC = '''
import gc, os, signal, time
import pytest

SIG = getattr(signal, os.environ["NNC_SIGNAL"])


def raise_signal_during_gc():
    """The signal's Python handler runs inside a gc callback, where an exception is swallowed."""
    def callback(phase, info):
        if phase == "start":
            gc.callbacks.remove(callback)
            signal.raise_signal(SIG)
            for _ in range(100):
                pass
    gc.callbacks.append(callback)
    gc.collect()


class Finalised:
    def __del__(self):
        signal.raise_signal(SIG)
        for _ in range(100):
            pass


@pytest.mark.invariant("traversal.modules.dedup")
def test_signal_arrives():
    if os.environ["NNC_WHERE"] == "gc callback":
        raise_signal_during_gc()
    elif os.environ["NNC_WHERE"] == "__del__":
        Finalised()  # collected at once: __del__ runs, its exception is swallowed
    else:  # code under test that catches everything (Hypothesis once turned it into a failure)
        try:
            signal.raise_signal(SIG)
            time.sleep(1)
        except BaseException:
            pass
    if os.environ.get("NNC_STARTED"):  # wait for a second signal
        with open(os.environ["NNC_STARTED"], "w") as f:
            f.write("started")
        time.sleep(60)


@pytest.mark.invariant("sd.order")
@pytest.mark.parametrize("n", range(5))
def test_must_not_run(n):
    pass
'''


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("where", ["gc callback", "__del__", "caught by the test"])
def test_a_signal_swallowed_by_the_garbage_collector_still_stops_the_run(tmp_path, sig, where):
    """Defect 3: the report said "interrupted", yet every test then ran and the exit code was 0."""
    suite = fresh_suite(tmp_path)
    (suite / "test_signal_in_gc.py").write_text(SIGNAL_IN_GC)
    result = run_reports(suite, "test_signal_in_gc.py", "--report-dir", str(suite / "out"),
                         env={"NNC_SIGNAL": sig, "NNC_WHERE": where})
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, text[-3000:]
    doc = read_report(suite / "out")
    assert doc["run"]["incomplete_reason"] == f"interrupted by {sig}"
    assert not [r["test"] for r in doc["rows"] if "must_not_run" in r["test"]], text[-3000:]


def test_a_second_sigterm_is_honoured_when_the_first_was_swallowed(tmp_path):
    """Defect 3: a second SIGTERM was ignored: the test went on sleeping."""
    suite = fresh_suite(tmp_path)
    (suite / "test_signal_in_gc.py").write_text(SIGNAL_IN_GC)
    started = suite / "started"
    proc = subprocess.Popen(
        pytest_command("-p", "reports.plugin", "test_signal_in_gc.py", "--report-dir", str(suite / "out")),
        cwd=suite, env=environ(NNC_SIGNAL="SIGTERM", NNC_WHERE="gc callback", NNC_STARTED=str(started)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not started.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 20, out[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert read_report(suite / "out")["run"]["incomplete_reason"] == "interrupted by SIGTERM"


CONTROLLER_GC = '''
import gc, signal

_done = []


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # only xdist's controller raises the signal
        _done.append("worker")


def pytest_runtest_logreport(report):
    """On the controller: the first finished test triggers a SIGTERM inside a gc callback."""
    if _done or report.when != "teardown":
        return
    _done.append(1)

    def callback(phase, info):
        if phase == "start":
            gc.callbacks.remove(callback)
            signal.raise_signal(signal.SIGTERM)
            for _ in range(100):
                pass
    gc.callbacks.append(callback)
    gc.collect()
'''

SLOW_TESTS = '''
import time
import pytest


@pytest.mark.invariant("sd.order")
@pytest.mark.parametrize("n", range(12))
def test_slow(n):
    time.sleep(0.5)
'''


def test_a_swallowed_signal_stops_an_xdist_run(tmp_path):
    """Defect 3 under ``-n 2``: the controller's handler runs inside a gc callback."""
    suite = fresh_suite(tmp_path)
    (suite / "controller_gc.py").write_text(CONTROLLER_GC)
    (suite / "test_slow.py").write_text(SLOW_TESTS)
    result = run_reports(suite, "-p", "controller_gc", "test_slow.py", "-n", "2", "--report-dir", str(suite / "out"),
                         env={"PYTHONPATH": os.pathsep.join([str(suite), str(ROOT)])})
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, text[-3000:]
    doc = read_report(suite / "out")
    assert doc["run"]["incomplete_reason"] == "interrupted by SIGTERM"
    assert len(doc["rows"]) < 8, [r["test"] for r in doc["rows"]]


# --- 7: row building --------------------------------------------------------------------------

class _Phase:
    def __init__(self, when, props):
        self.when, self.user_properties, self.duration = when, props, 0.0
        self.outcome, self.passed, self.failed, self.skipped = "passed", True, False, False
        self.longrepr = None


def test_row_building_is_linear_in_the_user_properties():
    """10,000 matching deviation lines made 19 tests take 193 s: ``rows.properties`` was quadratic."""
    props = [("invariant", "sd.order")] + [("deviation", f"reason {i}") for i in range(10_000)]
    phases = {w: _Phase(w, list(props)) for w in ("setup", "call", "teardown")}
    start = time.perf_counter()
    row = rows.make_row("t::x", phases, backend="eager", registry={}, deviation_of=lambda n, r: {"reason": r})
    assert time.perf_counter() - start < 1.0
    assert row["deviation"] == {"reason": "reason 0"} and row["outcome"] == "passed"
    assert len(rows.properties(phases)) == len(props)


def test_properties_keep_unhashable_values_and_order():
    phases = {"setup": _Phase("setup", [("a", [1]), ("b", {"x": 1})]),
              "teardown": _Phase("teardown", [("a", [1]), ("c", 3)])}
    assert rows.properties(phases) == [("a", [1]), ("c", 3), ("b", {"x": 1})]


# --- 7: reports.compare and reports.render on bad files --------------------------------------

def run_module(module, *args, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd or ROOT, env=environ(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_input_error(result, *names):
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.mark.parametrize("module", ["reports.compare", "reports.render"])
def test_endless_input_is_an_input_error(module):
    """``reports.compare /dev/zero`` ended in MemoryError with rc 1, the regression code."""
    args = ["/dev/zero", str(PLANTED)] if module == "reports.compare" else ["/dev/zero"]
    assert_input_error(run_module(module, *args, timeout=30), "/dev/zero")


def test_oversized_input_is_an_input_error(tmp_path, monkeypatch):
    big = tmp_path / "big.json"
    big.write_text(" " * 200 + PLANTED.read_text())
    monkeypatch.setattr(schema, "MAX_BYTES", 100)
    with pytest.raises(schema.ReadError, match="larger than 100 bytes"):
        schema.read(big)


def test_compare_reads_a_pipe(tmp_path):
    """Process substitution (``<(...)``) is a pipe, not a regular file: still read."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as w:
        w.write(PLANTED.read_text())
    with os.fdopen(read_end) as r:
        doc = schema.read(f"/dev/fd/{r.fileno()}")
    assert doc["schema"] == schema.SCHEMA


def _planted():
    return json.loads(PLANTED.read_text())


WRONG_TYPES = [
    ("run", "torch", "git", 12345), ("run", "torch", "version", ["2"]), ("run", "hypothesis", None, [1]),
    ("run", "hypothesis", "profile", {"x": 1}), ("run", "incomplete_reason", None, 3),
    ("run", "start", None, None), ("invariants", "sd.order", None, ["x"]), ("invariants", "sd.order", "url", 5),
    ("invariants", "sd.order", "tier", []), ("rows", 0, "failure", {"message": "x"}),
    ("rows", 2, "skip_reason", 7), ("rows", 0, "devices", "cpu"),
]


@pytest.mark.parametrize("path", WRONG_TYPES, ids=lambda p: ".".join(str(x) for x in p[:3] if x is not None))
def test_render_of_wrongly_typed_fields_is_an_input_error(tmp_path, path):
    """``reports.render`` of a schema-valid report with a wrongly typed field gave a traceback."""
    doc = _planted()
    *where, value = path
    target = doc
    keys = [k for k in where if k is not None]
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    source = tmp_path / "report.json"
    source.write_text(json.dumps(doc))
    assert_input_error(run_module("reports.render", str(source), str(tmp_path / "out")), str(source))
    assert_input_error(run_module("reports.compare", str(source), str(PLANTED)), str(source))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=5)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


PLANTED_PATHS = [p for p in _paths(_planted()) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(where=st.sampled_from(PLANTED_PATHS), value=JSON, delete=st.booleans())
def test_any_document_that_validates_renders_and_compares(where, value, delete):
    """Every document ``schema.validate`` accepts renders and compares without an exception."""
    doc = _planted()
    target = doc
    for key in where[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        del target[where[-1]]
    else:
        target[where[-1]] = value
    try:
        schema.validate(doc)
    except schema.SchemaError:
        return
    render.markdown(doc)
    render.html(doc)
    render.terminal_lines(doc)
    compare.markdown(doc, _planted(), "a", "b")
    compare.markdown(_planted(), doc, "a", "b")


def test_render_into_an_unwritable_folder_is_an_input_error(tmp_path):
    (tmp_path / "a file").write_text("x")
    result = run_module("reports.render", str(PLANTED), str(tmp_path / "a file"))
    assert_input_error(result, str(tmp_path / "a file"))


# --- 7: Markdown that would load something ---------------------------------------------------

IMAGE = "![tracker](https://evil.example/pixel.png)"


@pytest.mark.parametrize("text", [IMAGE, "[click](https://evil.example)", "\\" + IMAGE, "[x]: https://evil.example",
                                  "![a][b]\n\n[b]: https://evil.example/p.png"])
def test_markdown_cells_are_not_live_links_or_images(text):
    """A deviation reason holding Markdown image syntax became a live remote image in report.md."""
    doc = _planted()
    dev = next(r for r in doc["rows"] if r["deviation"])
    dev["deviation"]["reason"] = text
    dev["deviation"]["evidence"] = text
    page = render.markdown(schema.validate(doc))
    assert "](" not in page.replace("\\](", ""), page
    assert "![" not in page.replace("!\\[", ""), page
    line = next(line for line in page.splitlines() if "evil.example" in line)
    assert line.startswith("| ") and line.count("[") == line.count("\\["), line


# --- 7: the global-state guard ----------------------------------------------------------------

def _leak(kind):
    import torch

    if kind == "TorchFunctionMode":
        from torch.overrides import TorchFunctionMode

        mode = TorchFunctionMode()
        mode.__enter__()
    elif kind == "TorchDispatchMode":
        from torch.utils._python_dispatch import TorchDispatchMode

        TorchDispatchMode().__enter__()
    elif kind == "patched nn.Module method":
        torch.nn.Module.state_dict = lambda self, *a, **k: {}
    elif kind == "added nn.Module attribute":
        torch.nn.Module.extra_thing = 1
    elif kind == "patched nn.Parameter method":
        torch.nn.Parameter.__repr__ = lambda self: "p"
    elif kind == "deterministic algorithms":
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif kind == "anomaly mode":
        torch.set_anomaly_enabled(True, False)
    elif kind == "thread count":
        torch.set_num_threads(max(1, torch.get_num_threads() - 1) if torch.get_num_threads() > 1 else 2)
    elif kind == "default device":
        torch.set_default_device("meta")


LEAKS = ["TorchFunctionMode", "TorchDispatchMode", "patched nn.Module method", "added nn.Module attribute",
         "patched nn.Parameter method", "deterministic algorithms", "anomaly mode", "thread count", "default device"]


@pytest.mark.parametrize("kind", LEAKS)
def test_guard_sees_and_restores_each_leak(kind):
    """The guard missed a leaked TorchFunctionMode, a patched nn.Module method, deterministic or
    anomaly mode, and the thread count."""
    import torch

    from conformance import guard

    before = guard.snapshot()
    state_dict = torch.nn.Module.state_dict
    try:
        _leak(kind)
        leaked = guard.leaks(before, guard.snapshot())
    finally:
        guard.restore(before)
    assert leaked, f"{kind} not seen"
    assert guard.leaks(before, guard.snapshot()) == [], f"{kind} not restored"
    assert torch.nn.Module.state_dict is state_dict
    assert not hasattr(torch.nn.Module, "extra_thing")
    assert torch._C._len_torch_function_stack() == 0 and str(torch.get_default_device()) == "cpu"
    gc.collect()


def test_guard_sees_nothing_when_nothing_changed():
    from conformance import guard

    before = guard.snapshot()
    assert guard.leaks(before, guard.snapshot()) == []
    guard.restore(before)
    assert guard.leaks(before, guard.snapshot()) == []


def test_guard_ignores_the_pickle_cache_python_adds_to_a_class():
    """No false alarm: the first pickle (or ``swap_tensors``) of a Parameter caches ``__slotnames__`` on it."""
    import pickle

    import torch

    from conformance import guard

    vars(torch.nn.Parameter).get("__slotnames__") is not None and delattr(torch.nn.Parameter, "__slotnames__")
    before = guard.snapshot()
    pickle.dumps(torch.nn.Parameter(torch.zeros(1)))
    assert "__slotnames__" in vars(torch.nn.Parameter)
    assert guard.leaks(before, guard.snapshot()) == []
