"""The report plugin end to end: pytest runs in a subprocess on the synthetic suite
(``report_fixtures/suite``: conformance-like tests that do not import torch, so each run is
quick), with ``-p reports.plugin`` as a user would load it.

Covers: the rows of every outcome; ``-n 2`` gives the same rows as one process; two runs give
identical JSON apart from timings; SIGINT and SIGTERM still write a report marked incomplete;
a worker that dies mid-test is an error row and the report is still written; the step summary.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports import output, plugin, runinfo, schema

ROOT = Path(__file__).resolve().parent.parent
SUITE = Path(__file__).parent / "report_fixtures" / "suite"


def _environ(env=None) -> dict:
    """The suite importable; PYTHONPATH and PYTEST_ADDOPTS pass through (a break plugin reaches the child)."""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    environ.pop("GITHUB_STEP_SUMMARY", None)  # only the test that sets it gets one
    return {**environ, **(env or {})}


def pytest_run(suite: Path, *args, env=None, **popen):
    """Start pytest on the synthetic suite, rows written to ``suite/out``."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "reports.plugin",
               "--report-dir", str(suite / "out"), *args]
    return subprocess.Popen(command, cwd=suite, env=_environ(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


def run(suite, *args, env=None, timeout=120):
    proc = pytest_run(suite, *args, env=env)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out, read(suite)


def read(suite):
    return schema.validate(json.loads((suite / "out" / "report.json").read_text()))


def fresh_suite(tmp_path) -> Path:
    return Path(shutil.copytree(SUITE, tmp_path / "suite"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The synthetic suite run once in one process (shared by the tests that only read it)."""
    suite = fresh_suite(tmp_path_factory.mktemp("single"))
    summary = suite / "step_summary.md"
    summary.write_text("earlier step\n")
    status, out, doc = run(suite, "test_basic.py", env={"GITHUB_STEP_SUMMARY": str(summary)})
    return {"suite": suite, "status": status, "out": out, "doc": doc, "summary": summary}


def rows_by_test(doc):
    return {r["test"]: r for r in doc["rows"]}


def test_rows_carry_outcome_invariant_device_and_failure_details(single):
    doc, rows = single["doc"], rows_by_test(single["doc"])
    assert single["status"] == 1, single["out"]
    assert doc["run"]["complete"] is True and doc["run"]["tests_collected"] == 8
    outcomes = {t.split("::")[1]: r["outcome"] for t, r in rows.items()}
    assert outcomes == {
        "test_passes[cpu]": "passed", "test_passes[meta]": "passed", "test_conformance_failure": "failed",
        "test_known_deviation": "xfailed", "test_skipped": "skipped", "test_setup_error": "error",
        "test_planted_markup[<script>alert(1)</script>]": "failed", "test_without_invariant": "passed",
    }
    passed = rows["test_basic.py::test_passes[meta]"]
    assert (passed["invariant"], passed["tier"], passed["area"]) == (
        "traversal.named_modules.preorder", "documented", "traversal")
    assert passed["devices"] == ["meta"] and passed["examples"] == 10
    failure = rows["test_basic.py::test_conformance_failure"]["failure"]
    assert failure["reproducer"] == "import torch\n\nroot = torch.nn.Module()\nprint(list(root.modules()))\n"
    assert failure["doc"].startswith("modules(): \"Duplicate modules are returned only once")
    assert failure["message"].startswith("result differs from the reference model\n  call:")
    assert "reproducer" not in failure["message"]
    assert rows["test_basic.py::test_known_deviation"]["deviation"] == {
        "pattern": None, "reason": "accepted for this release", "evidence": None, "where": "deviations/synthetic.txt:7", "design": False}
    assert doc["doc_drift"] is None  # the conformance plugin is not loaded: the report plugin never imports torch
    assert rows["test_basic.py::test_skipped"]["skip_reason"] == "needs an accelerator"
    assert rows["test_basic.py::test_setup_error"]["failure"]["message"] == "RuntimeError: fixture set-up failed"
    assert doc["invariants"]["sd.order"]["url"].startswith("https://docs.pytorch.org/docs/2.13/")


def test_all_files_written_and_terminal_table_printed(single):
    folder = single["suite"] / "out"
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json", "report.md"]
    assert "nnconform conformance summary" in single["out"]
    assert "traversal       documented       2       2      0" in single["out"]
    summary = single["summary"].read_text()
    assert summary.startswith("earlier step\n# nnconform conformance report")  # appended, not replaced


def test_two_runs_identical_apart_from_timings(single, tmp_path):
    suite = fresh_suite(tmp_path)
    _, _, again = run(suite, "test_basic.py")
    first = schema.without_timings(single["doc"])
    second = schema.without_timings(again)
    first["run"]["options"]["args"] = second["run"]["options"]["args"]  # same files, other folder
    assert second == first


def test_xdist_gives_the_same_rows(single, tmp_path):
    suite = fresh_suite(tmp_path)
    status, out, doc = run(suite, "test_basic.py", "-n", "2")
    assert status == 1, out
    assert schema.without_timings(doc)["rows"] == schema.without_timings(single["doc"])["rows"]
    assert doc["run"]["options"]["numprocesses"] == 2


def test_dead_worker_is_an_error_row_and_the_report_is_written(tmp_path):
    suite = fresh_suite(tmp_path)
    status, out, doc = run(suite, "test_crash.py", "-n", "2")
    assert status == 1, out
    rows = rows_by_test(doc)
    dead = rows["test_crash.py::test_worker_dies"]
    assert dead["outcome"] == "error" and dead["invariant"] == "sd.order", dead
    assert dead["failure"]["phase"] == "worker crash" and "crashed while running" in dead["failure"]["message"]
    assert {rows[t]["outcome"] for t in rows if t != dead["test"]} == {"passed"}
    assert (suite / "out" / "report.html").is_file()


@pytest.mark.parametrize("how", ["SIGINT to the process group, one process", "SIGTERM to the controller, -n 2"])
def test_interrupted_run_writes_an_incomplete_report(tmp_path, how):
    suite = fresh_suite(tmp_path)
    started = suite / "started"
    sig, extra = (signal.SIGINT, ()) if how.startswith("SIGINT") else (signal.SIGTERM, ("-n", "2"))
    proc = pytest_run(suite, "test_interrupt.py", *extra, env={"NNC_STARTED": str(started)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not (started.exists() and _finished(suite, "test_interrupt.py::test_finishes")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
            time.sleep(0.05)
        (os.killpg if sig == signal.SIGINT else os.kill)(proc.pid, sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    doc = read(suite)
    assert doc["run"]["complete"] is False
    assert doc["run"]["incomplete_reason"] == f"interrupted by {sig.name}", out
    assert [(r["test"], r["outcome"]) for r in doc["rows"]] == [("test_interrupt.py::test_finishes", "passed")]
    assert "INCOMPLETE" in (suite / "out" / "report.md").read_text()


def _finished(suite, test):
    """The checkpointed report.json already holds ``test``'s row."""
    try:
        return test in rows_by_test(read(suite))
    except (OSError, ValueError):
        return False


@pytest.mark.parametrize("args", [("test_plain.py",), ("test_basic.py", "--collect-only")],
                         ids=["no conformance tests", "collect only"])
def test_no_report_unless_conformance_tests_ran(tmp_path, args):
    suite = fresh_suite(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "reports.plugin",
                           *args], cwd=suite, env=_environ(),
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout
    assert not (suite / "reports").exists()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    output.write_atomic(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        output.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_real_conformance_runs_agree_in_one_process_and_under_xdist(tmp_path):
    """Two ``ci`` runs of real conformance tests (one with ``-n 2``): the same JSON apart from timings."""
    docs = []
    for name, extra in (("one", ()), ("xdist", ("-n", "2"))):
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "conformance/test_traversal.py",
                   "-k", "named_children or named_modules_prefix", "--report-dir", str(tmp_path / name), *extra]
        done = subprocess.run(command, cwd=ROOT, env=_environ(), capture_output=True, text=True, check=False,
                              timeout=300)
        assert (tmp_path / name / "report.json").is_file(), done.stdout[-3000:]
        doc = schema.without_timings(json.loads((tmp_path / name / "report.json").read_text()))
        doc["run"]["options"].pop("numprocesses")
        docs.append(doc)
    assert docs[1] == docs[0]
    assert docs[0]["run"]["hypothesis"]["profile"] == "ci"
    assert [r["examples"] for r in docs[0]["rows"]] == [25, 25]


def test_strict_unexpected_pass_row_names_its_line_and_the_report_records_doc_drift(tmp_path):
    """A planted deviations line for a behaviour that holds: strict mode fails the test; its row names the
    line (``deviation.where``), report.md groups it under that line, and doc drift is recorded."""
    (tmp_path / "evidence.py").write_text('print("NOT REPRODUCED")\nraise SystemExit(1)\n')
    devs = tmp_path / "devs.txt"
    devs.write_text("# planted\ntraversal.children.immediate_and_dedup test=test_named_children | planted | evidence.py\n")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "conformance/test_traversal.py::test_named_children",
               f"--deviations={devs}", "--report-dir", str(tmp_path / "out")]
    done = subprocess.run(command, cwd=ROOT, env=_environ(), capture_output=True, text=True, check=False, timeout=300)
    doc = schema.read(tmp_path / "out" / "report.json")
    (row,) = doc["rows"]
    assert row["outcome"] == "failed", done.stdout[-3000:]
    assert row["failure"]["message"].startswith(f"unexpected pass of a known deviation: {devs}:2 claims")
    assert row["deviation"] == {"pattern": "traversal.children.immediate_and_dedup test=test_named_children",
                                "reason": "planted", "evidence": "evidence.py", "where": f"{devs.resolve()}:2", "design": False}
    assert doc["run"]["options"]["deviations_mode"] == "strict"
    assert isinstance(doc["doc_drift"]["drift"], list) and doc["doc_drift"]["checked"] > 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Fixed deviations / unexpected passes (1 tests, 1 deviations lines)\n" in text
    assert f"### `{devs.resolve()}:2`" in text and "fixed upstream: retire the line" in text


def test_deviation_line_is_relative_to_the_repository_root_when_inside_it(tmp_path):
    inside = runinfo.SUITE_ROOT / "conformance" / "deviations" / "eager.txt"
    assert plugin._relative_where(inside, 7) == "conformance/deviations/eager.txt:7"
    assert plugin._relative_where(tmp_path / "devs.txt", 2) == f"{tmp_path.resolve()}/devs.txt:2"


def test_a_failing_doc_drift_check_is_recorded_not_raised(monkeypatch):
    from conformance import docdrift

    def broken():
        raise RuntimeError("no docstrings today")

    monkeypatch.setattr(docdrift, "check", broken)
    monkeypatch.setitem(sys.modules, "conformance.plugin", sys.modules.get("conformance.plugin") or docdrift)
    controller = plugin.Controller.__new__(plugin.Controller)
    controller.drift = None
    assert controller._doc_drift() == {"error": "RuntimeError('no docstrings today')"}


def test_deviation_is_found_by_its_line_before_its_reason(tmp_path, monkeypatch):
    """Under xdist the controller collects nothing: two lines with the same reason are told apart by the
    ``deviation_line`` property, not by the reason."""
    from types import SimpleNamespace

    from conformance.deviations import Deviation

    lines = [Deviation("sd.order", (("test", f"test_{n}"),), "same reason", "ev.py", n, tmp_path / "d.txt")
             for n in (2, 3)]
    monkeypatch.setitem(sys.modules, "conformance.plugin", SimpleNamespace(known_deviations=lambda config: lines))
    controller = plugin.Controller.__new__(plugin.Controller)
    controller.config = None
    found = controller._deviation_of("t.py::test_3", "same reason", where=f"{tmp_path / 'd.txt'}:3")
    assert found == {"pattern": "sd.order test=test_3", "reason": "same reason", "evidence": "ev.py",
                     "where": f"{tmp_path.resolve()}/d.txt:3", "design": False}
