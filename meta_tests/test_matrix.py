"""The release matrix (issue 9): torch specs and their slugs, the Makefile's install stamp, and the
matrix page drawn from two small reports. Nothing here installs torch or creates a venv."""
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from reports import matrix as page

ROOT = Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("nnconform_tools_matrix", ROOT / "tools" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
WHEEL = "torch-2.15.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


# --- specs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, requirement, slug, kind", [
    ("2.14.1", "torch==2.14.1", "torch-2.14.1", "version"),
    ("2.16.0.dev20260301+cpu", "torch==2.16.0.dev20260301+cpu", "torch-2.16.0.dev20260301_cpu", "version"),
    ("torch==2.15.0", "torch==2.15.0", "torch-2.15.0", "requirement"),
    ("torch>=2.14,<2.15", "torch>=2.14,<2.15", "torch-ge2.14-lt2.15", "requirement"),
    ("torch", "torch", "torch", "requirement"),
], ids=["version", "dev-version", "pinned", "range", "bare-name"])
def test_versions_and_requirements(text, requirement, slug, kind):
    spec = tool.parse_spec(text, cwd=ROOT)
    assert (spec.requirement, spec.slug, spec.kind) == (requirement, slug, kind)


def test_wheel_path_is_absolute_and_slug_is_readable_plus_hash(tmp_path):
    spec = tool.parse_spec(f"wheels/{WHEEL}", cwd=tmp_path)
    assert spec.kind == "path" and spec.requirement == str(tmp_path / "wheels" / WHEEL)
    name, version, digest = spec.slug.rsplit("-", 2)
    assert (name, version) == ("torch", "2.15.0_cpu") and len(digest) == 8, spec.slug
    other = tool.parse_spec(f"/elsewhere/{WHEEL}", cwd=tmp_path)
    assert other.slug != spec.slug and other.slug.startswith("torch-2.15.0_cpu-"), "the hash tells paths apart"
    assert tool.parse_spec("/tmp/x.whl").slug.startswith("path-x-")


@pytest.mark.parametrize("text, requirement", [
    (f"torch @ https://download.pytorch.org/whl/cpu/{WHEEL.replace('+', '%2B')}",
     f"torch @ https://download.pytorch.org/whl/cpu/{WHEEL.replace('+', '%2B')}"),
    (f"torch@file:///tmp/{WHEEL}", f"torch @ file:///tmp/{WHEEL}"),
    (f"https://example.org/{WHEEL}", f"https://example.org/{WHEEL}"),
], ids=["direct-url", "direct-file-url", "bare-url"])
def test_urls(text, requirement):
    spec = tool.parse_spec(text)
    assert spec.kind == "url" and spec.requirement == requirement
    assert spec.slug.startswith("torch-2.15.0_cpu-") and len(spec.slug) == len("torch-2.15.0_cpu-") + 8, spec.slug
    assert set(spec.slug) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_a_list_splits_on_spaces_but_keeps_direct_urls_whole():
    specs = tool.split_specs(["2.13.0 torch==2.14.1", "torch @ https://example.org/t.whl 2.15.0"])
    assert specs == ["2.13.0", "torch==2.14.1", "torch @ https://example.org/t.whl", "2.15.0"]
    assert [s.slug for s in tool.parse_specs(["2.13.0 2.14.1"])] == ["torch-2.13.0", "torch-2.14.1"]


@pytest.mark.parametrize("specs, message", [
    (["2.14.1 torch==2.14.1"], "name the same entry (torch-2.14.1)"),
    (["bad!spec"], "is not a version (2.14.1), a requirement"),
    ([""], "no torch spec given"),
], ids=["duplicate", "garbage", "empty"])
def test_bad_specs_are_usage_errors(specs, message):
    with pytest.raises(tool.SpecError) as info:
        tool.parse_specs(specs)
    assert message in str(info.value)
    done = subprocess.run([sys.executable, "tools/matrix.py", "--print-specs", *specs], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_print_specs_installs_nothing(tmp_path):
    done = subprocess.run([sys.executable, "tools/matrix.py", "--print-specs", "--venvs", str(tmp_path / "v"),
                           "--out", str(tmp_path / "o"), "2.13.0 torch @ file:///tmp/x.whl"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "torch-2.13.0\tversion\ttorch==2.13.0"
    assert "\turl\ttorch @ file:///tmp/x.whl" in done.stdout
    assert not (tmp_path / "v").exists() and not (tmp_path / "o").exists()


def test_stamp_changes_with_spec_and_pip_args():
    spec = tool.parse_spec("2.14.1")
    names = {tool.stamp_name(spec, ""), tool.stamp_name(spec, "--pre"),
             tool.stamp_name(tool.parse_spec("2.13.0"), "")}
    assert len(names) == 3 and all(n.startswith(".installed-") for n in names)
    assert tool.stamp_name(spec, "--index-url  X") == tool.stamp_name(spec, "--index-url X")


# --- the Makefile -----------------------------------------------------------------------------

def make_n(*args):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("torch", ["/tmp/x.whl", "torch @ file:///tmp/x.whl", "it's odd"], ids=["path", "url", "quote"])
def test_make_setup_stamp_is_a_hash(torch):
    done = make_n("setup", f"TORCH={torch}", "VENV=/nonexistent-venv")
    assert done.returncode == 0, done.stderr
    touch = [ln for ln in done.stdout.splitlines() if ln.startswith("touch ")]
    assert len(touch) == 1 and touch[0].startswith("touch /nonexistent-venv/.installed-"), done.stdout
    assert len(touch[0].rsplit("-", 1)[1]) == 16 and "/tmp" not in touch[0], touch
    assert "pip install -q" in done.stdout


def test_make_setup_passes_pip_args_to_torch_only():
    done = make_n("setup", "TORCH=2.15.0", "TORCH_INDEX=https://download.pytorch.org/whl/cpu", "VENV=/nonexistent-venv")
    assert done.returncode == 0, done.stderr
    torch_line = [ln for ln in done.stdout.splitlines() if ln.rstrip().endswith('"$spec"')]
    assert torch_line and "--index-url https://download.pytorch.org/whl/cpu" in torch_line[0], done.stdout
    assert done.stdout.count("--index-url") == 1, "only the torch install takes the index"
    plain = make_n("setup", "TORCH=2.15.0", "VENV=/nonexistent-venv")
    stamp = lambda out: next(ln for ln in out.splitlines() if ln.startswith("touch "))  # noqa: E731
    assert stamp(plain.stdout) != stamp(done.stdout)


def test_make_conformance_sends_every_report_to_out():
    done = make_n("conformance", "OUT=/tmp/somewhere")
    assert done.returncode == 0, done.stderr
    assert "--report-dir=/tmp/somewhere" in done.stdout and "--junitxml=/tmp/somewhere/junit.xml" in done.stdout


def test_make_matrix_is_a_thin_wrapper():
    done = make_n("matrix", "TORCH=2.13.0 torch @ file:///tmp/x.whl", "PIP_ARGS=--pre", "OUT=/tmp/o")
    assert done.returncode == 0, done.stderr
    assert "tools/matrix.py --out /tmp/o/matrix --venvs .venv-matrix" in done.stdout
    assert "--pip-args='--pre'" in done.stdout and "'2.13.0 torch @ file:///tmp/x.whl'" in done.stdout


# --- the page ---------------------------------------------------------------------------------

EVIDENCE = "evidence/planted.py"
LINE = "conformance/deviations/eager.txt:3"
GONE = "conformance/deviations/eager.txt:4"


def _row(test, invariant, outcome, deviation=None, message=None):
    return {"test": f"conformance/test_x.py::{test}", "invariant": invariant, "tier": "documented", "area": "x",
            "backend": "eager", "devices": [], "outcome": outcome, "examples": None, "duration": 0.1,
            "failure": {"message": message, "phase": "call", "reproducer": None, "doc": None} if message else None,
            "skip_reason": None, "deviation": deviation}


def _report(version, rows):
    return {"schema": "nnconform-report", "schema_version": 1,
            "run": {"complete": True, "incomplete_reason": None, "exit_status": 0, "backend": "eager",
                    "start": "2026-01-01T00:00:00Z", "torch": {"version": version}},
            "summary": dict(Counter(r["outcome"] for r in rows)), "invariants": {}, "rows": rows}


def _evidence(version, verdict):
    lines = [{"where": LINE, "pattern": "a.claim test=test_claimed", "evidence": EVIDENCE, "reason": "r",
              "verdict": verdict, "detail": "REPRODUCED" if verdict == "present" else "NOT REPRODUCED"},
             {"where": GONE, "pattern": "b.claim test=test_gone", "evidence": EVIDENCE, "reason": "r",
              "verdict": "changed", "detail": "exit 3: RuntimeError: boom"}]
    return {"torch": version, "counts": dict(Counter(ln["verdict"] for ln in lines)), "lines": lines}


@pytest.fixture
def two_releases(tmp_path):
    dev = {"pattern": "a.claim test=test_claimed", "reason": "r", "evidence": EVIDENCE}
    old = _report("2.13.0+cpu", [
        _row("test_same", "same.inv", "passed"),
        _row("test_regresses", "moving.inv", "passed"),
        _row("test_claimed", "a.claim", "xfailed", dev, message="AssertionError: deviates"),
    ])
    new = _report("2.14.1", [
        _row("test_same", "same.inv", "passed"),
        _row("test_regresses", "moving.inv", "failed", message="boom"),
        _row("test_claimed", "a.claim", "failed", dict(dev, where=LINE),
             message=f"unexpected pass of a known deviation: {LINE} claims ..."),
    ])
    paths = []
    for slug, doc, ev in (("torch-2.13.0", old, _evidence("2.13.0+cpu", "present")),
                          ("torch-2.14.1", new, _evidence("2.14.1", "fixed"))):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "report.json").write_text(json.dumps(doc))
        (tmp_path / slug / "evidence.json").write_text(json.dumps(ev))
        paths.append(str(tmp_path / slug / "report.json"))
    return tmp_path, paths


def _table_row(text, first_cell):
    return next(ln for ln in text.splitlines() if ln.startswith(f"| {first_cell} |"))


def test_page_shows_invariants_and_deviations_per_release(two_releases, capsys):
    folder, paths = two_releases
    assert page.main([*paths, "--out", str(folder / "page")]) == 0
    text = (folder / "page" / "index.md").read_text()
    assert capsys.readouterr().out == text
    assert "| invariant | torch-2.13.0 | torch-2.14.1 |" in text
    differ = text.split("## Invariants whose outcomes differ between releases (2)")[1].split("##")[0]
    assert "moving.inv" in differ and "same.inv" not in differ, differ
    assert _table_row(differ, "moving.inv") == "| moving.inv | ✓ passed:1 | ✗ failed:1 |"
    claimed = _table_row(text, f"`{LINE}`")
    assert claimed.endswith("| xfailed 1 · present | xpassed 1 · fixed |"), claimed
    gone = _table_row(text, f"`{GONE}`")
    assert gone.endswith("| absent · changed | absent · changed |"), gone
    html = (folder / "page" / "index.html").read_text()
    assert "xpassed 1 · fixed" in html and 'title="exit 3: RuntimeError: boom"' in html and "<script" not in html


def test_page_takes_failed_installs_and_comparisons_from_the_manifest(two_releases):
    folder, paths = two_releases
    manifest = {"backend": "eager", "profile": "ci", "pip_args": "",
                "entries": [{"slug": "torch-2.13.0", "spec": "2.13.0", "install": "reused", "report": paths[0],
                             "torch": "2.13.0+cpu", "pytest_exit": 0},
                            {"slug": "torch-9.9.9", "spec": "9.9.9", "install": "failed", "report": None,
                             "install_detail": "pip install of torch failed: a pip constraint"},
                            {"slug": "torch-2.14.1", "spec": "2.14.1", "install": "installed", "report": paths[1],
                             "torch": "2.14.1", "pytest_exit": 1}],
                "comparisons": [{"old": "torch-2.13.0", "new": "torch-2.14.1", "exit": 1, "meaning": "REGRESSED",
                                 "file": str(folder / "compare-torch-2.13.0-vs-torch-2.14.1.md")}]}
    (folder / "matrix.json").write_text(json.dumps(manifest))
    assert page.main([*paths, "--manifest", str(folder / "matrix.json"), "--out", str(folder)]) == 0
    text = (folder / "index.md").read_text()
    assert "| invariant | torch-2.13.0 | torch-9.9.9 | torch-2.14.1 |" in text, "manifest order, failed entry kept"
    assert _table_row(text, "torch-9.9.9").startswith("| torch-9.9.9 | 9.9.9 | – | failed |")
    assert "- torch-9.9.9: install failed: pip install of torch failed: a pip constraint" in text
    assert "| torch-2.13.0 | torch-2.14.1 | 1 | REGRESSED | `compare-torch-2.13.0-vs-torch-2.14.1.md` |" in text
    assert _table_row(text, f"`{LINE}`").endswith("| xfailed 1 · present | not run | xpassed 1 · fixed |")


def test_page_refuses_unreadable_input(tmp_path, capsys):
    bad = tmp_path / "report.json"
    bad.write_text("{not json")
    assert page.main([str(bad)]) == 2
    assert "cannot read report" in capsys.readouterr().err
    bad.write_text("[]")
    assert page.main([str(bad)]) == 2
