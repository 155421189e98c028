"""Every documented invariant of the areas the suite promises has a test, or a stated reason."""
from pathlib import Path

from conformance import coverage
from conformance.registry import REGISTRY

README = Path(__file__).parents[1] / "README.md"


def test_documented_invariants_have_tests_or_reasons():
    tested = coverage.tests_by_invariant()
    assert len(tested) > 50, f"collection found tests for only {len(tested)} invariants"
    assert coverage.uncovered_documented(tested) == []


def test_every_marked_invariant_is_registered():
    assert sorted(set(coverage.tests_by_invariant()) - set(REGISTRY)) == []


def test_readme_names_every_uncovered_invariant():
    text = README.read_text()
    assert [ident for ident in coverage.NOT_COVERED if f"`{ident}`" not in text] == []
