"""The device plugin itself: ``--device`` errors, CUDA stays uninitialised, the simulated accelerator."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conformance import devices

ROOT = Path(__file__).resolve().parents[1]

# A plugin that makes CUDA initialisation raise, loaded with -p before the suite is imported.
POISON = '''
import torch, torch.cuda

CALLS = []

def _poisoned(*args, **kwargs):
    CALLS.append(1)
    raise RuntimeError("nnconform meta test: CUDA initialisation attempted")

torch.cuda._lazy_init = _poisoned

def pytest_collection_finish(session):
    print(f"CUDA init attempts: {len(CALLS)}; initialized: {torch.cuda.is_initialized()}")
'''


def run_pytest(tmp_path, *args, poison=False):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    env.pop("PYTEST_XDIST_WORKER", None)
    extra = []
    if poison:
        (tmp_path / "cuda_poison.py").write_text(POISON)
        extra = ["-p", "cuda_poison"]
    return subprocess.run([sys.executable, "-m", "pytest", *extra, "-p", "no:cacheprovider", *args],
                          check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_unknown_device_is_a_usage_error_naming_it(tmp_path):
    result = run_pytest(tmp_path, "--co", "-q", "conformance/test_devices.py", "--device", "cpu,bogus")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "bogus" in result.stderr and "present here: cpu" in result.stderr, result.stderr


def test_absent_device_asked_for_is_a_usage_error(tmp_path):
    if devices.absent_reason("cuda:7") is None:
        pytest.skip("eight GPUs are visible here")
    result = run_pytest(tmp_path, "--co", "-q", "conformance/test_devices.py", "--device", "cuda:7")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "cuda:7" in result.stderr, result.stderr


def test_collecting_the_suite_never_initialises_cuda(tmp_path):
    result = run_pytest(tmp_path, "--co", "-q", "conformance", poison=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "CUDA initialisation attempted" not in output, output[-3000:]
    assert "CUDA init attempts: 0; initialized: False" in result.stdout, output[-3000:]


def test_the_cuda_poison_would_catch_an_initialisation(tmp_path):
    """Control: the same harness does see a CUDA initialisation when one happens."""
    (tmp_path / "test_touch_cuda.py").write_text("import torch\ntorch.cuda.current_device()\n\ndef test_x():\n    pass\n")
    result = run_pytest(tmp_path, "--co", "-q", str(tmp_path / "test_touch_cuda.py"), poison=True)
    assert result.returncode != 0 and "CUDA initialisation attempted" in result.stdout + result.stderr


def test_report_header_lists_absent_devices(tmp_path):
    header = run_pytest(tmp_path, "--co", "conformance/test_devices.py").stdout
    assert "nnconform devices: cpu, meta" in header, header[:2000]
    for name in ("cuda", "xpu", "mps"):
        if devices.absent_reason(name):
            assert f"not present: {devices.absent_reason(name)}" in header, header[:2000]


def test_simulated_accelerator_round_trips():
    reason = devices.simulated_accelerator()
    if reason:
        pytest.skip(reason)
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool):
        x = (torch.arange(-3, 9) % 5).to(dtype).reshape(3, 4)
        y = x.to(devices.SIM)
        assert y.device == torch.device(devices.SIM, 0) and y.dtype == dtype
        assert torch.equal(y.cpu(), x)
        assert torch.equal(y.t()[1:].cpu(), x.t()[1:])  # views share the device memory
    with torch.random.fork_rng(devices=[]):  # Linear's init draws from the global RNG
        m = torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    assert m.to(devices.SIM) is m and m.weight.device.type == devices.SIM
    m.to("cpu")
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_simulated_accelerator_in_place_and_out_ops():
    if devices.simulated_accelerator():
        pytest.skip(devices.simulated_accelerator())
    y = torch.zeros(4).to(devices.SIM)
    y.add_(2).view(2, 2)[1].mul_(3)
    assert y.cpu().tolist() == [2, 2, 6, 6]
    with torch.device(devices.SIM):
        z = torch.arange(5)  # an out= op that resizes its output
    assert z.device.type == devices.SIM and z.cpu().tolist() == [0, 1, 2, 3, 4]


def test_missing_backend_helper_gives_a_reason(monkeypatch):
    from torch.utils import backend_registration

    monkeypatch.delattr(backend_registration, "_setup_privateuseone_for_python_backend")
    assert "lacks the PrivateUse1 Python backend helper" in devices._register()


@pytest.mark.parametrize("worker, count, expected", [("gw0", 2, "cuda:0"), ("gw3", 2, "cuda:1"), ("gw5", 3, "cuda:2")])
def test_xdist_worker_takes_index_modulo_visible(monkeypatch, worker, count, expected):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setattr(devices, "_count", lambda kind: count)
    assert devices.resolve("cuda") == expected
    assert devices.resolve("cuda:1") == "cuda:1" and devices.resolve("meta") == "meta"


def test_pairs_cover_round_trips_and_two_gpus(monkeypatch):
    monkeypatch.setattr(devices, "_count", lambda kind: 2)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    selected = [("cpu", None), ("meta", None), (devices.SIM, None), ("cuda", None), ("xpu", "xpu: no device visible")]
    pairs = {pair: reasons for pair, reasons in devices._pairs(selected)}
    assert {("cpu", devices.SIM), ("cpu", "cuda"), (devices.SIM, "cuda"), ("cuda", devices.SIM)} <= set(pairs)
    assert pairs[("cuda:0", "cuda:1")] == [None] and pairs[("cpu", "xpu")] == ["xpu: no device visible"]
    assert not any("meta" in pair for pair in pairs)
