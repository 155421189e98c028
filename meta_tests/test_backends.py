"""The backend seam from a user's side: the documented third-party adapter loads by dotted path
and by entry point with no edit to the suite; bad --backend values are usage errors; the name
map and capabilities behave as declared; the known-deviations claims are enforced."""
import json
import os
import re
import subprocess
import sys

import pytest

from conformance import backends
from conformance.handle import NameMap
from meta_tests.test_plugin import ROOT, output, run_pytest

DOC = ROOT / "docs" / "backends.md"


def adapter_source() -> str:
    text = DOC.read_text()
    section = text.split("## A third-party adapter, complete", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapter")
    (folder / "my_nnconform_backend.py").write_text(adapter_source())
    info = folder / "my_nnconform_backend-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-nnconform-backend\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nnconform.backends]\nguarded = my_nnconform_backend:backend\n")
    return folder


def test_documented_adapter_is_short():
    assert len(adapter_source().splitlines()) < 100


@pytest.mark.parametrize("spec", ["my_nnconform_backend:backend", "guarded"], ids=["dotted", "entry-point"])
def test_documented_adapter_runs_without_editing_the_suite(adapter, spec, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(adapter))
    devs = tmp_path / "guarded.txt"
    devs.write_text("base: eager\n")  # as docs/backends.md says: inherit eager torch's known deviations
    result = run_pytest("conformance/test_backend.py", "conformance/test_state_dict.py", "-p", "no:cacheprovider",
                        "-rs", "--backend", spec, "--report-dir", str(tmp_path), f"--deviations={devs}")
    text = output(result)
    assert "backend=guarded guarded 0.1" in text, text
    # The declared name map: the prefix is one finding; the state_dict checks pass modulo the map.
    failed = set(re.findall(r"FAILED\s+\S+::(\w+)", text))
    assert failed == {"test_names_unprefixed"}, text
    assert "qualified names differ" in text
    assert "root = Guarded(root)" in text  # the reproducer is what ran, wrap step included
    assert re.search(r"\d+ passed", text), text


@pytest.mark.parametrize("spec, message", [
    ("nope", "unknown --backend 'nope'; available: eager, module-compile"),
    ("no_such_module:backend", "cannot import 'no_such_module'"),
    ("conformance.backends:nothing", "has no attribute 'nothing'"),
    ("conformance.backends:available", "not a conformance.backends.Backend"),
    ("", "--backend is empty"),
])
def test_bad_backend_is_a_usage_error(spec, message):
    result = run_pytest("conformance/test_backend.py", "--collect-only", "-q", f"--backend={spec}")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output(result)
    assert message in output(result)
    assert "Traceback" not in output(result)


def test_name_map_round_trips():
    names = NameMap("_orig_mod.")
    for name in ["", "a", "a.b"]:
        assert names.model(names.live(name)) == name
    assert names.model("") is None and names.model("other.x") is None


def test_unknown_capability_is_rejected():
    with pytest.raises(ValueError, match="unknown capabilities"):
        backends.Backend("x", "x", lacks={"teleport": "no"})


def test_missing_capability_skips_with_the_reason(adapter, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(adapter))
    result = run_pytest("conformance/test_containers.py", "-p", "no:cacheprovider", "-q", "-rs",
                        "--backend", "guarded", "-k", "sequential_index")
    text = output(result)
    assert result.returncode == 0, text
    assert "backend guarded lacks capability 'containers'" in text
    assert "Guarded wraps a root module" in text


def test_device_plugin_is_imported_and_echoed(tmp_path, monkeypatch):
    (tmp_path / "my_device_plugin.py").write_text("import os\nos.environ['MY_DEVICE_PLUGIN_LOADED'] = '1'\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = run_pytest("conformance/test_backend.py", "-p", "no:cacheprovider", "-q", "--device-plugin",
                        "my_device_plugin", "-k", "names", "--backend", "compile", "--report-dir", str(tmp_path),
                        "--runxfail")  # the compile name prefix is a known deviation: show its reproducer
    assert "import my_device_plugin  # --device-plugin" in output(result), output(result)
    bad = run_pytest("conformance/test_backend.py", "--collect-only", "-q", "--device-plugin", "nope_plugin")
    assert bad.returncode == pytest.ExitCode.USAGE_ERROR and "--device-plugin 'nope_plugin' cannot be imported" in output(bad)


def test_reproducer_replays_to_the_reported_actual(tmp_path):
    """A planted failure's reproducer, run in a fresh interpreter, prints the reported actual."""
    run_pytest("conformance/test_backend.py", "-p", "no:cacheprovider", "-q", "-k", "names",
               "--backend", "compile", "--report-dir", str(tmp_path), "--runxfail")
    doc = json.loads((tmp_path / "report.json").read_text())
    failure = next(r["failure"] for r in doc["rows"] if r["failure"])
    script = tmp_path / "repro.py"
    script.write_text(failure["reproducer"])
    replay = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    actual = re.search(r"actual:\s+(.*)", failure["message"]).group(1)
    assert replay.stdout.strip().splitlines()[-1] == actual, (replay.stdout, actual)


# -- fixed examples go through the backend (issue 7) ------------------------------------------------
MARKING = backends.Backend("marking", "marks the root, then wraps it as child 0 of a Sequential",
                           prelude="MARK = 'wrapped'\n", wrap="root.marker = MARK\nroot = nn.Sequential(root)",
                           names=NameMap("0."))


def test_fixed_example_goes_through_the_wrap_step():
    """``script(source, backend=...)`` runs the backend's prelude and wrap step on ``root`` after
    ``source``, shows them in the program (prelude first, wrap after the source) and names through
    the backend's name map: what ``Backend.build`` does for a blueprint."""
    from conformance.handle import script

    h = script("root = nn.Module()\nroot.w = nn.Parameter(torch.zeros(1))", backend=MARKING)
    assert type(h.root).__name__ == "Sequential" and h.module("").marker == "wrapped"
    assert h.names is MARKING.names and h.node_ref("") == "getattr(root, '0')"
    assert h.run("list(root.state_dict())") == [h.names.live("w")] == ["0.w"]
    program = h.program
    assert program.startswith("MARK = 'wrapped'\n")
    assert program.index("root.w = nn.Parameter") < program.index("root.marker = MARK\nroot = nn.Sequential(root)\n")
    # Without a backend (the fixed examples of eager torch), nothing is wrapped.
    plain = script("root = nn.Module()")
    assert type(plain.root).__name__ == "Module" and not hasattr(plain.root, "marker")


def test_fixed_example_skips_when_only_the_wrap_step_raises():
    """A wrap step that raises is the wrapper's precondition (no blueprint for ``admits``): the test
    skips, naming the backend and the exception's first line. The source's errors stay errors."""
    from conformance.handle import script

    refusing = backends.Backend("refusing", "cannot wrap", wrap="raise RuntimeError('no forward to trace\\nmore')")
    with pytest.raises(pytest.skip.Exception,
                       match=r"^backend refusing cannot wrap this hand-written root: RuntimeError: no forward to trace$"):
        script("root = nn.Module()", backend=refusing)
    with pytest.raises(ValueError, match="in the source"):
        script("raise ValueError('in the source')", backend=refusing)


def test_fixed_example_runs_through_a_selected_backend(adapter, monkeypatch, tmp_path):
    """End to end: a converted fixed example under ``--backend``. A Guarded wrapper that does not
    declare its name map makes the fixed example see ``inner.``-prefixed names, so it fails and its
    reproducer shows the wrap step; with the map declared (the documented adapter) it passes. If
    fixed examples ignored the backend, the first run would pass (or skip)."""
    (tmp_path / "unmapped_guarded.py").write_text(
        "from conformance.backends import Backend\n\n\n"
        "def backend():\n"
        "    return Backend(name='unmapped', description='Guarded without its name map', version='guarded 0.1',\n"
        "                   prelude='from my_nnconform_backend import Guarded\\n', wrap='root = Guarded(root)')\n")
    monkeypatch.setenv("PYTHONPATH", f"{adapter}{os.pathsep}{tmp_path}")
    devs = tmp_path / "none.txt"
    devs.write_text("")
    args = ("conformance/test_traversal.py", "-p", "no:cacheprovider", "-q", "-rA", "-k",
            "test_dedup_is_by_object_not_storage", f"--deviations={devs}", "--report-dir", str(tmp_path))
    unmapped = output(run_pytest(*args, "--backend", "unmapped_guarded:backend"))
    assert re.search(r"FAILED \S+::test_dedup_is_by_object_not_storage", unmapped), unmapped
    assert "'inner.a'" in unmapped and "root = Guarded(root)" in unmapped, unmapped
    mapped = output(run_pytest(*args, "--backend", "my_nnconform_backend:backend"))
    assert re.search(r"PASSED \S+::test_dedup_is_by_object_not_storage", mapped), mapped


COMPILED_STEPS = """
from conformance import backends
from conformance.handle import script
compiled = backends.BUILTIN["compile"]
compiled.prepare()
step = "h1 = root._orig_mod.register_forward_hook(lambda m, a, o: o + k)\\nroot(torch.ones(1))"
for k in range(3):
    h = script(f"class M(nn.Module):\\n    def forward(self, x):\\n        return x * 2\\nroot = M()\\nk = {k}\\n",
               backend=compiled)
    print(h.run(step).tolist())
"""


def test_compiled_steps_bind_each_handles_namespace():
    """torch.compile caches per code object: a lambda defined in a step shared by several
    handles must see each handle's own globals (Handle._compile, Compiled.fresh_code). In a
    fresh interpreter: compiling patches nn.Module for the rest of the process."""
    done = subprocess.run([sys.executable, "-c", COMPILED_STEPS], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[2.0]", "[3.0]", "[4.0]"], done.stdout
