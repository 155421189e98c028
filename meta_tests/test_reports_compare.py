"""``python -m reports.compare OLD.json NEW.json``: regressions, fixes, bad input."""
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reports import compare

ROOT = Path(__file__).resolve().parent.parent
PLANTED = Path(__file__).parent / "report_fixtures" / "planted.json"
PASSING_TEST = "test_basic.py::test_passes[cpu]"
FAILING_TEST = "test_basic.py::test_conformance_failure"


@pytest.fixture
def old():
    return json.loads(PLANTED.read_text())


def _row(doc, test):
    return next(r for r in doc["rows"] if r["test"] == test)


def _run(tmp_path, capsys, old, new):
    paths = []
    for name, doc in (("old.json", old), ("new.json", new)):
        (tmp_path / name).write_text(json.dumps(doc))
        paths.append(str(tmp_path / name))
    status = compare.main(paths)
    return status, capsys.readouterr()


def _regress(doc, test=PASSING_TEST):
    _row(doc, test).update(outcome="failed", failure={"phase": "call", "message": "boom\nmore", "reproducer": None,
                                                      "doc": None, "example": None})


def test_identical_reports_pass(tmp_path, capsys, old):
    status, out = _run(tmp_path, capsys, old, copy.deepcopy(old))
    assert status == 0, out.out
    assert "**no regressions**" in out.out and "## " not in out.out.split("**no regressions**")[1]


def test_planted_regression_exits_1(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    _regress(new)
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 1
    assert f"## Regressions (1)\n\n- `{PASSING_TEST}`: passed → failed · boom\n" in out.out


def test_command_line_flags_a_planted_regression(tmp_path, old):
    new = copy.deepcopy(old)
    _regress(new)
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    done = subprocess.run([sys.executable, "-m", "reports.compare", "old.json", "new.json"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    section = done.stdout.split("## Regressions (1)")[1]
    assert f"- `{PASSING_TEST}`: passed → failed · boom" in section.splitlines()[2]


def test_fixes_invariants_tests_and_deviations(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    _row(new, FAILING_TEST).update(outcome="passed", failure=None)
    _row(new, "test_basic.py::test_known_deviation")["deviation"]["reason"] = "a new reason"
    new["rows"] = [r for r in new["rows"] if r["invariant"] != "sd.prefix_verbatim"]
    new["rows"].append(dict(_row(old, PASSING_TEST), test="test_new.py::test_x", invariant="load.assign"))
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0
    text = out.out
    assert f"## Fixes (1)\n\n- `{FAILING_TEST}`: failed → passed" in text
    assert "## New invariants (1)\n\n- `load.assign`" in text
    assert "## Removed invariants (1)\n\n- `sd.prefix_verbatim`" in text
    assert "deviation: state_dict key &lt;b&gt;order&lt;/b&gt; &amp; co → a new reason" in text
    assert "## New tests (1)" in text and "## Removed tests (1)" in text


def test_incomplete_report_is_flagged(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    new["run"].update(complete=False, incomplete_reason="interrupted by SIGINT")
    _status, out = _run(tmp_path, capsys, old, new)
    assert "(incomplete report)" in out.out.splitlines()[3]


BAD_INPUTS = {
    "missing": (None, "cannot read the file"),
    "not json": ("{'schema': 'nnconform-report'}", "not valid JSON"),
    "python code": ("__import__('pathlib').Path('PWNED').touch()", "not valid JSON"),
    "deep nesting": ("[" * 100000 + "]" * 100000, "not valid JSON"),
    "a list": ("[]", "not an nnconform report"),
    "other version": (lambda d: d.update(schema_version=99), "schema_version is 99"),
    "row lacks outcome": (lambda d: d["rows"][0].pop("outcome"), "rows[0] lacks the field 'outcome'"),
    "unknown outcome": (lambda d: d["rows"][0].update(outcome="great"), "rows[0].outcome is 'great'"),
    "failure without message": (lambda d: d["rows"][0]["failure"].pop("message"), "rows[0].failure lacks"),
    "complete is a string": (lambda d: d["run"].update(complete="yes"), "run.complete has the wrong type"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_a_clear_error(tmp_path, capsys, monkeypatch, old, case):
    content, expected = BAD_INPUTS[case]
    monkeypatch.chdir(tmp_path)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(old))
    if callable(content):
        content(old)
        content = json.dumps(old)
    if content is not None:
        bad.write_text(content)
    status = compare.main([str(good), str(bad)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"error: {bad}: ") and expected in err, err
    assert not (tmp_path / "PWNED").exists()


def test_usage_error():
    assert compare.main(["only-one.json"]) == 2
