"""The HTML report in a real browser: headless Chromium from Debian's packages.

The session fixture installs Chromium once (``apt-get install -y --no-install-recommends
chromium``) where it is missing, and skips with the reason where it cannot. The test loads the
planted report (markup in names, messages, a reproducer), checks the matrix rendered, that the
browser logged no console message (a script that ran or failed, a blocked load), and keeps a
screenshot at ``reports/out/browser-check.png``.
"""
import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reports import render

ROOT = Path(__file__).resolve().parent.parent
PLANTED = Path(__file__).parent / "report_fixtures" / "planted.json"
SCREENSHOT = ROOT / "reports" / "out" / "browser-check.png"
INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser():
    return shutil.which("chromium")


def _install() -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = ""
    for command in (INSTALL, ["apt-get", "update"], INSTALL):  # the package lists may be missing or stale
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=900)
        log = (done.stdout + done.stderr)[-500:]
        if command is INSTALL and done.returncode == 0:
            break
    return log


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    if _browser():
        return _browser()
    if shutil.which("apt-get") is None:
        pytest.skip("Chromium is not installed and apt-get is not available to install it")
    if os.geteuid() != 0:
        pytest.skip("Chromium is not installed and installing it with apt-get needs root")
    with open(tmp_path_factory.getbasetemp().parent / "nnconform-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one apt-get at a time
        log = "" if _browser() else _install()
    if not _browser():
        pytest.skip(f"could not install Chromium with {' '.join(INSTALL)}: {log}")
    return _browser()


def test_html_report_renders_in_headless_chromium(chromium, tmp_path):
    doc = json.loads(PLANTED.read_text())
    page = tmp_path / "report.html"
    page.write_text(render.html(doc))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={SCREENSHOT}", "--window-size=1200,900", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, check=False, timeout=120)
    dom = done.stdout
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "\n".join(console)
    assert '<table id="matrix">' in dom, done.stderr[-2000:]
    invariants = {r["invariant"] for r in doc["rows"]}
    assert dom.count('<tr class="inv"') == len(invariants)
    assert "<script" not in dom.split("</head>")[1] and "<img" not in dom
    assert "test_planted_markup[&lt;script&gt;alert(1)&lt;/script&gt;]" in dom
    assert SCREENSHOT.stat().st_size > 10_000 and SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
