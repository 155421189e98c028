"""tools/evidence.py (issue 9): every deviations line's evidence script, run on this torch, reads
as present, fixed or changed. Planted deviations files and tiny scripts; no torch import in them."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from meta_tests.test_deviations import FIXED, PASSING, REPRODUCES

ROOT = Path(__file__).resolve().parents[1]
OTHER = "traversal.modules.dedup"  # a second registered id, so lines differ by pattern

SCRIPTS = {
    "present.py": REPRODUCES,
    "fixed.py": FIXED,
    "crash.py": "raise RuntimeError('boom')\n",
    "silent.py": "print('looked, saw nothing')\n",  # exit 0 without the marker
    "wrong_exit.py": 'print("NOT REPRODUCED")\nraise SystemExit(0)\n',  # marker and exit disagree
    "cannot_run.py": 'import sys\nprint("cannot run: no device", file=sys.stderr)\nraise SystemExit(2)\n',
}


def plant(tmp_path, scripts=SCRIPTS, header="# planted claims\n"):
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    lines = [f"{PASSING if i % 2 else OTHER} test=test_{Path(name).stem} | planted: {name} | {name}"
             for i, name in enumerate(scripts)]
    path = tmp_path / "devs.txt"
    path.write_text(header + "".join(f"{ln}\n" for ln in lines))
    return path


def evidence(*args):
    done = subprocess.run([sys.executable, "tools/evidence.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    return done


def by_script(doc):
    return {ln["evidence"]: ln for ln in doc["lines"]}


def test_three_verdicts(tmp_path):
    path = plant(tmp_path)
    done = evidence("--file", str(path), "--json", "--jobs", "2")
    assert done.returncode == 1, done.stderr  # not everything is present
    doc = json.loads(done.stdout)
    lines = by_script(doc)
    assert {k: v["verdict"] for k, v in lines.items()} == {
        "present.py": "present", "fixed.py": "fixed", "crash.py": "changed", "silent.py": "changed",
        "wrong_exit.py": "changed", "cannot_run.py": "changed"}
    assert lines["crash.py"]["detail"] == "exit 1: RuntimeError: boom"
    assert lines["silent.py"]["detail"] == "exit 0: looked, saw nothing"
    assert lines["wrong_exit.py"]["detail"] == "exit 0: NOT REPRODUCED"
    assert lines["cannot_run.py"]["detail"] == "exit 2: cannot run: no device"
    assert doc["counts"] == {"present": 1, "fixed": 1, "changed": 4}
    first = lines["present.py"]
    assert first["where"].endswith("devs.txt:2") and first["line"] == 2
    assert first["pattern"] == f"{OTHER} test=test_present" and first["reason"] == "planted: present.py"


def test_text_output_and_all_present_exits_0(tmp_path):
    path = plant(tmp_path, {"present.py": REPRODUCES, "again.py": REPRODUCES})
    done = evidence("--file", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith("present  ") and "devs.txt:2" in out[0] and "(present.py)" in out[0], out
    assert out[-1].startswith("torch ") and "2 deviations lines: 2 present, 0 fixed, 0 changed" in out[-1]


def test_timeout_is_changed(tmp_path):
    path = plant(tmp_path, {"slow.py": "import time\ntime.sleep(30)\n"})
    done = evidence("--file", str(path), "--json", "--timeout", "1")
    line = json.loads(done.stdout)["lines"][0]
    assert (line["verdict"], line["detail"], line["exit"]) == ("changed", "timed out after 1 s", None)


def test_inherited_line_listed_once_with_every_file(tmp_path):
    (tmp_path / "present.py").write_text(REPRODUCES)
    base = tmp_path / "base.txt"
    base.write_text(f"{PASSING} test=test_x | inherited | present.py\n")
    child = tmp_path / "child.txt"
    child.write_text("base: base.txt\n")
    done = evidence("--file", str(base), "--file", str(child), "--json")
    lines = json.loads(done.stdout)["lines"]
    assert len(lines) == 1 and lines[0]["backends"] == ["base", "child"], lines
    assert lines[0]["where"].endswith("base.txt:1")


@pytest.mark.parametrize("text, message", [
    ("no.such.invariant | reason | present.py", "'no.such.invariant' is not a registered invariant id"),
    (f"{PASSING} | reason | nowhere.py", "evidence file 'nowhere.py' not found"),
], ids=["unknown-id", "missing-script"])
def test_malformed_file_is_a_usage_error(tmp_path, text, message):
    (tmp_path / "present.py").write_text(REPRODUCES)
    path = tmp_path / "devs.txt"
    path.write_text(f"# bad\n{text}\n")
    done = evidence("--file", str(path))
    assert done.returncode == 2 and f"{path}:2" in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_backend_option_reads_its_file_and_bases():
    """Parsing only (no script runs): compile's file inherits eager's lines."""
    spec = importlib.util.spec_from_file_location("nnconform_tools_evidence", ROOT / "tools" / "evidence.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    entries = tool.collect(tool.deviations_files("compile", False, []))
    files = {e["file"] for e in entries}
    assert files == {"conformance/deviations/eager.txt", "conformance/deviations/compile.txt"}
    assert all(e["backends"] == ["compile"] for e in entries)
    everything = tool.collect(tool.deviations_files(None, True, []))
    eager_line = next(e for e in everything if e["file"].endswith("eager.txt"))
    assert {"eager", "compile", "module-compile"} <= set(eager_line["backends"]), eager_line["backends"]
    assert len({e["where"] for e in everything}) == len(everything)
