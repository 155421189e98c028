"""Run metadata for the report header: versions, accelerators, the suite's commit, options.

Read on the controller. torch is read from ``sys.modules`` when the run imported it (every
conformance run does) so that the report plugin alone never imports it; CUDA is never
initialised here (device names and the driver come from ``nvidia-smi`` where present).
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

SUITE_ROOT = Path(__file__).resolve().parent.parent


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _run(*cmd: str, cwd: Path | None = None) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _accelerators(torch) -> list[dict]:
    if not (torch.version.cuda or getattr(torch.version, "hip", None)) or not torch.cuda.is_available():
        return []
    smi = _run("nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader")
    if smi:
        pairs = (line.rsplit(",", 1) for line in smi.splitlines())  # a name may hold commas, a version not
        return [{"name": name.strip(), "driver": driver.strip()} for name, driver in pairs]
    driver = _run("rocm-smi", "--showdriverversion", "--csv")
    return [{"name": torch.cuda.get_device_name(i), "driver": driver} for i in range(torch.cuda.device_count())]


def torch_info() -> dict:
    torch = sys.modules.get("torch")
    if torch is None:
        return {"version": _version("torch"), "git": None, "cuda": None, "rocm": None, "accelerators": []}
    return {
        "version": torch.__version__,
        "git": torch.version.git_version,
        "cuda": torch.version.cuda,
        "rocm": getattr(torch.version, "hip", None),
        "accelerators": _accelerators(torch),
    }


def suite_info() -> dict:
    version = _version("nnconform")
    if version is None and (SUITE_ROOT / "pyproject.toml").is_file():
        found = re.search(r'^version\s*=\s*"([^"]+)"', (SUITE_ROOT / "pyproject.toml").read_text(), re.MULTILINE)
        version = found.group(1) if found else None
    commit = _run("git", "rev-parse", "HEAD", cwd=SUITE_ROOT)
    dirty = _run("git", "status", "--porcelain", "--untracked-files=no", cwd=SUITE_ROOT)
    return {"version": version, "commit": commit, "dirty": bool(dirty) if commit else None}


def hypothesis_info(config) -> dict:
    from hypothesis import settings

    current = settings.default
    return {
        "profile": config.getoption("hypothesis_profile", None) or getattr(settings, "_current_profile", None),
        "seed": config.getoption("hypothesis_seed", None),
        "derandomize": current.derandomize,
        "max_examples": current.max_examples,
    }


def options(config) -> dict:
    get = config.getoption
    return {
        "args": [str(a) for a in config.args],
        "backend": get("backend", None),
        "device": get("device", None),
        "deviations": get("deviations", None),
        "keyword": get("keyword", None) or None,
        "markexpr": get("markexpr", None) or None,
        "numprocesses": get("numprocesses", None),
    }


def collect(config) -> dict:
    return {
        "torch": torch_info(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "packages": {name: _version(name) for name in ("hypothesis", "pytest", "pytest-xdist")},
        "suite": suite_info(),
        "hypothesis": hypothesis_info(config),
        "options": options(config),
    }
