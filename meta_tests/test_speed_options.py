"""The speed options (issue 10): ``--smoke``, ``--soak-nodes`` and the ``soak`` profile."""
import pytest

from meta_tests.test_plugin import run_pytest


def run(*args, env=None):
    return run_pytest(*args, "-p", "no:cacheprovider", "-q", env=env, timeout=300)


@pytest.mark.parametrize("args, said", [
    (("--smoke", "3", "-n", "2"), "--smoke runs in one process"),
    (("--smoke", "-1"), "--smoke -1"),
    (("--hypothesis-profile=soak", "--soak-nodes", "0"), "--soak-nodes '0'"),
    (("--hypothesis-profile=soak", "--soak-nodes", "ten"), "--soak-nodes 'ten'"),
])
def test_bad_speed_options_are_usage_errors(args, said, tmp_path):
    result = run("conformance/test_apply_train.py", "--collect-only", "--report-dir", str(tmp_path), *args)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_smoke_phase_runs_the_failing_test_first(tmp_path):
    """Under a break caught by the last test of the file, the run proper starts with that test."""
    result = run("conformance/test_apply_train.py", "-x", "--smoke", "3", "-p", "meta_tests.breaks",
                 "--report-dir", str(tmp_path), "-rf", env={"NNCONFORM_BREAK": "train.mode_not_validated"})
    text = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, text
    assert "smoke phase done" in text and "1 test(s) failed and run first" in text, text
    assert "FAILED conformance/test_apply_train.py::test_train_rejects_non_bool" in text, text
    assert " passed" not in text.splitlines()[-1], text  # nothing else ran before the failure


def test_soak_profile_draws_graphs_of_the_given_size(tmp_path):
    result = run("conformance/test_traversal.py", "-k", "test_named_children", "--hypothesis-profile=soak",
                 "--soak-nodes", "40", "--report-dir", str(tmp_path), "-s")
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr


def test_resized_strategies_draw_exactly_that_many_nodes():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from strategies import blueprints
    from strategies.graphs import resized

    sizes = []
    for strategy, nodes in ((blueprints(), 40), (blueprints(kinds=st.just(("Module",))), 7),
                            (blueprints().filter(lambda bp: True), 300)):  # 300: expanded from a seed
        @settings(max_examples=3, database=None, deadline=None, suppress_health_check=list(HealthCheck))
        @given(resized(strategy, nodes))
        def draw(bp):
            sizes.append((len(bp.nodes), want[0]))
        want = [nodes]
        draw()
    assert sizes and all(n == got for n, got in sizes), sizes
    assert resized(st.just(None), 5) is None
