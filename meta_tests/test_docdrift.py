"""conformance.docdrift: the registry's quotes against the installed torch's docstrings."""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conformance import docdrift
from conformance.registry import REGISTRY, Invariant

ROOT = Path(__file__).parents[1]
EXTRA_REPR_QUOTE = ("To print customized extra information, you should re-implement this method in your own "
                    "modules. Both single-line and multi-line strings are acceptable.")


def inv(doc, ref="torch.nn.Module.extra_repr", ident="t.x"):
    return Invariant(ident, "documented", "registration", doc, ref)


def only_entry(result, ident="t.x"):
    assert [e["invariant"] for e in result["drift"]] == [ident], result["drift"]
    return result["drift"][0]


# --- the installed torch ---------------------------------------------------------------------

def test_real_registry_has_no_drift_on_installed_torch():
    start = time.perf_counter()
    result = docdrift.check()
    assert time.perf_counter() - start < 1.0
    assert result["drift"] == []
    assert result["checked"] + result["unchecked"] == len(REGISTRY)
    assert result["checked"] > 90 and result["unchecked"] > 20
    assert set(result["fingerprints"]) <= set(REGISTRY)
    assert len(result["fingerprints"]) == result["checked"]
    assert all(re.fullmatch(r"[0-9a-f]{12}", fp) for fp in result["fingerprints"].values())
    assert not torch.cuda.is_initialized()


def test_check_is_pure():
    first = json.loads(json.dumps(docdrift.check()))
    assert docdrift.check() == first


# --- statuses --------------------------------------------------------------------------------

def test_planted_docstring_change_is_changed(monkeypatch):
    original = torch.nn.Module.extra_repr.__doc__
    monkeypatch.setattr(torch.nn.Module.extra_repr, "__doc__", original.replace("single-line", "one-line"))
    result = docdrift.check()
    [entry] = result["drift"]
    assert entry["invariant"] == "attr.repr"
    assert entry["ref"] == "torch.nn.Module.extra_repr"
    assert entry["status"] == "changed"
    assert entry["quote"] == EXTRA_REPR_QUOTE
    assert "torch.nn.Module.extra_repr" in entry["detail"]


def test_altered_quote_is_changed():
    result = docdrift.check({"t.x": inv(f'extra_repr: "{EXTRA_REPR_QUOTE[:-1]} only."')})
    entry = only_entry(result)
    assert entry["status"] == "changed"
    assert entry["quote"].endswith("acceptable only.")
    assert result["checked"] == 1


def test_first_missing_fragment_is_reported():
    doc = f'extra_repr: "{EXTRA_REPR_QUOTE}" "Never written in torch." "Nor this."'
    entry = only_entry(docdrift.check({"t.x": inv(doc)}))
    assert entry["quote"] == "Never written in torch."


# The invariants whose doc quotes Module.extra_repr's docstring.
QUOTING_EXTRA_REPR = {"attr.repr", "attr.extra_repr_default", "containers.param_extra_repr"}


def test_removed_docstring_is_vanished(monkeypatch):
    monkeypatch.setattr(torch.nn.Module.extra_repr, "__doc__", None)
    result = docdrift.check()
    assert {e["invariant"] for e in result["drift"]} == QUOTING_EXTRA_REPR
    [entry] = [e for e in result["drift"] if e["invariant"] == "attr.repr"]
    assert (entry["status"], entry["quote"]) == ("vanished", EXTRA_REPR_QUOTE)


def test_blank_class_docstring_is_vanished(monkeypatch):
    monkeypatch.setattr(torch.nn.ModuleList, "__doc__", "   \n  ")
    vanished = {e["invariant"] for e in docdrift.check()["drift"] if e["status"] == "vanished"}
    assert vanished == {"ml.basics", "ml.operations_sequence", "containers.nested_keys"}


@pytest.mark.parametrize("ref", ["torch.nn.NoSuchModule.state_dict", "torch.nn.Module.no_such_method",
                                 "no_such_package_xyz.thing"])
def test_unimportable_ref_is_unresolvable(ref):
    name = ref.rsplit(".", 1)[-1]
    entry = only_entry(docdrift.check({"t.x": inv(f'{name}: "{EXTRA_REPR_QUOTE}"', ref=ref)}))
    assert (entry["status"], entry["ref"], entry["quote"]) == ("unresolvable", ref, EXTRA_REPR_QUOTE)
    assert entry["detail"].startswith("cannot import")


def test_unimportable_ref_without_quote_is_unresolvable_and_unchecked():
    result = docdrift.check({"t.x": inv("Not documented.", ref="torch.nn.Gone")})
    assert (result["checked"], result["unchecked"]) == (0, 1)
    assert only_entry(result)["status"] == "unresolvable"


def test_unknown_attribution_is_unresolvable():
    entry = only_entry(docdrift.check({"t.x": inv('no_such_method_xyz: "Anything."')}))
    assert entry["status"] == "unresolvable"
    assert "no_such_method_xyz" in entry["detail"]


# --- reading the catalog's forms -------------------------------------------------------------

def test_unquoted_docs_are_unchecked():
    registry = {
        "t.a": inv("Not documented.", ref="torch.nn.Module", ident="t.a"),
        "t.b": inv("Structural law (design.md): round trips are identities", ident="t.b"),
        "t.c": inv('design.md structural law: "not torch\'s words"; here: more.', ident="t.c"),
    }
    assert docdrift.check(registry) == {"checked": 0, "unchecked": 3, "drift": [], "fingerprints": {}}


def test_text_outside_quotes_is_not_compared():
    doc = ('double: "Casts all floating point parameters and buffers to ``double`` datatype." '
           "(`float`, `half` and `bfloat16` use the same wording with their own dtype.)")
    result = docdrift.check({"t.x": inv(doc, ref="torch.nn.Module.double")})
    assert (result["checked"], result["drift"]) == (1, [])


def test_ellipsis_parts_must_each_appear():
    ok = 'requires_grad_: "requires_grad (bool): … Default: ``True``."'
    bad = 'requires_grad_: "requires_grad (bool): … Default: ``False``."'
    ref = "torch.nn.Module.requires_grad_"
    assert docdrift.check({"t.x": inv(ok, ref=ref)})["drift"] == []
    entry = only_entry(docdrift.check({"t.x": inv(bad, ref=ref)}))
    assert entry["status"] == "changed" and "Default: False." in entry["detail"]


def test_quoted_word_inside_a_quote():
    doc = ('Sequential: "It then "chains" outputs to inputs sequentially for each subsequent module, '
           'finally returning the output of the last module."')
    assert docdrift.fragments(doc) == [("Sequential", doc[len('Sequential: "'):-1])]
    assert docdrift.check({"t.x": inv(doc, ref="torch.nn.Sequential")})["drift"] == []
    changed = doc.replace('"chains"', '"links"')
    assert only_entry(docdrift.check({"t.x": inv(changed, ref="torch.nn.Sequential")}))["status"] == "changed"


def test_attributions_resolve_next_to_ref():
    registry = {  # a sibling method, a module function, Class doc, a class elsewhere in torch
        "t.a": inv('modules(): "Return an iterator over all modules in the network."',
                   ref="torch.nn.Module.named_modules", ident="t.a"),
        "t.b": inv('register_module_forward_hook: "This hook will be executed before specific module hooks '
                   'registered with ``register_forward_hook``."',
                   ref="torch.nn.modules.module.register_module_forward_pre_hook", ident="t.b"),
        "t.c": inv('Class doc: "an ``__init__()`` call to the parent class must be made before assignment on the '
                   'child."', ref="torch.nn.Module", ident="t.c"),
        "t.d": inv('Tensor.to: "If the self Tensor already has the correct torch.dtype and torch.device, then self '
                   'is returned."', ref="torch.nn.Module.to", ident="t.d"),
    }
    result = docdrift.check(registry)
    assert (result["checked"], result["drift"]) == (4, [])


def test_markup_is_normalised_on_both_sides():
    assert docdrift.normalise(":class:`~torch.nn.Module`  and\n ``self`` :meth:`a.b <torch.x>` :attr:`dtype`\\ s") \
        == "Module and self a.b dtypes"


def test_off_docstring_objects_are_not_compared():
    doc = 'torch.device: "can be used as a context manager to change the default device tensors are allocated on"'
    result = docdrift.check({"t.x": inv(doc, ref="torch.device")})
    assert (result["checked"], result["unchecked"], result["drift"]) == (0, 1, [])


# --- fingerprints: a docstring that changed while quotes still match --------------------------

def test_added_sentence_is_no_drift_but_changes_the_fingerprint(monkeypatch):
    before = docdrift.check()
    original = torch.nn.Module.parameters.__doc__
    monkeypatch.setattr(torch.nn.Module.parameters, "__doc__", original.replace(
        "Return an iterator over module parameters.",
        "Return an iterator over module parameters.\n\n        The order is unspecified."))
    after = docdrift.check()
    assert after["drift"] == []
    assert docdrift.docstring_changes(before, after) == [
        "layer.rnn.uses_registered_parameters", "traversal.parameters.order", "traversal.parameters.recurse_false",
        "traversal.yields_live_objects_lazily"]  # the invariants quoting Module.parameters's docstring
    assert docdrift.docstring_changes(before, before) == []


# --- command line ----------------------------------------------------------------------------

def test_cli_exit_0_without_drift(capsys):
    assert docdrift.main([]) == 0
    out = capsys.readouterr().out
    assert "0 drifted" in out


def test_cli_exit_1_with_drift_and_json(monkeypatch, capsys):
    monkeypatch.setattr(torch.nn.Module.extra_repr, "__doc__", None)
    assert docdrift.main([]) == 1
    assert "vanished" in capsys.readouterr().out
    assert docdrift.main(["--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(e["invariant"], e["status"]) for e in data["drift"]] == [(i, "vanished") for i in sorted(QUOTING_EXTRA_REPR)]


@pytest.mark.parametrize("argv", [["--bogus"], ["--baseline"], ["--baseline", "/nonexistent/report.json"]])
def test_cli_exit_2_on_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        docdrift.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_cli_baseline_lists_changed_docstrings(tmp_path, monkeypatch, capsys):
    baseline = tmp_path / "old.json"
    baseline.write_text(json.dumps(docdrift.check()))
    monkeypatch.setattr(torch.nn.Module.extra_repr, "__doc__", torch.nn.Module.extra_repr.__doc__ + "\nAdded.")
    assert docdrift.main(["--json", "--baseline", str(baseline)]) == 0
    assert json.loads(capsys.readouterr().out)["docstring_changed"] == sorted(QUOTING_EXTRA_REPR)


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "conformance.docdrift", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["drift"] == []
    bad = subprocess.run([sys.executable, "-m", "conformance.docdrift", "--nope"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
