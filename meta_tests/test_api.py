"""The API inventory (conformance/api.py), the call recorder (conformance/apicalls.py) and the
``--api`` / ``--api-diff`` views of conformance/coverage.py."""
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from torch import nn

from conformance import api, api_scope, apicalls, coverage
from conformance.handle import script

ROOT = Path(__file__).resolve().parents[1]
DROPPED_ENV = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS", "NNCONFORM_BREAK")


@pytest.fixture(scope="module")
def entries():
    return {e.key: e for e in api.inventory()}


def record_of(*texts) -> dict:
    """An api-coverage.json document for a run of these step texts."""
    counts = Counter(call for text in texts for call in apicalls.analyse(text))
    return apicalls.merge([{"calls": [[*c[:3], list(c.keywords), c.overload, c.dynamic, n] for c, n in counts.items()],
                            "steps": len(texts), "distinct_steps": len(texts), "errors": 0, "last_error": None,
                            "tests": 1}])


# -- the inventory -------------------------------------------------------------------------------

def test_module_to_has_its_four_documented_overloads(entries):
    to = entries["Module.to"]
    assert [o.label for o in to.overloads] == ["device", "dtype", "tensor", "memory_format"]
    assert to.overloads[1].params == ("dtype", "non_blocking")
    assert set(to.countable) == {"device", "dtype", "tensor", "memory_format", "non_blocking"}


def test_state_dict_parameters_come_from_signature_and_docstring(entries):
    sd = entries["Module.state_dict"]
    assert sd.countable == ("destination", "prefix", "keep_vars")
    assert sd.doc_params == ("destination", "prefix", "keep_vars")
    assert sd.positional == ("destination", "prefix", "keep_vars")  # api_scope.POSITIONAL: the documented form


def test_inventory_covers_module_containers_and_module_taking_utils(entries):
    assert {"Module.named_modules", "Module.load_state_dict", "Module.register_forward_hook"} <= entries.keys()
    assert {"Sequential.__init__", "Sequential.append", "ModuleDict.update", "ParameterDict.setdefault"} <= entries.keys()
    assert "ModuleList.named_modules" not in entries  # a container lists only what it defines itself
    assert {"nn.utils.parametrize.register_parametrization", "nn.utils.stateless.functional_call",
            "nn.utils.prune.l1_unstructured"} <= entries.keys()
    # over parameter iterables or a module class, not a module: not module API
    assert not [k for k in entries if k.endswith(("clip_grad_norm_", "parameters_to_vector", "skip_init"))]
    assert "nn.utils.spectral_norm" in entries["nn.utils.spectral_norm.spectral_norm"].aliases


def test_documented_only_parameters_are_marked(entries):
    p = entries["ParameterList.__init__"].param("parameters")  # its docstring's name; the signature says values
    if p is None:
        pytest.skip("this torch's ParameterList docstring names the signature's parameter")
    assert not p.accepted and "parameters" not in entries["ParameterList.__init__"].countable


def test_docstring_parsers():
    doc = """Do it.

    .. function:: f(a, b=1)
       :noindex:

    Args:
        a (int): first
            continued: not a parameter
        *rest: more

    Returns:
        x (int): not an argument
    """
    assert api.doc_params(doc) == ("a", "rest")
    assert [(o.label, o.params) for o in api.doc_overloads(doc)] == [("a", ("a", "b"))]


def test_out_of_scope_table_names_inventory_entries(entries):
    assert sorted(set(api_scope.OUT_OF_SCOPE) - set(entries)) == []
    assert sorted(set(api_scope.POSITIONAL) - set(entries)) == []


# -- the AST classifier --------------------------------------------------------------------------

@pytest.mark.parametrize("text, overload", [
    ("out = root.to('cpu')", "device"),
    ("root.to(torch.device('meta'), non_blocking=True)", "device"),
    ("device = 'cpu'\nout = root.to(device)", "device"),
    ("d = 'cpu'\nout = root.to(d)", "device"),  # a name bound in the step
    ("root.to(device)", "device"),  # bound by an earlier step: read by its spelling
    ("root.to(dtype)", "dtype"),
    ("root.to(0)", "device"),
    ("root.to(torch.float64)", "dtype"),
    ("root.to(getattr(torch, 'bfloat16'))", "dtype"),
    ("root.to(dtype=torch.half)", "dtype"),
    ("root.to(torch.zeros(1, dtype=torch.float16))", "tensor"),
    ("root.to(root.a.weight)", "tensor"),
    ("root.to(memory_format=torch.channels_last)", "memory_format"),
    ("root.to(torch.channels_last_3d)", "memory_format"),
])
def test_to_overload_is_read_from_the_arguments(text, overload):
    (call,) = [c for c in apicalls.analyse(text) if c.target == "to"]
    assert call.overload == overload


def test_calls_keep_keywords_positional_counts_and_forms():
    got = apicalls.analyse("print(list(root.state_dict(prefix='p.', keep_vars=True)))\n"
                           "getattr(root.a, 'named_modules')(None, 'x', remove_duplicate=False)\n"
                           "c = nn.Sequential(*mods)\n"
                           "torch.nn.utils.parametrize.register_parametrization(root, 'w', P())\n"
                           "nn.utils.spectral_norm(root)\n"
                           "d = {}\nd.update(x)")  # a dict's update: counted by name (documented limit)
    assert set(got) == {
        apicalls.Call("method", "state_dict", 0, ("keep_vars", "prefix"), None, False),
        apicalls.Call("method", "named_modules", 2, ("remove_duplicate",), None, False),
        apicalls.Call("constructor", "Sequential", 0, (), None, True),
        apicalls.Call("function", "nn.utils.parametrize.register_parametrization", 3, (), None, False),
        apicalls.Call("function", "nn.utils.spectral_norm.spectral_norm", 1, (), None, False),
        apicalls.Call("method", "update", 1, (), None, False),
    }


def test_positional_arguments_bind_through_the_overload(entries):
    measured = {m.entry.key: m for m in api.measure(list(entries.values()), record_of(
        "root.to('cpu', torch.float64)", "root.to(torch.half, True)", "root.state_dict(None, 'p')")["calls"])}
    assert measured["Module.to"].params == {"device", "dtype", "non_blocking"}
    assert measured["Module.to"].missing_overloads == ["tensor", "memory_format"]
    assert measured["Module.state_dict"].missing_params == ["keep_vars"]


def test_handle_steps_are_recorded(monkeypatch):
    monkeypatch.setattr(apicalls, "_COUNTS", Counter())
    monkeypatch.setitem(apicalls._STATE, "on", True)
    h = script("root = nn.Sequential(nn.Linear(2, 2))")
    h.run("root.to(torch.float64)")
    h.attempt("root.get_submodule('nope')")
    assert apicalls._COUNTS == Counter({apicalls.Call("method", "to", 1, (), "dtype", False): 1,
                                        apicalls.Call("method", "get_submodule", 1, (), None, False): 1})


# -- a planted parameter: coverage and the release diff ------------------------------------------

def _plant_new_flag(monkeypatch):
    original = nn.Module.state_dict

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False, new_flag=None):
        return original(self, *args, destination=destination, prefix=prefix, keep_vars=keep_vars)

    state_dict.__doc__ = original.__doc__
    monkeypatch.setattr(nn.Module, "state_dict", state_dict)


def test_a_planted_parameter_shows_as_never_exercised(monkeypatch):
    record = record_of("root.state_dict(destination=d, prefix='a', keep_vars=True)")
    assert "Module.state_dict: parameter new_flag" not in coverage.api_gaps(record)
    _plant_new_flag(monkeypatch)
    planted = api.inventory()
    assert "new_flag" in next(e for e in planted if e.key == "Module.state_dict").countable
    assert "Module.state_dict: parameter new_flag" in coverage.api_gaps(record, planted)
    page = coverage.api_markdown(record, planted)
    assert "| `Module.state_dict` | tested | 1 | `new_flag` |" in page


def test_api_diff_lists_a_planted_parameter(monkeypatch, tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(api.dump(api.inventory())))
    _plant_new_flag(monkeypatch)
    new = tmp_path / "new.json"
    new.write_text(json.dumps(api.dump(api.inventory())))
    assert api.diff(api.load(json.loads(old.read_text())), api.load(json.loads(old.read_text()))) == []
    assert coverage.main(["--api-diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "+ Module.state_dict: parameter new_flag" in out
    assert any(line.startswith("~ Module.state_dict: signature") for line in out)
    assert coverage.main(["--api-diff", str(new), str(old)]) == 0
    assert "- Module.state_dict: parameter new_flag" in capsys.readouterr().out


# -- the plugin, end to end ----------------------------------------------------------------------

def test_recorder_plugin_writes_api_coverage_under_xdist(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/test_devices.py", "-k", "to_returns_self or to_empty",
         "-n", "2", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=ci", "-p", "conformance.apicalls",
         "--report-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / apicalls.FILE).read_text())
    assert record["schema"] == apicalls.SCHEMA and record["processes"] == 2 and record["tests"] > 0
    assert record["analysis_errors"] == 0
    to_device = [c for c in record["calls"] if c["target"] == "to" and c["overload"] == "device"]
    assert to_device and all(c["count"] > 0 for c in to_device)
    page = subprocess.run([sys.executable, "-m", "conformance.coverage", "--api", str(tmp_path / apicalls.FILE)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert page.returncode == 0, page.stderr
    assert "| `Module.to` | tested |" in page.stdout


# -- --check ------------------------------------------------------------------------------------

def test_check_fails_on_a_planted_gap(tmp_path, capsys, monkeypatch):
    path = tmp_path / "api-coverage.json"
    path.write_text(json.dumps(record_of("root.state_dict(destination=d, prefix='a', keep_vars=True)")))
    assert coverage.main(["--api", str(path), "--check"]) == 1  # the rest of the inventory is a gap here
    out = capsys.readouterr().out
    assert "  Module.named_modules: never called" in out and "Module.state_dict" not in out
    # An inventory of state_dict alone: fully exercised, then a run that leaves keep_vars out.
    only = [e for e in api.inventory() if e.key == "Module.state_dict"]
    monkeypatch.setattr(api, "inventory", lambda: only)
    assert coverage.main(["--api", str(path), "--check"]) == 0
    assert "no in-scope API gaps" in capsys.readouterr().out
    path.write_text(json.dumps(record_of("root.state_dict(destination=d, prefix='a')")))
    assert coverage.main(["--api", str(path), "--check"]) == 1
    assert capsys.readouterr().out.splitlines()[1:] == ["  Module.state_dict: parameter keep_vars"]


def test_check_exits_2_on_a_bad_file(tmp_path, capsys):
    assert coverage.main(["--api", str(tmp_path / "missing.json"), "--check"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert coverage.main(["--api", str(bad), "--check"]) == 2
    bad.write_text(json.dumps({"schema": "other"}))
    assert coverage.main(["--api", str(bad), "--check"]) == 2
