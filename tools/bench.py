"""``make bench``: what the suite costs, against the torch calls it makes, in one run.

Sections (``--only`` picks some; every figure is measured in this run, CPU seconds unless it says
wall; the machine may be shared, so compare ratios, not absolute times):

draw       drawing, and drawing plus building, a blueprint of up to 6 nodes (``blueprints()``),
           per example, with Hypothesis's own per-example cost beside it.   target: <= 0.5 ms
areas      the whole ``ci`` profile in one process with ``tools/benchplugin.py``: per test area
           the suite's CPU time over the torch-only time of the same calls on the same graphs
           (every handle's reproducer, replayed alone).                     target: <= 3x
suite      the ``ci`` profile in one process and with ``-n WORKERS``: wall and CPU (children
           included), speed-up and CPU ratio.          targets: one process <= 15 s wall,
                                                         -n 2 >= 1.8x faster, <= 1.15x the CPU
failfast   deliberate breaks (``meta_tests/breaks.py``), one fresh run each of the whole suite
           with ``-x --smoke 5``: wall time from start to exit at the first failure.
                                                                            target: median <= 5 s
soak       the ``soak`` profile (``--soak-nodes N``) on traversal, state_dict and apply/train
           files at 10, 100 and 1,000 nodes: per-example cost, its growth, and its ratio to the
           torch-only cost.                                                 target: <= 3x at 1,000
memory     resident memory sampled during one long run: the soak profile at 300 nodes on the
           traversal and state_dict files, four times over (``--keep-duplicates``), so the four
           quarters run the same tests: the last quarter's peak over the first's.  target: <= 1.1x

    python tools/bench.py [--only draw,areas,...] [--workers 2] [--runs 1] [--breaks N]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("draw", "areas", "suite", "failfast", "soak", "memory")
SOAK_FILES = ("conformance/test_traversal.py", "conformance/test_state_dict.py", "conformance/test_apply_train.py")
SOAK_SIZES = (10, 100, 1000)
# One break per area, spread over the files (pytest runs them in file order).
FAILFAST_BREAKS = ("apply.preorder", "attributes.delattr_keeps_parameter", "containers.sequential_len_off_by_one",
                   "devices.to_ignores_device", "dtype.float_family_casts_integers", "grad.zero_grad_keeps_tensors",
                   "hooks.prepend_ignored", "load.strict_ignored", "registration.dotted_module_name",
                   "state_dict.nonpersistent_saved", "traversal.children_reversed")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers for the suite section (default 2)")
    parser.add_argument("--runs", type=int, default=1, help="runs per timing of the suite section; medians (default 1)")
    parser.add_argument("--breaks", type=int, default=len(FAILFAST_BREAKS),
                        help=f"how many of the {len(FAILFAST_BREAKS)} failfast breaks to run")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--only: unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    if args.workers < 1 or args.runs < 1 or not 1 <= args.breaks <= len(FAILFAST_BREAKS):
        parser.error(f"--workers and --runs must be >= 1, --breaks from 1 to {len(FAILFAST_BREAKS)}")
    return args


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- running pytest ------------------------------------------------------------------------------

def pytest_run(*args: str, env: dict | None = None, bench_out: str | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the process and its children, exit code, last line)."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("PYTEST_", "NNCONFORM_")) and k != "PYTHONDONTWRITEBYTECODE"}  # as make runs it
    full_env.update(env or {})
    command = [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if bench_out:
        full_env["NNCONFORM_BENCH_OUT"] = bench_out
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tools"), full_env.get("PYTHONPATH")]))
        command += ["-p", "benchplugin"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return wall, cpu, result.returncode, last


def report_dir() -> str:
    return tempfile.mkdtemp(prefix="nnconform-bench-")


# -- sections ------------------------------------------------------------------------------------

def section_draw() -> dict:
    """In this process: CPU per example of @given tests that draw, and draw and build."""
    sys.path.insert(0, str(ROOT))
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from conformance import build
    from strategies import blueprints

    n = 400
    s = settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
                 suppress_health_check=list(HealthCheck))
    graphs = blueprints()

    @s
    @given(st.integers(0, 2**30))
    def floor(x):
        pass

    @s
    @given(graphs)
    def draw(bp):
        pass

    @s
    @given(graphs)
    def draw_build(bp):
        build.run(bp)

    def per_example(fn) -> float:
        start = time.process_time()
        fn()
        return (time.process_time() - start) / n * 1000

    per_example(draw_build)  # warm up (imports, caches of strategies)
    timings = {name: statistics.median(per_example(fn) for _ in range(3))
               for name, fn in (("floor", floor), ("draw", draw), ("draw_build", draw_build))}
    net = timings["draw_build"] - timings["floor"]
    print(f"  Hypothesis per example (an integer):       {timings['floor']:6.2f} ms")
    print(f"  drawing a blueprint (<= 6 nodes):          {timings['draw']:6.2f} ms")
    print(f"  drawing and building it:                   {timings['draw_build']:6.2f} ms")
    print(f"  drawing and building, less Hypothesis's:   {net:6.2f} ms   target <= 0.5 ms: {verdict(net <= 0.5)}")
    return {**timings, "net": net}


def section_areas() -> dict:
    out = Path(report_dir()) / "bench.json"
    wall, cpu, code, last = pytest_run("conformance", "--hypothesis-profile=ci", "--report-dir", str(out.parent),
                                       bench_out=str(out))
    print(f"  one process with the bench plugin: {wall:.1f} s wall, pytest exit {code}: {last}")
    data = json.loads(out.read_text())
    per_area = defaultdict(lambda: [0.0, 0.0, 0])
    for t in data["tests"]:
        if t["handles"]:
            a = per_area[t["area"]]
            a[0] += t["suite"]
            a[1] += t["torch"]
            a[2] += 1
    print(f"  {'area':16} {'tests':>5} {'suite s':>8} {'torch s':>8} {'ratio':>6}")
    suite_total = torch_total = 0.0
    for area, (suite, torch_s, count) in sorted(per_area.items(), key=lambda kv: -kv[1][0] / max(kv[1][1], 1e-9)):
        print(f"  {area:16} {count:5d} {suite:8.2f} {torch_s:8.2f} {suite / max(torch_s, 1e-9):5.1f}x")
        suite_total += suite
        torch_total += torch_s
    ratio = suite_total / max(torch_total, 1e-9)
    print(f"  {'all':16} {sum(a[2] for a in per_area.values()):5d} {suite_total:8.2f} {torch_total:8.2f} {ratio:5.1f}x"
          f"   target <= 3x: {verdict(ratio <= 3)}")
    return {"ratio": ratio}


def section_suite(workers: int, runs: int) -> dict:
    results, rows = {}, {}
    for label, extra in (("one process", []), (f"-n {workers}", ["-n", str(workers)])):
        walls, cpus = [], []
        for _ in range(runs):
            folder = report_dir()
            wall, cpu, code, last = pytest_run("conformance", "--hypothesis-profile=ci", "--report-dir", folder,
                                               *extra)
            report = json.loads((Path(folder) / "report.json").read_text())
            rows[label] = sorted((r["test"], r["outcome"], r["examples"]) for r in report["rows"])
            walls.append(wall)
            cpus.append(cpu)
            print(f"  {label:12} {wall:6.1f} s wall {cpu:6.1f} s CPU  (pytest exit {code}: {last})")
        results[label] = (statistics.median(walls), statistics.median(cpus))
    (w1, c1), (wn, cn) = results["one process"], results[f"-n {workers}"]
    same = rows["one process"] == rows[f"-n {workers}"]
    print(f"  report rows (test, outcome, examples) of the two runs: {'identical' if same else 'DIFFERENT'}")
    print(f"  one process: {w1:.1f} s wall   target <= 15 s: {verdict(w1 <= 15)}")
    print(f"  -n {workers}: {w1 / wn:.2f}x faster   target >= 1.8x: {verdict(w1 / wn >= 1.8)};"
          f"  {cn / c1:.2f}x the CPU   target <= 1.15x: {verdict(cn / c1 <= 1.15)}")
    return {"one": results["one process"], "workers": results[f"-n {workers}"]}


def section_failfast(count: int) -> dict:
    times = []
    for name in FAILFAST_BREAKS[:count]:
        wall, _, code, last = pytest_run("conformance", "-x", "--smoke", "5", "--hypothesis-profile=ci",
                                         "-p", "meta_tests.breaks", "--report-dir", report_dir(),
                                         env={"NNCONFORM_BREAK": name})
        caught = code == 1
        times.append(wall if caught else float("inf"))
        print(f"  {name:40} {wall:6.1f} s  {'failed' if caught else f'NOT CAUGHT (exit {code}: {last})'}")
    median = statistics.median(times)
    print(f"  median time to the first failure: {median:.1f} s   target <= 5 s: {verdict(median <= 5)}")
    return {"median": median}


def section_soak() -> dict:
    per_size = {}
    for nodes in SOAK_SIZES:
        out = Path(report_dir()) / "bench.json"
        wall, _, code, last = pytest_run(*SOAK_FILES, "--hypothesis-profile=soak", f"--soak-nodes={nodes}",
                                         "--report-dir", str(out.parent), bench_out=str(out))
        data = json.loads(out.read_text())
        examples = sum(1 for t in data["tests"] for n in t["nodes"] if n == nodes)
        suite = sum(t["suite"] for t in data["tests"] if t["handles"])
        torch_s = sum(t["torch"] for t in data["tests"] if t["handles"])
        per_size[nodes] = (suite / max(examples, 1), torch_s / max(examples, 1), examples)
        print(f"  {nodes:5d} nodes: {examples:4d} graphs, {per_size[nodes][0] * 1000:8.1f} ms suite and "
              f"{per_size[nodes][1] * 1000:8.1f} ms torch per graph, {suite / max(torch_s, 1e-9):5.1f}x "
              f"({wall:.0f} s wall, pytest exit {code}: {last})")
    growth = per_size[1000][0] / max(per_size[100][0], 1e-9)
    ratio = per_size[1000][0] / max(per_size[1000][1], 1e-9)
    print(f"  cost per graph, 1,000 over 100 nodes: {growth:.1f}x (linear: 10x)")
    print(f"  at 1,000 nodes: {ratio:.1f}x the torch-only cost   target <= 3x: {verdict(ratio <= 3)}")
    return {"ratio": ratio, "growth": growth}


MEMORY_FILES = ("conformance/test_traversal.py", "conformance/test_state_dict.py")


def section_memory() -> dict:
    out = Path(report_dir()) / "bench.json"
    wall, _, code, last = pytest_run(*MEMORY_FILES * 4, "--keep-duplicates", "--hypothesis-profile=soak",
                                     "--soak-nodes=300", "--report-dir", str(out.parent), bench_out=str(out))
    print(f"  four passes of {' '.join(MEMORY_FILES)} at 300 nodes: {wall:.0f} s wall, pytest exit {code}: {last}")
    rss = json.loads(out.read_text())["rss"]
    if len(rss) < 8:
        print("  too few samples")
        return {}
    quarter = len(rss) // 4
    first, final = max(b for _, b in rss[:quarter]), max(b for _, b in rss[-quarter:])
    print(f"  peak {first / 2**20:.0f} MiB in the first quarter, {final / 2**20:.0f} MiB in the last: "
          f"{final / first:.2f}x   target <= 1.1x: {verdict(final / first <= 1.1)}")
    return {"ratio": final / first}


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    results = {}
    # Every timing starts as a user's second run does: with the bytecode caches (Python's and
    # pytest's rewritten test modules) written, as the Makefile lets them be.
    wall, _, code, _ = pytest_run("conformance", "--collect-only")
    print(f"== warm-up: one collection writes the bytecode caches ({wall:.1f} s, pytest exit {code})")
    for section in args.sections:
        print(f"== {section}")
        if section == "draw":
            results[section] = section_draw()
        elif section == "areas":
            results[section] = section_areas()
        elif section == "suite":
            results[section] = section_suite(args.workers, args.runs)
        elif section == "failfast":
            results[section] = section_failfast(args.breaks)
        elif section == "soak":
            results[section] = section_soak()
        elif section == "memory":
            results[section] = section_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
