"""Time the whole conformance suite at the ``ci`` profile against its budget.

Runs ``pytest conformance -n WORKERS --hypothesis-profile=ci`` RUNS times in fresh processes and
prints each run's wall-clock time, the median and its ratio to the budget. With ``--check`` it
exits 1 when the median is over budget (and 2 when a run itself fails), so CI can gate on it.

    python tools/bench.py [--runs 3] [--workers 2] [--budget 90] [--check] [-- extra pytest args]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="number of timed runs (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers, -n (default 2)")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds allowed per run (default 90)")
    parser.add_argument("--check", action="store_true", help="exit non-zero when the median is over budget")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.workers < 0 or args.budget <= 0:
        parser.error("--runs must be >= 1, --workers >= 0 and --budget > 0")
    return args


def one_run(workers: int, extra: list[str]) -> tuple[float, int]:
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:randomly",
               "--hypothesis-profile=ci", *(["-n", str(workers)] if workers else []), *extra]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"    {summary}")
    return elapsed, result.returncode


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    times, failed = [], False
    print(f"conformance suite, profile ci, -n {args.workers}, {args.runs} run(s), budget {args.budget:.0f} s")
    for i in range(1, args.runs + 1):
        elapsed, code = one_run(args.workers, args.pytest_args)
        failed |= code not in (0, 1)  # 1: test failures still time the suite; other codes: it did not run
        times.append(elapsed)
        print(f"run {i}: {elapsed:6.1f} s  (pytest exit {code})")
    median = statistics.median(times)
    ratio = median / args.budget
    print(f"median: {median:6.1f} s  = {ratio:.2f} x budget ({'over' if ratio > 1 else 'within'} budget)")
    if failed:
        print("a run did not complete (pytest exit code other than 0 or 1)", file=sys.stderr)
        return 2 if args.check else 0
    return 1 if args.check and ratio > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
