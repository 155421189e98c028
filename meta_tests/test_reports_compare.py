"""``python -m reports.compare OLD.json NEW.json``: set-up differences, verdicts and exit statuses
(0, 1, 2, 3), regressions by invariant, retired deviations lines, changed messages, doc drift, bad input."""
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
    assert "**no regressions**" in out.out and "## " not in out.out, out.out
    assert "Changes: nothing changed." in out.out


def test_planted_regression_exits_1(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    _regress(new)
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 1
    assert (f"## Regressions (1)\n\n### `traversal.named_modules.preorder` (1)\n\n"
            f"- `{PASSING_TEST}`: passed → failed · boom\n") in out.out
    assert "**REGRESSED**" in out.out and "no regressions" not in out.out


def test_command_line_flags_a_planted_regression(tmp_path, old):
    new = copy.deepcopy(old)
    _regress(new)
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    done = subprocess.run([sys.executable, "-m", "reports.compare", "old.json", "new.json"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    section = done.stdout.split("## Regressions (1)")[1]
    assert f"- `{PASSING_TEST}`: passed → failed · boom" in section.splitlines()[4]


def test_fixes_invariants_tests_and_deviations(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    _row(new, FAILING_TEST).update(outcome="passed", failure=None)
    _row(new, "test_basic.py::test_known_deviation")["deviation"]["reason"] = "a new reason"
    new["rows"] = [r for r in new["rows"] if r["invariant"] != "sd.prefix_verbatim"]
    new["rows"].append(dict(_row(old, PASSING_TEST), test="test_new.py::test_x", invariant="load.assign"))
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0
    text = out.out
    assert f"## Fixes (1)\n\n### `traversal.modules.dedup` (1)\n\n- `{FAILING_TEST}`: failed → passed" in text
    assert "## New invariants (1)\n\n- `load.assign`" in text
    assert "## Removed invariants (1)\n\n- `sd.prefix_verbatim`" in text
    assert "deviation: state_dict key &lt;b&gt;order&lt;/b&gt; &amp; co → a new reason" in text
    assert "## New tests (1)" in text and "## Removed tests (1)" in text


def test_incomplete_report_is_flagged(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    new["run"].update(complete=False, incomplete_reason="interrupted by SIGINT")
    _status, out = _run(tmp_path, capsys, old, new)
    assert "(incomplete report)" in out.out.splitlines()[3]


MESSAGE = ("result differs from the reference model\n  call:     c = root\n            print(list(c.modules()))\n"
           "  actual:   {actual}\n  expected: ['a']\n  invariant: x (documented, traversal)\n  doc: d")


def _fail(row, outcome="failed", actual="['b']", reproducer="import torch\nprint('```')\n"):
    row.update(outcome=outcome, failure={"phase": "call", "message": MESSAGE.format(actual=actual),
                                         "reproducer": reproducer, "doc": None, "example": None})


def test_regression_shows_actual_expected_and_a_fenced_reproducer(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    _fail(_row(new, PASSING_TEST))
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 1
    section = out.out.split("## Regressions (1)")[1].split("\n## ")[0]
    assert "### `traversal.named_modules.preorder` (1)" in section
    assert "  - actual: `['b']`\n  - expected: `['a']`\n" in section, section
    assert "  ````python\n  import torch\n  print('```')\n  ````" in section, section  # a fence longer than ```


def test_regressions_are_grouped_by_invariant(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    for test in (PASSING_TEST, "test_basic.py::test_passes[meta]", "test_basic.py::test_without_invariant"):
        _regress(new, test)
    status, out = _run(tmp_path, capsys, old, new)
    section = out.out.split("## Regressions (3)")[1]
    assert section.index("### `(no invariant)` (1)") < section.index("### `traversal.named_modules.preorder` (2)")
    assert status == 1


def _incomplete(doc):
    doc["run"].update(complete=False, incomplete_reason="interrupted by SIGINT")


def _crashed(doc):
    doc["run"]["exit_status"] = 3


def _worker_died(doc):
    _row(doc, PASSING_TEST).update(outcome="error", failure={
        "phase": "worker crash", "message": "worker 'gw0' crashed while running", "reproducer": None,
        "doc": None, "example": None})


def _mostly_skipped(doc):
    for row in doc["rows"][:5]:
        row.update(outcome="skipped", failure=None, skip_reason="device not present: cuda")


def _empty(doc):
    doc["rows"] = []


UNTRUSTED = {
    "incomplete": (_incomplete, "**INCOMPLETE NEW RUN**: interrupted by SIGINT"),
    "crashed": (_crashed, "**NEW RUN CRASHED**: pytest exit status 3 (INTERNAL_ERROR)"),
    "worker died": (_worker_died, f"**NEW RUN CRASHED**: a worker died running `{PASSING_TEST}`"),
    "mostly skipped": (_mostly_skipped, "**MOSTLY SKIPPED NEW RUN**: 6 of 8 rows skipped (OLD: 1 of 8)"),
    "empty": (_empty, "**EMPTY NEW RUN**: it has no rows"),
}


@pytest.mark.parametrize("case", UNTRUSTED)
def test_untrustworthy_new_run_exits_3_and_still_lists_changes(tmp_path, capsys, old, case):
    change, verdict = UNTRUSTED[case]
    new = copy.deepcopy(old)
    _row(new, FAILING_TEST).update(outcome="passed", failure=None)  # a change to list
    change(new)
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 3, out.out
    assert verdict in out.out and "no regressions" not in out.out, out.out
    assert "\n## " in out.out.split(verdict)[1], out.out  # the changes still follow


def test_untrustworthy_run_with_regressions_says_both(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    _regress(new)
    _incomplete(new)
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 3
    assert "**INCOMPLETE NEW RUN**: interrupted by SIGINT; 1 regression(s) among the tests it ran" in out.out
    assert "## Regressions (1)" in out.out


def test_skipped_as_much_as_before_is_not_untrustworthy(tmp_path, capsys, old):
    _mostly_skipped(old)
    new = copy.deepcopy(old)
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0 and "**no regressions**" in out.out, out.out


def _device_rows(doc, cuda_outcome):
    for row, device in zip(doc["rows"][2:4], ("cpu", "cuda")):
        row.update(devices=[device], outcome="passed", failure=None, skip_reason=None)
    cuda = doc["rows"][3]
    if cuda_outcome == "skipped":
        cuda.update(outcome="skipped", skip_reason="device not present: cuda: this torch is built without CUDA")


def test_setup_differences_list_only_what_differs_with_a_note(tmp_path, capsys, old):
    _device_rows(old, "skipped")
    new = copy.deepcopy(old)
    _device_rows(new, "passed")
    run = new["run"]
    run["torch"].update(cuda="12.8", accelerators=[{"name": "NVIDIA H200", "driver": "580.1"}])
    run["hypothesis"].update(profile="release", max_examples=400)
    run["packages"].update(hypothesis="6.200.0", pytest="9.3.0")
    run.update(python="3.12.1", backend="compile")
    run["options"].update(deviations="mine.txt", deviations_mode="lenient")
    new["rows"][2]["examples"] = 400
    _status, out = _run(tmp_path, capsys, old, new)
    setup = out.out.split("## Set-up differences (")[1].split("\n\n**")[0]
    lines = setup.splitlines()[2:]
    expected = [
        "- **backend**: `eager` → `compile`: another implementation under test",
        "- **torch build**: `CPU` → `CUDA 12.8`: a build without CUDA/ROCm skips every test on those devices",
        "- **accelerators**: `none` → `NVIDIA H200 (driver 580.1)`: other GPUs or driver",
        "- **profile**: `synthetic` → `release`: another Hypothesis profile draws other examples",
        "- **max_examples**: `10` → `400`: more examples find more failures",
        "- **examples run**: `31` → `421`: Hypothesis examples that ran in all",
        "- **hypothesis**: `6.170.17` → `6.200.0`: another Hypothesis may draw other examples",
        "- **pytest**: `9.2.0` → `9.3.0`",
        "- **python**: `3.11.7` → `3.12.1`",
        "- **deviations file**: `(the backend's own)` → `mine.txt`: xfailed/xpassed changes may come from the file",
        "- **deviations mode**: (none) → `lenient`: strict fails an unexpected pass",
        "- **devices differ**: tests on `cuda` are skipped in OLD (device not present: cuda: this torch is built "
        "without CUDA)",
    ]
    assert len(lines) == len(expected), setup
    for line, start in zip(lines, expected):
        assert line.startswith(start), (line, start)
    assert "torch version" not in setup and "torch commit" not in setup


def test_torch_commit_is_listed_only_for_the_same_version(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    new["run"]["torch"]["git"] = "0" * 40
    _status, out = _run(tmp_path, capsys, old, new)
    assert "- **torch commit**: `cf30153c4c131c8164ee7798e5022d810682e2cb` → `" + "0" * 40 in out.out
    new["run"]["torch"]["version"] = "2.14.0"
    _status, out = _run(tmp_path, capsys, old, new)
    assert "torch commit" not in out.out and "- **torch version**: `2.13.0+cpu` → `2.14.0`" in out.out


def test_incomplete_old_run_is_a_setup_difference(tmp_path, capsys, old):
    _incomplete(old)
    status, out = _run(tmp_path, capsys, old, copy.deepcopy(old))
    assert "- **OLD incomplete** (interrupted by SIGINT): tests it lacks show as new tests" in out.out
    assert status == 3  # NEW is the same incomplete run


KNOWN = "test_basic.py::test_known_deviation"
SECOND = "test_basic.py::test_skipped"
LINE = "conformance/deviations/eager.txt:12"


def _claimed(row, where=LINE, outcome="xfailed"):
    row.update(outcome=outcome, skip_reason=None)
    row["deviation"] = {"pattern": "sd.order test=test_*", "reason": "order differs", "evidence": "evidence/order.py",
                        "where": where}
    if outcome == "xfailed":
        _fail(row, outcome="xfailed")
    else:
        row["failure"] = None


STRICT = ("unexpected pass of a known deviation: {where} claims 'sd.order test=test_*' fails (order differs), but this "
          "test passed; its evidence script no longer reproduces it: fixed upstream: retire the line. "
          "(evidence: evidence/order.py; --deviations-mode lenient reports this without failing)")


def test_fixed_deviations_name_the_line_to_retire(tmp_path, capsys, old):
    for test in (KNOWN, SECOND):
        _claimed(_row(old, test))
    new = copy.deepcopy(old)
    _claimed(_row(new, KNOWN), outcome="xpassed")
    strict = _row(new, SECOND)
    strict.update(outcome="failed", failure={"phase": "call", "message": STRICT.format(where=LINE),
                                             "reproducer": None, "doc": None, "example": None})
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0, out.out  # a strict unexpected pass is a fix to act on, not a regression
    section = out.out.split("## Fixed deviations (2)\n\n")[1].split("\n\n")[0].splitlines()
    assert section == [
        f"- retire `{LINE}` (`sd.order test=test_*`), evidence `conformance/deviations/evidence/order.py`",
        f"  - `{KNOWN}`: xfailed → xpassed",
        f"  - `{SECOND}`: xfailed → failed · unexpected pass: its evidence script no longer reproduces it: "
        "fixed upstream: retire the line",
    ], section
    assert "## Regressions" not in out.out and "## Other outcome changes" not in out.out


def test_fixed_deviations_are_grouped_by_line(tmp_path, capsys, old):
    _claimed(_row(old, KNOWN))
    _claimed(_row(old, SECOND), where="conformance/deviations/eager.txt:3")
    new = copy.deepcopy(old)
    for test in (KNOWN, SECOND):
        _row(new, test).update(outcome="passed", failure=None)
    new["rows"] = [r for r in new["rows"] if r["test"] != SECOND] + [dict(_row(new, SECOND), deviation=None)]
    _status, out = _run(tmp_path, capsys, old, new)
    lines = [line for line in out.out.splitlines() if "evidence `" in line]
    assert lines == [
        "- already gone from NEW's deviations file: `conformance/deviations/eager.txt:3` (`sd.order test=test_*`), "
        "evidence `conformance/deviations/evidence/order.py`",
        f"- retire `{LINE}` (`sd.order test=test_*`), evidence `conformance/deviations/evidence/order.py`"], lines


def test_a_new_line_claiming_a_passing_test_is_not_a_regression(tmp_path, capsys, old):
    """NEW's deviations file claims a test fails that passes (strict mode fails it): the file is wrong, the
    behaviour did not regress."""
    new = copy.deepcopy(old)
    _claimed(_row(new, PASSING_TEST), outcome="failed")
    _row(new, PASSING_TEST)["failure"] = {"phase": "call", "message": STRICT.format(where=LINE), "reproducer": None,
                                          "doc": None, "example": None}
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0 and "## Regressions" not in out.out, out.out
    assert f"- `{PASSING_TEST}`: passed → failed · unexpected pass of a known deviation: {LINE}" in out.out


def test_the_line_of_an_older_report_comes_from_the_strict_message(tmp_path, capsys, old):
    _claimed(_row(old, KNOWN))
    del _row(old, KNOWN)["deviation"]["where"]
    new = copy.deepcopy(old)
    _row(new, KNOWN).update(outcome="failed", failure={"phase": "call", "message": STRICT.format(where="/x/d.txt:4"),
                                                      "reproducer": None, "doc": None, "example": None})
    _status, out = _run(tmp_path, capsys, old, new)
    assert "- retire `/x/d.txt:4` (`sd.order test=test_*`), evidence `/x/evidence/order.py`" in out.out


@pytest.mark.parametrize("change", ["actual", "first line"])
def test_deviations_that_fail_differently(tmp_path, capsys, old, change):
    _claimed(_row(old, KNOWN))
    new = copy.deepcopy(old)
    failure = _row(new, KNOWN)["failure"]
    if change == "actual":
        failure["message"] = MESSAGE.format(actual="['c']")
    else:
        failure["message"] = "raised where the model expects success\n" + failure["message"].partition("\n")[2]
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0
    section = out.out.split("## Deviations that fail differently (1)\n\n")[1].split("\n\n## ")[0]
    old_line = "  - old: result differs from the reference model · actual `['b']`"
    new_line = ("  - new: result differs from the reference model · actual `['c']`" if change == "actual" else
                "  - new: raised where the model expects success · actual `['b']`")
    assert f"- `{KNOWN}`\n{old_line}\n{new_line}" in section, section


def test_same_deviation_failure_is_not_listed(tmp_path, capsys, old):
    _claimed(_row(old, KNOWN))
    new = copy.deepcopy(old)
    _row(new, KNOWN)["failure"]["reproducer"] = "other program"  # the example may shrink elsewhere
    _status, out = _run(tmp_path, capsys, old, new)
    assert "fail differently (" not in out.out


def _drift(*entries, fingerprints=None):
    drift = {"checked": 3, "unchecked": 1, "drift": [
        {"invariant": i, "ref": "torch.nn.Module", "status": status, "quote": "q", "detail": f"detail of {i}"}
        for i, status in entries]}
    if fingerprints is not None:
        drift["fingerprints"] = fingerprints
    return drift


def test_documentation_changed_lists_new_drift_and_changed_fingerprints(tmp_path, capsys, old):
    old["doc_drift"] = _drift(("sd.order", "changed"), fingerprints={"a.b": "111", "c.d": "222", "sd.x": "1"})
    new = copy.deepcopy(old)
    new["doc_drift"] = _drift(("sd.order", "changed"), ("sd.x", "vanished"),
                              fingerprints={"a.b": "111", "c.d": "333", "sd.x": "2"})
    status, out = _run(tmp_path, capsys, old, new)
    assert status == 0
    section = out.out.split("## Documentation changed (2)\n\n")[1].split("\n\n")[0].splitlines()
    assert section == ["- `sd.x`: vanished: detail of sd.x", "- `c.d`: docstring changed, quote still found"], section


def test_top_level_fingerprints_are_compared_too(tmp_path, capsys, old):
    old["fingerprints"] = {"a.b": "111"}
    new = copy.deepcopy(old)
    new["fingerprints"] = {"a.b": "222"}
    _status, out = _run(tmp_path, capsys, old, new)
    assert "## Documentation changed (1)\n\n- `a.b`: docstring changed, quote still found" in out.out


def test_no_documentation_section_without_changes(tmp_path, capsys, old):
    old["doc_drift"] = _drift(("sd.order", "changed"))
    _status, out = _run(tmp_path, capsys, old, copy.deepcopy(old))
    assert "Documentation changed" not in out.out


def test_documentation_changed_against_an_old_report_without_a_record(tmp_path, capsys, old):
    new = copy.deepcopy(old)
    new["doc_drift"] = _drift(("sd.order", "changed"))
    _status, out = _run(tmp_path, capsys, old, new)
    assert "OLD has no doc drift record: every drift entry of NEW is listed.\n\n- `sd.order`: changed" in out.out
    new["doc_drift"] = {"error": "RuntimeError('boom')"}
    _status, out = _run(tmp_path, capsys, old, new)
    assert "OLD has no doc drift record" not in out.out
    assert "- `(doc drift check)`: failed in NEW: RuntimeError('boom')" in out.out


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
    "doc drift a list": (lambda d: d.update(doc_drift=[]), "doc_drift must be an object or null"),
    "drift entry without id": (lambda d: d.update(doc_drift={"drift": [{"status": "changed"}]}),
                               "doc_drift.drift[0] lacks the field 'invariant'"),
    "fingerprint a number": (lambda d: d.update(fingerprints={"a": 1}), "fingerprints must map invariant ids"),
    "where a number": (lambda d: d["rows"][1]["deviation"].update(where=3), "rows[1].deviation.where has the wrong"),
    "exit status a string": (lambda d: d["run"].update(exit_status="1"), "run.exit_status has the wrong type"),
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


def test_api_surface_changes_between_inventories(tmp_path, capsys, old):
    """A parameter a release adds to a Module method is listed, and marked unexercised while it is
    among NEW's gaps; an identical inventory lists nothing."""
    from conformance import api

    inventory = json.loads(json.dumps(api.dump(api.inventory())))
    counts = {"covered": 1, "out_of_scope": 0, "missing": 0, "total": 1}
    cov = {"totals": {k: dict(counts) for k in ("methods", "overloads", "parameters")}, "gaps": [],
           "steps": 1, "file": "api-coverage.json", "inventory": inventory}
    old["api_coverage"] = cov
    new = copy.deepcopy(old)
    assert compare.api_changes(old, new) == []
    entry = next(e for e in new["api_coverage"]["inventory"]["entries"] if e["key"].endswith("Module.state_dict"))
    entry["params"].append({**entry["params"][-1], "name": "new_flag"})
    new["api_coverage"]["gaps"] = [f"{entry['key']}: parameter new_flag"]
    code, captured = _run(tmp_path, capsys, old, new)
    out = captured.out
    assert "## API surface changed (1)" in out, out
    assert f"+ {entry['key']}: parameter new_flag · not exercised in NEW" in out, out
