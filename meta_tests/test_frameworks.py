"""The framework seam (Note [framework profiles]): step translation, narrowed draws, design lines,
the per-backend totals, and a whole run through a toy framework (torch under a partial profile),
which needs neither PaddlePaddle nor MLX installed."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import build as builder
from conformance.frameworks import Framework, NoCounterpart, Profile, method
from meta_tests.test_plugin import output, run_pytest
from reports import backends as report_backends
from strategies import blueprints
from strategies.graphs import restricted

TOY = Profile(
    framework="torch-toy", module="torch", distribution="torch", extra=".[toy]", imports="", render=builder.render,
    kinds=("Module",),
    methods={
        "named_modules": method("named_modules", kwargs={"prefix": "prefix", "remove_duplicate": None}),
        "children": method("children", wrap="list({})"),
        "named_children": method("named_children"),
        "state_dict": "the toy framework has no state dicts",
    },
    names={"torch.float64": "'f64'", "nn.Module": "Layer"},
)
# The toy backend for the whole-run test: torch itself, under the toy profile.
TOY_BACKEND = Framework("toy", "torch under a partial toy profile", profile=TOY)


def test_mapped_method_is_rewritten_with_its_keywords():
    assert TOY.translate("list(root.named_modules(prefix=p))") == "list(root.named_modules(prefix=p))"
    assert TOY.translate("n3.children()") == "list(n3.children())"
    assert TOY.translate("getattr(root, 'a.b').children()") == "list(getattr(root, 'a.b').children())"


def test_unmapped_keyword_method_and_name_have_no_counterpart():
    with pytest.raises(NoCounterpart, match=r"Module.named_modules: .*remove_duplicate"):
        TOY.translate("list(root.named_modules(remove_duplicate=False))")
    with pytest.raises(NoCounterpart, match="no counterpart in torch-toy for Module.state_dict: the toy framework has no state dicts"):
        TOY.translate("root.state_dict()")
    with pytest.raises(NoCounterpart, match="Module.named_parameters: the torch-toy profile maps no counterpart"):
        TOY.translate("list(root.a.named_parameters())")
    with pytest.raises(NoCounterpart, match="no counterpart in torch-toy for torch.float32"):
        TOY.translate("x = torch.float32")


def test_names_map_and_other_receivers_pass_through():
    assert TOY.translate("d = torch.float64\nm = nn.Module()") == "d = 'f64'\nm = Layer()"
    # Not reached from root or a node label: a dict's keys, a list's append are no Module calls.
    assert TOY.translate("sd.keys()\nout.append(1)\nlist(x)") == "sd.keys()\nout.append(1)\nlist(x)"


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_restricted_strategy_draws_only_the_kinds(data):
    bp = data.draw(restricted(blueprints(max_nodes=5), kinds=("Module", "Sequential")), label="blueprint")
    assert {n.kind for n in bp.nodes} <= {"Module", "Sequential"}
    filtered = restricted(blueprints(max_nodes=4).filter(lambda b: len(b.nodes) >= 2), kinds=("Module",))
    bp = data.draw(filtered, label="filtered blueprint")
    assert len(bp.nodes) >= 2 and {n.kind for n in bp.nodes} == {"Module"}


def test_restricted_keeps_other_strategies_to_admits():
    assert restricted(st.just(None), kinds=("Module",)) is None


def test_unavailable_framework_names_the_extra():
    ghost = Framework("ghost", "x", profile=Profile(framework="no_such_framework_xyz", distribution="nope",
                                                    extra=".[ghost]", imports="", render=str, kinds=("Module",)))
    reason = ghost.unavailable()
    assert "no_such_framework_xyz cannot be imported" in reason and "pip install -e '.[ghost]'" in reason
    assert ghost.label == "ghost nope (not installed)"
    assert ghost.refuses("meta") and ghost.refuses(None) is None


def test_design_line_is_flagged(tmp_path):
    from conformance import deviations
    from conformance.registry import REGISTRY

    (tmp_path / "ev.py").write_text("print('REPRODUCED')\n")
    (tmp_path / "x.txt").write_text(
        "design traversal.modules.dedup test=test_a | the framework documents another order | ev.py\n"
        "traversal.modules.dedup test=test_b | a deviation | ev.py\n")
    design, plain = deviations.load(tmp_path / "x.txt", REGISTRY)
    assert design.design and design.invariant == "traversal.modules.dedup" and design.selectors == (("test", "test_a"),)
    assert not plain.design


def test_totals_split_skips_and_expected_failures():
    rows = [{"invariant": "a", "outcome": "xfailed", "deviation": {"design": True}},
            {"invariant": "a", "outcome": "xfailed", "deviation": {"reason": "x"}},
            {"invariant": "b", "outcome": "skipped", "skip_reason": "no counterpart in mlx for Module.to: ..."},
            {"invariant": "b", "outcome": "skipped", "skip_reason": "backend mlx lacks capability 'hooks' (...)"},
            {"invariant": "c", "outcome": "skipped", "skip_reason": "backend mlx refuses a module built on meta"},
            {"invariant": "c", "outcome": "passed"}]
    doc = {"run": {"backend": "mlx", "backend_label": "mlx mlx 0.32.4", "complete": True}, "rows": rows}
    _, _, totals = report_backends.table([doc])
    t = totals["mlx"]
    assert [t[k] for k in ("design difference", "deviation", "no counterpart", "capability skip", "other skip",
                           "passed")] == [1, 1, 1, 1, 1, 1]
    text = report_backends.markdown([doc])
    assert "| mlx | mlx mlx 0.32.4 | 1 | 0 | 0 | 0 | 1 | 1 | 1 | 1 | 1 | yes |" in text


def test_toy_framework_run_passes_translates_and_skips_with_the_api(tmp_path):
    """A whole run through the seam: steps the toy profile maps run (translated text in the
    transcript), steps it cannot map skip naming the API, and the report says which is which."""
    result = run_pytest("conformance/test_traversal.py", "-q", "-p", "no:cacheprovider",
                        "--backend", "meta_tests.test_frameworks:TOY_BACKEND", "--report-dir", str(tmp_path),
                        "-k", "test_named_children or test_named_modules_prefix or test_named_modules_preorder", timeout=300)
    assert result.returncode == pytest.ExitCode.OK, output(result)
    rows = {r["test"].split("::")[1]: r for r in json.loads((tmp_path / "report.json").read_text())["rows"]}
    assert rows["test_named_children"]["outcome"] == "passed"
    assert rows["test_named_modules_prefix"]["outcome"] == "passed"
    skipped = rows["test_named_modules_preorder"]
    assert skipped["outcome"] == "skipped"
    assert "no counterpart in torch-toy for Module.modules" in skipped["skip_reason"]
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["run"]["backend_label"].startswith("toy torch ")
