"""Sweep throughput (runs per minute) and the share of it spent building the circuit.

    python benchmarks/bench_sweep.py                      # 30 runs, n_jobs=2, backend.threads=1, empty cache
    python benchmarks/bench_sweep.py --runs 60 --n-jobs 4
    python benchmarks/bench_sweep.py --cache ~/.cache/ketamine-sim    # a warm cache

Runs ``ketamine-sim -m`` over ``seed=1..runs`` of a short protocol (``experiment=bath`` on
``circuit=small``, two 2 s windows) through the default joblib launcher, every run sharing
one compiled build, then runs the same command again into the same sweep folder (every
run is skipped as finished). Reports, from ``sweep_index.csv`` and each run's provenance:

* runs per minute over the sweep's wall time (process start to index written);
* sweep efficiency: the runs' spiking windows' summed wall time over (sweep wall time x
  ``n_jobs``), the share of the workers' time spent simulating;
* build share: the runs' build time (finding the call file; or code generation, then
  ``make``: a compile, a relink or nothing) over their summed wall time; and the share of
  the runs that compiled or relinked;
* the time of the resumed sweep, in which nothing runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROTOCOL = (
    "experiment=bath",
    "circuit=small",
    "bath.concentrations_uM=[0,1]",
    "bath.equilibration_s=60",
    "output.figure=false",
)


def _sweep(args, sweep_dir: Path, cache: Path) -> float:
    env = dict(os.environ, KETAMINE_SIM_CACHE=str(cache), MPLBACKEND="Agg")
    command = [
        sys.executable,
        "-m",
        "ketamine_sim.experiments.app",
        "-m",
        *PROTOCOL,
        f"backend.threads={args.threads}",
        f"seed=range(1,{args.runs + 1})",
        f"hydra.launcher.n_jobs={args.n_jobs}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"sweep failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return wall


def _index(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "sweep_index.csv", newline="") as f:
        return list(csv.DictReader(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--n-jobs", type=int, default=2, help="hydra.launcher.n_jobs (parallel processes)")
    parser.add_argument("--threads", type=int, default=1, help="backend.threads (OpenMP threads per run)")
    parser.add_argument("--cache", type=Path, default=None, help="build cache (default: a new, empty one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = args.cache.expanduser() if args.cache else tmp / "cache"
        cold = not any(cache.glob("*/main")) if cache.exists() else True
        sweep_dir = tmp / "sweep"
        wall = _sweep(args, sweep_dir, cache)
        rows = _index(sweep_dir)
        resume_wall = _sweep(args, sweep_dir, cache)
        resumed = _index(sweep_dir)

    done = [r for r in rows if r["status"] == "done"]
    if len(done) != args.runs:
        sys.exit(f"expected {args.runs} finished runs, the index has {len(done)}")
    job_s = sum(float(r["wall_time_s"]) for r in done)
    windows_s = sum(float(r["windows_s"]) for r in done)
    build_s = sum(float(r["build_s"]) for r in done)
    rebuilt = [r for r in done if r["recompiled"] == "True"]
    rebuilt_s = sum(float(r["build_s"]) for r in rebuilt)
    reused = [float(r["build_s"]) for r in done if r["recompiled"] != "True"]
    skipped = sum(r["status"] == "skipped-finished" for r in resumed)

    print(
        f"\n{args.runs} runs of `{' '.join(PROTOCOL)}` (seeds 1..{args.runs}), "
        f"n_jobs={args.n_jobs}, backend.threads={args.threads}, {'empty' if cold else 'warm'} build cache, "
        f"{os.cpu_count()} CPU cores\n"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| sweep wall time (s) | {wall:.1f} |")
    print(f"| runs per minute | {60 * args.runs / wall:.1f} |")
    print(f"| summed run wall time (s) | {job_s:.1f} |")
    print(f"| summed spiking-window wall time (s) | {windows_s:.1f} |")
    print(f"| sweep efficiency: window time / (sweep wall x n_jobs) | {windows_s / (wall * args.n_jobs):.2f} |")
    print(f"| build share of run time (code generation + make) | {100 * build_s / job_s:.1f}% |")
    print(
        f"| runs that compiled or relinked | {len(rebuilt)} of {len(done)}, {rebuilt_s:.1f} s "
        f"({100 * rebuilt_s / job_s:.1f}% of run time) |"
    )
    if reused:
        print(f"| build when reused, mean (s) | {sum(reused) / len(reused):.2f} |")
    print(f"| resumed sweep: skipped / wall (s) | {skipped} of {len(resumed)} / {resume_wall:.1f} |")


if __name__ == "__main__":
    main()
