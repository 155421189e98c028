"""Run the evidence scripts of the known-deviations files on the torch of this interpreter.

    python tools/evidence.py [--backend NAME | --all | --file PATH ...] [--json] [--jobs N] [--timeout S]

Every deviations line (``conformance/deviations/<backend>.txt``, its ``base:`` files included)
names an evidence script: a torch-only program that prints ``REPRODUCED`` and exits 0 while the
deviation holds, and prints ``NOT REPRODUCED`` and exits 1 once it is gone. Each script runs once,
in a fresh interpreter (this one: run the tool with the venv of the torch to look at), from the
repository root, with a timeout; scripts run in parallel (``--jobs``, default: the CPU count).

Verdict per line (file:line, pattern, evidence):

- ``present``: exit 0 and the last line of output is ``REPRODUCED``;
- ``fixed``: exit 1 and the last line is ``NOT REPRODUCED`` (retire the line for this release);
- ``changed``: anything else (a crash, another exit status, a missing marker, a timeout), with
  the last line of output: investigate.

Exit status: 0 when every line is ``present``, 1 when any is ``fixed`` or ``changed``, 2 on a
usage error (an unreadable or malformed deviations file, named by file and line).
``tools/matrix.py`` runs this in each release's venv with ``--json`` and ignores the status.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VERDICTS = ("present", "fixed", "changed")
TIMEOUT = 120


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def deviations_files(backend: str | None, everything: bool, files: list[str]) -> list[tuple[str, Path]]:
    """(label, path) of the deviations files to read."""
    from conformance import deviations

    if files:
        return [(Path(f).stem, Path(f)) for f in files]
    if everything:
        return [(p.stem, p) for p in sorted(deviations.FOLDER.glob("*.txt"))]
    name = backend or "eager"
    return [(name, deviations.default_path(name))]


def collect(sources: list[tuple[str, Path]]) -> list[dict]:
    """One entry per deviations line (a line inherited by several files is listed once, with every
    file that uses it). Raises ``pytest.UsageError`` (one line) on a malformed file."""
    from conformance import deviations
    from conformance.registry import REGISTRY

    lines: dict[tuple[str, int], dict] = {}
    for label, path in sources:
        for dev in deviations.load(path, REGISTRY):
            key = (str(dev.file.resolve()), dev.line)
            entry = lines.get(key)
            if entry is None:
                entry = lines[key] = {
                    "file": _rel(dev.file), "line": dev.line, "where": f"{_rel(dev.file)}:{dev.line}",
                    "pattern": dev.pattern, "reason": dev.reason, "evidence": dev.evidence,
                    "script": str(dev.evidence_path.resolve()), "backends": [],
                }
            if label not in entry["backends"]:
                entry["backends"].append(label)
    return sorted(lines.values(), key=lambda d: (d["file"], d["line"]))


def _last_line(*texts: str) -> str:
    for text in texts:
        lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
        if lines:
            return lines[-1]
    return "(no output)"


def run_script(script: str, timeout: float = TIMEOUT) -> dict:
    """Run one evidence script; return its verdict, exit status, detail and duration."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=timeout,
                              cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired:
        return {"verdict": "changed", "exit": None, "detail": f"timed out after {timeout:g} s",
                "duration": round(time.monotonic() - start, 2)}
    except OSError as exc:
        return {"verdict": "changed", "exit": None, "detail": f"cannot run: {exc}",
                "duration": round(time.monotonic() - start, 2)}
    duration = round(time.monotonic() - start, 2)
    last = _last_line(done.stdout)
    if done.returncode == 0 and last == "REPRODUCED":
        verdict, detail = "present", last
    elif done.returncode == 1 and last == "NOT REPRODUCED":
        verdict, detail = "fixed", last
    else:
        # stderr first: a traceback's last line says more than the script's last print
        verdict, detail = "changed", f"exit {done.returncode}: {_last_line(done.stderr, done.stdout)}"
    return {"verdict": verdict, "exit": done.returncode, "detail": detail, "duration": duration}


def evaluate(entries: list[dict], jobs: int, timeout: float = TIMEOUT, progress=None) -> list[dict]:
    """Run each distinct script once (in parallel) and attach its result to every line using it."""
    scripts = sorted({e["script"] for e in entries})
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {s: pool.submit(run_script, s, timeout) for s in scripts}
        results = {}
        for script, future in futures.items():
            results[script] = future.result()
            if progress:
                progress(script, results[script])
    return [{**e, **results[e["script"]]} for e in entries]


def _torch_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("torch")
    except PackageNotFoundError:
        return None


def document(results: list[dict], elapsed: float) -> dict:
    counts = {v: sum(r["verdict"] == v for r in results) for v in VERDICTS}
    return {"tool": "nnconform-evidence", "version": 1, "torch": _torch_version(), "python": sys.version.split()[0],
            "elapsed": round(elapsed, 2), "counts": counts,
            "lines": [{k: v for k, v in r.items() if k != "script"} for r in results]}


def text(doc: dict) -> str:
    out = []
    for r in doc["lines"]:
        out.append(f"{r['verdict']:8} {r['where']}  {r['pattern']}  ({r['evidence']})")
        if r["verdict"] != "present":
            out.append(f"         {r['detail']}")
    counts = ", ".join(f"{n} {v}" for v, n in doc["counts"].items())
    out.append(f"torch {doc['torch']}: {len(doc['lines'])} deviations lines: {counts} ({doc['elapsed']:.1f} s)")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/evidence.py", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--backend", help="the backend whose deviations file to read (default: eager)")
    which.add_argument("--all", action="store_true", help="every file in conformance/deviations/")
    which.add_argument("--file", action="append", default=[], help="a deviations file (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="scripts run at once (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds per script (default {TIMEOUT})")
    args = parser.parse_args(argv)
    import pytest

    try:
        entries = collect(deviations_files(args.backend, args.all, args.file))
    except pytest.UsageError as exc:
        print(f"tools/evidence.py: {exc}", file=sys.stderr)
        return 2
    start = time.monotonic()
    results = evaluate(entries, args.jobs, args.timeout)
    doc = document(results, time.monotonic() - start)
    print(json.dumps(doc, indent=1) if args.json else text(doc))
    return 0 if doc["counts"]["present"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
