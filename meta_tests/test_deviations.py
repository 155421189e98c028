"""Known deviations are claims (issues 7 and 14): lines keyed by invariant id with selectors,
base files, modes, drafts, and an unexpected pass that fails the run and says which line to retire."""
import pytest

from meta_tests.test_plugin import output, run_pytest

TARGET = "conformance/test_traversal.py"
PASSING = "traversal.children.immediate_and_dedup"  # test_named_children: holds on every torch this suite knows
REPRODUCES = 'print("REPRODUCED")\nraise SystemExit(0)\n'
FIXED = 'print("NOT REPRODUCED")\nraise SystemExit(1)\n'


def deviations(tmp_path, *lines: str, evidence: str = REPRODUCES):
    (tmp_path / "evidence.py").write_text(evidence)
    path = tmp_path / "devs.txt"
    path.write_text("# a planted claim\n" + "".join(f"{line}\n" for line in lines))
    return path


def planted(tmp_path, evidence=REPRODUCES):
    return deviations(tmp_path, f"{PASSING} test=test_named_children | a planted claim | evidence.py", evidence=evidence)


def run(*args):
    return run_pytest(f"{TARGET}::test_named_children", "-p", "no:cacheprovider", "-q", "-rfX", *args)


@pytest.mark.parametrize("evidence, verdict", [
    (FIXED, "no longer reproduces it: fixed upstream: retire the line"),
    (REPRODUCES, "still reproduces the deviation on this torch: the suite no longer sees it: investigate"),
    ("raise RuntimeError('boom')\n", "its evidence script failed (exit 1: RuntimeError: boom): investigate"),
], ids=["fixed", "still-reproduces", "crashes"])
def test_unexpected_pass_fails_the_run_naming_line_and_verdict(tmp_path, evidence, verdict):
    path = planted(tmp_path, evidence)
    result = run(f"--deviations={path}", "--report-dir", str(tmp_path / "out"))
    text = output(result)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, text
    assert f"unexpected pass of a known deviation: {path}:2 claims" in text, text
    assert verdict in text, text


def test_lenient_mode_reports_the_xpass_and_exits_0(tmp_path):
    result = run(f"--deviations={planted(tmp_path)}", "--deviations-mode=lenient", "--report-dir", str(tmp_path / "o"))
    text = output(result)
    assert result.returncode == pytest.ExitCode.OK, text
    assert "1 xpassed" in text and "known deviation" in text
    header = run_pytest(TARGET, "--collect-only", f"--deviations={planted(tmp_path)}", "--deviations-mode=lenient")
    assert "(mode lenient)" in output(header)


def test_skip_mode_skips_with_the_line(tmp_path):
    result = run(f"--deviations={planted(tmp_path)}", "--deviations-mode=skip", "-rs", "--report-dir", str(tmp_path / "o"))
    text = output(result)
    assert result.returncode == pytest.ExitCode.OK, text
    assert "1 skipped" in text and "not run under --deviations-mode skip" in text


def test_selectors_pick_parametrised_ids(tmp_path):
    path = deviations(tmp_path, "conv.sharing.tied_parameters test=test_conversion_keeps_tied_parameters "
                                "setting=overwrite | untied under overwrite | evidence.py")
    result = run_pytest("conformance/test_dtype.py", "-k", "test_conversion_keeps_tied_parameters", "-q", "-rxX",
                        "-p", "no:cacheprovider", f"--deviations={path}", "--report-dir", str(tmp_path / "o"))
    text = output(result)
    assert result.returncode == pytest.ExitCode.OK, text
    assert "2 passed, 1 xfailed" in text, text  # only [overwrite] is claimed (and does fail on torch 2.13)


def test_base_inherits_and_unset_drops(tmp_path):
    (tmp_path / "evidence.py").write_text(REPRODUCES)
    base = tmp_path / "base.txt"
    base.write_text(f"{PASSING} test=test_named_children | inherited claim | evidence.py\n")
    child = tmp_path / "child.txt"
    child.write_text("base: base.txt\n")
    result = run(f"--deviations={child}", "--report-dir", str(tmp_path / "o"))
    assert result.returncode == pytest.ExitCode.TESTS_FAILED and "inherited claim" in output(result)
    child.write_text(f"base: base.txt\nunset: {PASSING} test=test_named_children\n")
    result = run(f"--deviations={child}", "--report-dir", str(tmp_path / "o"))
    assert result.returncode == pytest.ExitCode.OK, output(result)


@pytest.mark.parametrize("text, message", [
    ("conformance/test_traversal.py::* | reason | evidence.py", "is not a registered invariant id (a test id or glob"),
    ("no.such.invariant | reason | evidence.py", "'no.such.invariant' is not a registered invariant id"),
    (f"{PASSING} test=* | reason | evidence.py", "selector 'test=*' matches everything"),
    (f"{PASSING} test | reason | evidence.py", "selector 'test' is not key=glob"),
    (f"{PASSING} | reason with no evidence field", "expected '<invariant id> [key=glob ...] | <reason> | <evidence file>'"),
    (f"{PASSING} | reason | evidence/nowhere.py", "evidence file 'evidence/nowhere.py' not found"),
    ("unset: traversal.children.immediate_and_dedup", "matches no inherited line"),
], ids=["test-glob", "unknown-id", "star", "bare-selector", "two-fields", "no-evidence", "unset-nothing"])
def test_bad_lines_are_usage_errors_naming_the_line(tmp_path, text, message):
    path = deviations(tmp_path, text)
    result = run_pytest(TARGET, "--collect-only", "-q", f"--deviations={path}")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output(result)
    assert f"{path}:2" in output(result) and message in output(result), output(result)
    assert "Traceback" not in output(result)


def test_binary_file_is_a_usage_error(tmp_path):
    path = tmp_path / "devs.bin"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\x80")
    result = run_pytest(TARGET, "--collect-only", "-q", f"--deviations={path}")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR and "is not UTF-8 text" in output(result), output(result)


@pytest.mark.parametrize("option", ["--deviations=", "--deviations-mode=loose", "--deviations-draft="])
def test_bad_options_are_usage_errors(option):
    result = run_pytest(TARGET, "--collect-only", "-q", option)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output(result)
    assert "Traceback" not in output(result)


def test_line_matching_nothing_warns_even_behind_a_bom(tmp_path):
    path = deviations(tmp_path, f"{PASSING} test=test_nowhere | reason | evidence.py")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = run_pytest(TARGET, "--collect-only", "-q", f"--deviations={path}")
    assert result.returncode == pytest.ExitCode.OK, output(result)
    assert f"deviations line {path}:2 ('{PASSING} test=test_nowhere') matches no collected test" in output(result)


def test_draft_lists_the_failures(tmp_path):
    """A backend whose names carry a prefix fails test_names_unprefixed: the draft names it."""
    draft = tmp_path / "draft.txt"
    result = run_pytest("conformance/test_backend.py", "-k", "names", "-q", "-p", "no:cacheprovider", "--backend=compile",
                        f"--deviations={deviations(tmp_path)}", f"--deviations-draft={draft}",
                        "--report-dir", str(tmp_path / "o"))
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, output(result)
    text = draft.read_text()
    assert "backend.names.unprefixed test=test_names_unprefixed | TODO" in text, text


def test_many_stale_lines_are_summed_up(tmp_path):
    lines = [f"{PASSING} test=test_nowhere_{i} | reason | evidence.py" for i in range(10_000)]
    path = deviations(tmp_path, *lines)
    result = run_pytest(TARGET, "--collect-only", "-q", f"--deviations={path}")
    text = output(result)
    assert result.returncode == pytest.ExitCode.OK, text
    assert text.count("matches no collected test: retire it") == 10, text[-2000:]
    assert "9990 more deviations lines match no collected test (lines 12, 13," in text, text[-2000:]


# -- lines conditional on the drawn graph (when= / root= / has=) ------------------------------
TIED = ("conformance/test_dtype.py::test_conversion_keeps_tied_parameters[overwrite]", "-p", "no:cacheprovider",
        "-q", "-rfxX")  # fails on torch 2.13 (an eager deviation), shrunk to a graph whose root is an LSTM


@pytest.mark.parametrize("condition, outcome, said", [
    ("root=LSTM", "1 xfailed", None),
    ("when=LSTM|Linear", "1 xfailed", None),
    ("root=Module|Sequential", "1 failed", "covers only graphs where root=Module|Sequential; this failing graph is not one"),
    ("has=nonpersistent-buffer root=LSTM", "1 failed", "covers only graphs where has=nonpersistent-buffer root=LSTM"),
], ids=["root-matches", "when-matches", "root-differs", "has-differs"])
def test_conditional_line_judged_on_the_failing_graph(tmp_path, condition, outcome, said):
    path = deviations(tmp_path, f"conv.sharing.tied_parameters test=test_conversion_keeps_tied_parameters {condition} "
                                "| untied under overwrite | evidence.py")
    result = run_pytest(*TIED, f"--deviations={path}", "--report-dir", str(tmp_path / "o"))
    text = output(result)
    assert outcome in text, text
    assert result.returncode == (pytest.ExitCode.OK if said is None else pytest.ExitCode.TESTS_FAILED), text
    if said:
        assert f"the known deviation at {path}:2 {said}" in text, text


def test_conditional_line_on_a_passing_test_is_a_pass(tmp_path):
    path = deviations(tmp_path, f"{PASSING} test=test_named_children when=LSTM | a planted claim | evidence.py")
    result = run(f"--deviations={path}", "--report-dir", str(tmp_path / "o"))
    assert result.returncode == pytest.ExitCode.OK and "1 passed" in output(result), output(result)


def test_unknown_feature_is_a_usage_error(tmp_path):
    path = deviations(tmp_path, f"{PASSING} has=tied-buffer | a planted claim | evidence.py")
    result = run(f"--deviations={path}")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output(result)
    assert "selector 'has=tied-buffer': features are nonpersistent-buffer, none-slot, shared-module, tied-parameter, tied-tensor, root-none-buffers" in output(result)


def test_unconditional_line_wins_over_a_conditional_one(tmp_path):
    """A wrapper inherits its base's conditional line; its own unconditional claim on the same
    test must still cover every draw."""
    (tmp_path / "evidence.py").write_text(REPRODUCES)
    path = tmp_path / "devs.txt"
    path.write_text("conv.sharing.tied_parameters test=test_conversion_keeps_tied_parameters root=LSTM | on LSTM | evidence.py\n"
                    "conv.sharing.tied_parameters test=test_conversion_keeps_tied_parameters | always | evidence.py\n")
    result = run_pytest(*TIED, f"--deviations={path}", "--report-dir", str(tmp_path / "o"))
    assert result.returncode == pytest.ExitCode.OK and "1 xfailed" in output(result), output(result)
    assert f"known deviation ({path}:2)" in output(result), output(result)


def test_conditional_line_must_hold_for_every_failure_hypothesis_reports(monkeypatch):
    """Hypothesis reports several distinct failures of one test by replaying each: the line must
    cover the graph of every one, not only the one replayed last (a jit run shrank a bfloat16
    refusal to a one-node graph and a shared-module failure to another; the last hid the first)."""
    from types import SimpleNamespace

    from conformance import deviations as dv
    from conformance import harness, plugin
    from strategies.blueprint import Blueprint, Node, Slot

    plain = Blueprint(nodes=(Node(kind="Module"),), tensors=())
    shared = Blueprint(nodes=(Node(kind="Module"), Node(kind="Sequential", slots=(
        Slot(kind="child", name="0", ref=0), Slot(kind="child", name="1", ref=0)))), tensors=())
    dev = dv.Deviation(invariant="conv.sharing.shared_modules", selectors=(("has", "shared-module"),),
                       reason="planted", evidence="e.py", file=dv.Path("devs.txt"), line=2)

    def judge(*graphs):
        report = SimpleNamespace(outcome="failed", sections=[], user_properties=[])
        monkeypatch.setattr(harness, "FINAL", {i: bp for i, bp in enumerate(graphs)})
        plugin._judge_conditional(None, report, [dev])
        return report

    assert judge(shared).outcome == "skipped"
    assert judge(shared, shared).outcome == "skipped"
    report = judge(plain, shared)
    assert report.outcome == "failed"
    assert report.sections == [("nnconform", "the known deviation at devs.txt:2 covers only graphs where "
                                             "has=shared-module; 1 of the 2 failures Hypothesis reports are on other graphs")]
