"""Run metadata: accelerator and driver versions where CUDA is present (faked here: CI has none)."""
import sys
from types import SimpleNamespace

from reports import runinfo


def fake_torch(cuda="13.0", available=True):
    return SimpleNamespace(
        __version__="2.13.0+cu130",
        version=SimpleNamespace(cuda=cuda, hip=None, git_version="abc123"),
        cuda=SimpleNamespace(is_available=lambda: available, device_count=lambda: 1,
                             get_device_name=lambda i: "should come from nvidia-smi"),
    )


def test_cuda_devices_and_driver_from_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H200, 580.159.03'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "torch", fake_torch())
    info = runinfo.torch_info()
    assert info == {"version": "2.13.0+cu130", "git": "abc123", "cuda": "13.0", "rocm": None,
                    "accelerators": [{"name": "NVIDIA H200", "driver": "580.159.03"}]}


def test_no_accelerator_fields_on_a_cpu_build(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", fake_torch(cuda=None, available=False))
    assert runinfo.torch_info()["accelerators"] == []
