"""Run the conformance suite on several torch releases, compare them, and draw one matrix page.

    python tools/matrix.py --out DIR [options] SPEC [SPEC ...]

A SPEC names one torch to install, as pip understands it:

- a bare version, ``2.14.1`` (meaning ``torch==2.14.1``);
- a requirement, ``torch==2.15.0``, ``torch>=2.14,<2.15``;
- a wheel (or source) path, ``/tmp/torch-2.15.0+cpu-cp311-cp311-linux_x86_64.whl``;
- a direct URL, ``torch @ https://.../torch-....whl``, or the bare URL.

One argument may hold several specs separated by spaces (``"2.13.0 2.14.1"``, as ``make matrix
TORCH=...`` passes them); ``torch @ URL`` stays one spec. Each spec gets a venv
``<venvs>/<slug>`` (slug: ``torch-2.14.1``, or the wheel's name and version plus a short hash for
a path or URL) with its own install stamp, so a second run reuses it; ``--pip-args`` (e.g.
``--pre --index-url https://download.pytorch.org/whl/nightly/cpu``) goes to the torch install
only. Then, per entry: the suite (``DIR/<slug>/report.json``, ``.md``, ``.html``, ``junit.xml``,
``run.log``) and the evidence scripts of the known deviations (``DIR/<slug>/evidence.json``,
``tools/evidence.py``); then ``python -m reports.compare`` between consecutive entries that have a
report (``DIR/compare-<a>-vs-<b>.md``, whatever their exit status); then the matrix page
(``python -m reports.matrix``: ``DIR/index.md`` and ``DIR/index.html``) and ``DIR/matrix.json``.

Exit status: 0 when every entry installed and produced a report and no comparison reported a
regression, an incomplete run or bad input; 1 otherwise (every entry still runs); 2 on a usage
error (a spec that is none of the above, two specs with the same slug).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent

VERSION_RE = re.compile(r"^v?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?$")
URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
OP = r"(?:===|==|!=|~=|<=|>=|<|>)"
CLAUSE = rf"{OP}\s*[A-Za-z0-9.*+!_-]+"
REQUIREMENT_RE = re.compile(rf"^({NAME})(\[[A-Za-z0-9._,-]*\])?\s*({CLAUSE}(?:\s*,\s*{CLAUSE})*)?$")
DIRECT_RE = re.compile(rf"^({NAME})(\[[A-Za-z0-9._,-]*\])?\s*@\s*(\S+)$")
WHEEL_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
SDIST_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>\d[^-]*)\.(tar\.gz|zip)$")
OP_WORDS = {"===": "eqq", "==": "", "!=": "ne", "~=": "compat", "<=": "le", ">=": "ge", "<": "lt", ">": "gt"}
COMPARE_MEANING = {0: "no regressions", 1: "REGRESSED", 2: "bad input", 3: "new run incomplete, crashed or mostly skipped"}


class SpecError(ValueError):
    """A spec that is not a version, requirement, path or URL (the message says which spec)."""


@dataclass(frozen=True)
class Spec:
    spec: str  # as given
    requirement: str  # what pip installs
    slug: str  # the venv and report folder name
    kind: str  # version, requirement, path or url


def _hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "x"


def _from_filename(filename: str, key: str, fallback: str) -> str:
    """Slug for a path or URL: the distribution's name and version when the file name tells them."""
    match = WHEEL_RE.match(filename) or SDIST_RE.match(filename)
    if match:
        stem = f"{match['name'].replace('_', '-').lower()}-{match['version']}"
    else:
        base = re.sub(r"(\.whl|\.tar\.gz|\.zip)$", "", filename)
        stem = f"{fallback}-{base}" if base else fallback
    return f"{_safe(stem)[:48]}-{_hash(key)}"


def parse_spec(text: str, cwd: Path | None = None) -> Spec:
    """Turn one spec into the pip requirement and a slug. Raises ``SpecError``."""
    spec = text.strip()
    if not spec:
        raise SpecError("empty torch spec")
    if VERSION_RE.match(spec):
        version = spec.removeprefix("v")
        return Spec(text, f"torch=={version}", _safe(f"torch-{version}"), "version")
    direct = DIRECT_RE.match(spec)
    if direct and URL_RE.match(direct[3]):
        name, extras, url = direct.groups()
        requirement = f"{name}{extras or ''} @ {url}"
        filename = unquote(Path(urlparse(url).path).name)
        return Spec(text, requirement, _from_filename(filename, requirement, f"{name.lower()}-url"), "url")
    if URL_RE.match(spec):
        filename = unquote(Path(urlparse(spec).path).name)
        return Spec(text, spec, _from_filename(filename, spec, "url"), "url")
    requirement = REQUIREMENT_RE.match(spec)
    looks_like_path = ("/" in spec or os.sep in spec or spec.startswith(".") or spec.endswith((".whl", ".tar.gz", ".zip"))
                       or (cwd or Path.cwd()).joinpath(spec).exists())
    if requirement and not looks_like_path:
        name, extras, clauses = requirement.groups()
        exact = re.fullmatch(r"==\s*([A-Za-z0-9.+!_-]+)", clauses or "")
        if exact:
            slug = f"{name.lower()}-{exact[1]}"
        elif clauses:
            parts = re.findall(rf"({OP})\s*([A-Za-z0-9.*+!_-]+)", clauses)
            slug = "-".join([name.lower(), *(OP_WORDS[op] + v for op, v in parts)])
        else:
            slug = name.lower()
        slug = _safe(slug) if len(slug) <= 60 else f"{_safe(name.lower())}-{_hash(spec)}"
        return Spec(text, re.sub(r"\s+", "", spec), slug, "requirement")
    if looks_like_path:
        path = Path(os.path.expanduser(spec))
        path = path if path.is_absolute() else (cwd or Path.cwd()) / path
        path = Path(os.path.normpath(path))
        return Spec(text, str(path), _from_filename(path.name, str(path), "path"), "path")
    raise SpecError(f"torch spec {text!r} is not a version (2.14.1), a requirement (torch==2.14.1), "
                    "a wheel path or a URL (torch @ https://...)")


def split_specs(args: list[str], cwd: Path | None = None) -> list[str]:
    """Split arguments holding several space-separated specs; keep ``name @ URL`` together, and an
    argument naming an existing path (spaces and all) whole."""
    out: list[str] = []
    for arg in args:
        if (cwd or Path.cwd()).joinpath(os.path.expanduser(arg)).exists() and arg.strip():
            out.append(arg.strip())
            continue
        tokens = arg.split()
        i = 0
        while i < len(tokens):
            token, after = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else None
            if after == "@" and i + 2 < len(tokens):  # torch @ URL
                out.append(f"{token} @ {tokens[i + 2]}")
                i += 3
            elif token.endswith("@") and len(token) > 1 and after is not None:  # torch@ URL
                out.append(f"{token[:-1]} @ {after}")
                i += 2
            elif token.startswith("@") and len(token) > 1 and out:  # torch @URL
                out[-1] = f"{out[-1]} @ {token[1:]}"
                i += 1
            else:
                out.append(token)
                i += 1
    return out


def parse_specs(args: list[str], cwd: Path | None = None) -> list[Spec]:
    specs = [parse_spec(s, cwd) for s in split_specs(args, cwd)]
    if not specs:
        raise SpecError("no torch spec given")
    seen: dict[str, Spec] = {}
    for spec in specs:
        if spec.slug in seen:
            raise SpecError(f"torch specs {seen[spec.slug].spec!r} and {spec.spec!r} name the same entry "
                            f"({spec.slug}); list it once")
        seen[spec.slug] = spec
    return specs


def stamp_name(spec: Spec, pip_args: str) -> str:
    """The install stamp: changes with the requirement, the torch pip arguments and the suite's own
    requirements, so any of them changing reinstalls."""
    deps = b"".join((ROOT / f).read_bytes() for f in ("requirements.txt", "pyproject.toml") if (ROOT / f).is_file())
    key = "\0".join([spec.requirement, " ".join(shlex.split(pip_args)), hashlib.sha256(deps).hexdigest()])
    return f".installed-{_hash(key, 16)}"


# --- running ----------------------------------------------------------------------------------

class Progress:
    def __init__(self, total: int):
        self.start = time.monotonic()
        self.total = total

    def __call__(self, index: int | None, slug: str | None, message: str) -> None:
        where = f"[{index}/{self.total} {slug}] " if slug else ""
        print(f"matrix +{time.monotonic() - self.start:6.1f}s {where}{message}", flush=True)


def _run_logged(cmd: list[str], log: Path, *, echo: bool = False, env=None) -> int:
    """Run ``cmd`` from the repository root, appending its output to ``log`` (and echoing it)."""
    with log.open("a", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {shlex.join(cmd)}\n")
        out.flush()
        try:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace", env=env)
        except OSError as exc:
            out.write(f"cannot run: {exc}\n")
            return 127
        for line in proc.stdout:
            out.write(line)
            if echo:
                print("    " + line, end="", flush=True)
        return proc.wait()


def _tail(log: Path, n: int = 6) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.is_file() else []
    return "\n".join("    " + ln for ln in lines[-n:])


def _constraint_hint(log: Path) -> str:
    """Name the pip constraint that refused the spec (pip config files can set one)."""
    found = re.findall(r"requested \(constraint\) (\S+)", log.read_text(errors="replace")) if log.is_file() else []
    if not found:
        return ""
    return (f": a pip constraint ({found[-1]}, from pip's configuration) refuses it; "
            "PIP_CONFIG_FILE=/dev/null makes pip ignore its configuration files")


def install(spec: Spec, venv: Path, pip_args: str, python: str, log: Path, say) -> tuple[str, str | None]:
    """Create or reuse ``venv`` with ``spec``'s torch and the suite's requirements.
    Returns (status: installed, reused or failed; detail)."""
    stamp = venv / stamp_name(spec, pip_args)
    py = venv / "bin" / "python"
    if stamp.is_file() and py.exists():
        return "reused", f"stamp {stamp.name}"
    log.write_text("")
    if not py.exists():
        say(f"install: creating venv {venv}")
        if _run_logged([python, "-m", "venv", str(venv)], log):
            return "failed", f"python -m venv failed; log: {log}"
    for old in venv.glob(".installed-*"):
        old.unlink()
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    if _run_logged([*pip, "-q", "--upgrade", "pip"], log):
        say("install: upgrading pip failed; going on with the venv's pip")
    steps = [
        (f"torch ({spec.requirement}{' ' + pip_args if pip_args.strip() else ''})",
         [*pip, *shlex.split(pip_args), spec.requirement]),
        ("requirements.txt", [*pip, "-q", "-r", "requirements.txt"]),
        ("nnconform (editable)", [*pip, "-q", "--no-deps", "-e", "."]),
    ]
    for what, cmd in steps:
        say(f"install: {what}")
        if _run_logged(cmd, log):
            return "failed", f"pip install of {what} failed{_constraint_hint(log)}; log: {log}\n{_tail(log)}"
    version = subprocess.run([str(py), "-c", "import torch; print(torch.__version__)"], cwd=ROOT,
                             capture_output=True, text=True)
    if version.returncode:
        with log.open("a") as out:
            out.write(version.stdout + version.stderr)
        return "failed", f"the installed torch does not import; log: {log}\n{_tail(log)}"
    stamp.write_text(json.dumps({"spec": spec.spec, "requirement": spec.requirement, "pip_args": pip_args,
                                 "torch": version.stdout.strip()}) + "\n")
    return "installed", f"torch {version.stdout.strip()}"


def torch_version(venv: Path) -> str | None:
    done = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "from importlib.metadata import version; print(version('torch'))"],
                          capture_output=True, text=True, cwd=ROOT)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


@dataclass
class Entry:
    spec: str
    requirement: str
    slug: str
    kind: str
    venv: str
    folder: str
    install: str = "pending"  # installed, reused, failed
    install_detail: str | None = None
    torch: str | None = None
    pytest_exit: int | None = None
    report: str | None = None
    evidence: str | None = None
    evidence_exit: int | None = None
    seconds: dict | None = None


def run_entry(entry: Entry, args, say) -> None:
    venv, folder = Path(entry.venv), Path(entry.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("report.json", "report.md", "report.html", "junit.xml", "run.log", "evidence.json", "evidence.log"):
        (folder / stale).unlink(missing_ok=True)
    seconds = entry.seconds = {}
    spec = Spec(entry.spec, entry.requirement, entry.slug, entry.kind)

    t = time.monotonic()
    entry.install, entry.install_detail = install(spec, venv, args.pip_args, args.python, folder / "install.log", say)
    seconds["install"] = round(time.monotonic() - t, 1)
    if entry.install == "failed":
        say(f"install FAILED ({seconds['install']} s): {entry.install_detail}")
        return
    entry.torch = torch_version(venv)
    say(f"install: {entry.install}, torch {entry.torch} ({seconds['install']} s)")

    t = time.monotonic()
    py = str(venv / "bin" / "python")
    cmd = [py, "-m", "pytest", "conformance", "-n", str(args.workers), f"--hypothesis-profile={args.profile}",
           f"--backend={args.backend}", f"--report-dir={folder}", f"--junitxml={folder / 'junit.xml'}",
           "-q", "-rfE", *shlex.split(args.pytest_args)]
    say(f"run: pytest conformance -n {args.workers} --backend={args.backend} (log: {folder / 'run.log'})")
    entry.pytest_exit = _run_logged(cmd, folder / "run.log", echo=not args.quiet)
    seconds["run"] = round(time.monotonic() - t, 1)
    if (folder / "report.json").is_file():
        entry.report = str(folder / "report.json")
    say(f"run: pytest exit {entry.pytest_exit}, {'report written' if entry.report else 'NO report.json'} "
        f"({seconds['run']} s)")

    if args.evidence == "none":
        return
    t = time.monotonic()
    which = ["--all"] if args.evidence == "all" else ["--backend", args.backend]
    say(f"evidence: tools/evidence.py {' '.join(which)}")
    with (folder / "evidence.json").open("w") as out, (folder / "evidence.log").open("w") as err:
        entry.evidence_exit = subprocess.run([py, str(ROOT / "tools" / "evidence.py"), *which, "--json"], cwd=ROOT,
                                             stdout=out, stderr=err, stdin=subprocess.DEVNULL).returncode
    seconds["evidence"] = round(time.monotonic() - t, 1)
    try:
        counts = json.loads((folder / "evidence.json").read_text())["counts"]
        entry.evidence = str(folder / "evidence.json")
        say(f"evidence: {', '.join(f'{n} {v}' for v, n in counts.items())} ({seconds['evidence']} s)")
    except (OSError, ValueError, KeyError, TypeError):
        (folder / "evidence.json").unlink(missing_ok=True)
        say(f"evidence: no verdicts (exit {entry.evidence_exit}; see {folder / 'evidence.log'})")


def compare(old: Entry, new: Entry, out: Path, say) -> dict:
    target = out / f"compare-{old.slug}-vs-{new.slug}.md"
    python = str(Path(new.venv) / "bin" / "python")
    done = subprocess.run([python, "-m", "reports.compare", old.report, new.report], cwd=ROOT,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    text = done.stdout
    if done.stderr.strip():
        text += ("\n" if text else "") + "```\n" + done.stderr.strip() + "\n```\n"
    target.write_text(text)
    meaning = COMPARE_MEANING.get(done.returncode, f"exit {done.returncode}")
    say(f"compare {old.slug} -> {new.slug}: exit {done.returncode} ({meaning}): {target}")
    return {"old": old.slug, "new": new.slug, "file": str(target), "exit": done.returncode, "meaning": meaning}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/matrix.py", description=__doc__.splitlines()[0],
                                     epilog="Specs: a version, a requirement, a wheel path or a URL; see the module doc.")
    parser.add_argument("specs", nargs="*", metavar="SPEC", help="torch specs, in order (oldest first)")
    parser.add_argument("--out", default="reports/out/matrix", help="report folder (default reports/out/matrix)")
    parser.add_argument("--venvs", default=str(ROOT / ".venv-matrix"), help="where the venvs go (default .venv-matrix)")
    parser.add_argument("--pip-args", default=None,
                        help="extra pip arguments for the torch install only (default: $PIP_ARGS, plus "
                             "--index-url $TORCH_INDEX when set)")
    parser.add_argument("--python", default=sys.executable, help="interpreter the venvs are made from")
    parser.add_argument("--workers", default="2", help="pytest-xdist workers (default 2)")
    parser.add_argument("--profile", default="ci", help="Hypothesis profile (default ci)")
    parser.add_argument("--backend", default="eager", help="backend under test (default eager)")
    parser.add_argument("--pytest-args", default="", help="more pytest arguments, one string")
    parser.add_argument("--evidence", choices=("backend", "all", "none"), default="backend",
                        help="evidence scripts to run per entry: the backend's deviations (default), every file, none")
    parser.add_argument("--quiet", action="store_true", help="do not echo pytest's output")
    parser.add_argument("--print-specs", action="store_true", help="print each spec's requirement and slug, and stop")
    args = parser.parse_args(argv)
    if args.pip_args is None:
        index = os.environ.get("TORCH_INDEX", "").strip()
        args.pip_args = " ".join(filter(None, [os.environ.get("PIP_ARGS", "").strip(),
                                                f"--index-url {index}" if index else ""]))
    try:
        specs = parse_specs(args.specs)
        shlex.split(args.pip_args + " " + args.pytest_args)
    except (SpecError, ValueError) as exc:
        print(f"tools/matrix.py: {exc}", file=sys.stderr)
        return 2
    if args.print_specs:
        for s in specs:
            print(f"{s.slug}\t{s.kind}\t{s.requirement}")
        return 0

    out, venvs = Path(args.out).resolve(), Path(args.venvs).resolve()
    out.mkdir(parents=True, exist_ok=True)
    say = Progress(len(specs))
    entries = [Entry(s.spec, s.requirement, s.slug, s.kind, str(venvs / s.slug), str(out / s.slug)) for s in specs]
    say(None, None, f"{len(entries)} entries: {', '.join(e.slug for e in entries)}; venvs in {venvs}, reports in {out}"
        + (f"; torch pip args: {args.pip_args}" if args.pip_args else ""))
    for i, entry in enumerate(entries, 1):
        say(i, entry.slug, f"spec {entry.spec!r} -> pip install {entry.requirement}")
        run_entry(entry, args, lambda message, i=i, slug=entry.slug: say(i, slug, message))

    for old in out.glob("compare-*-vs-*.md"):
        old.unlink()
    ran = [e for e in entries if e.report]
    comparisons = [compare(a, b, out, lambda m: say(None, None, m)) for a, b in zip(ran, ran[1:])]

    manifest = {"tool": "nnconform-matrix", "version": 1, "backend": args.backend, "profile": args.profile,
                "pip_args": args.pip_args, "evidence": args.evidence, "elapsed": round(time.monotonic() - say.start, 1),
                "entries": [asdict(e) for e in entries], "comparisons": comparisons}
    (out / "matrix.json").write_text(json.dumps(manifest, indent=1) + "\n")
    python = str(Path(ran[-1].venv) / "bin" / "python") if ran else sys.executable
    page = subprocess.run([python, "-m", "reports.matrix", *(e.report for e in ran), "--manifest",
                           str(out / "matrix.json"), "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    if page.returncode:
        say(None, None, f"matrix page FAILED (exit {page.returncode}): {page.stderr.strip()}")
    else:
        say(None, None, f"matrix page: {out / 'index.md'}, {out / 'index.html'}")

    failed = [e.slug for e in entries if e.install == "failed"]
    unrun = [e.slug for e in entries if e.install != "failed" and not e.report]
    bad = [f"{c['old']} -> {c['new']}: {c['meaning']}" for c in comparisons if c["exit"] != 0]
    print()
    print(f"{'entry':34} {'install':9} {'torch':18} {'pytest':6} {'evidence':26} seconds")
    for e in entries:
        ev = "–"
        if e.evidence:
            ev = ", ".join(f"{n} {v}" for v, n in json.loads(Path(e.evidence).read_text())["counts"].items() if n)
        secs = " ".join(f"{k} {v}" for k, v in (e.seconds or {}).items())
        print(f"{e.slug:34} {e.install:9} {str(e.torch or '–'):18} {str(e.pytest_exit if e.pytest_exit is not None else '–'):6} "
              f"{ev:26} {secs}")
    for c in comparisons:
        print(f"compare {c['old']} -> {c['new']}: exit {c['exit']} ({c['meaning']})")
    problems = ([f"install failed: {', '.join(failed)}"] if failed else []) + \
               ([f"no report: {', '.join(unrun)}"] if unrun else []) + bad + \
               ([] if page.returncode == 0 else ["matrix page not written"])
    total = time.monotonic() - say.start
    print(f"matrix: {'FAILED: ' + '; '.join(problems) if problems else 'ok'} ({total:.0f} s); {out / 'index.md'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
