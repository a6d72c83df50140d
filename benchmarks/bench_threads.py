"""Threads and OpenMP wait policy of a compiled window, on an idle machine and beside a
competing CPU-bound process.

    python benchmarks/bench_threads.py                       # circuit=pfc, 2 windows per case
    python benchmarks/bench_threads.py circuit=small --windows 3 --json out.json

For 1 and 2 OpenMP threads (``backend.threads``; each its own build, compiled into the cache
if missing) and each wait policy (``backend.wait_policy``: passive, auto, active), runs
baseline windows of the circuit directly from its build, first alone, then while one other
process spins on a core (``while True: pass``). Reports per case the median wall time of a
window, the binary's CPU time (user + system) and the slowdown under load (loaded / idle
wall time), all measured in this one run. On a 2-core machine the load takes one core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLICIES = ("passive", "auto", "active")


def _engine(overrides: list[str], threads: int, cache: Path):
    from ketamine_sim.circuits.spiking.network import initial_values
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.simulation.engine import make_engine

    cfg = compose_config([*overrides, f"backend.threads={threads}"])
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    engine = make_engine(structure, "cpp_standalone", cache)
    return engine, initial_values(structure, drive, {}, None, np.random.default_rng(1))


def _windows(engine, values, windows: int) -> tuple[float, float]:
    """Median wall seconds of a window and the binary's mean CPU seconds per window."""
    walls, cpu = [], 0.0
    for index in range(windows):
        before = os.times()
        start = time.perf_counter()
        engine.run_window(values, connect_seed=1, noise_seed=2 + index)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpu += (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return statistics.median(walls), cpu / windows


def main() -> None:
    from ketamine_sim.experiments.simulation.direct import binary_environment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", default=["circuit=pfc"])
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="build cache (default: the user's)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from ketamine_sim.experiments.paths import default_cache_dir

    cache = args.cache or default_cache_dir()
    rows = []
    for threads in (1, 2):
        engine, values = _engine(args.overrides, threads, cache)
        engine.run_window(values, connect_seed=1, noise_seed=1)  # warm the page cache
        for policy in POLICIES if threads > 1 else ("passive",):
            engine.environment = binary_environment(threads, policy)
            idle = _windows(engine, values, args.windows)
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                time.sleep(0.5)
                loaded = _windows(engine, values, args.windows)
            finally:
                hog.kill()
                hog.wait()
            row = {
                "threads": threads,
                "wait_policy": policy if threads > 1 else "(any)",
                "idle_wall_s": round(idle[0], 2),
                "idle_cpu_s": round(idle[1], 2),
                "loaded_wall_s": round(loaded[0], 2),
                "loaded_cpu_s": round(loaded[1], 2),
                "slowdown_under_load": round(loaded[0] / idle[0], 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{' '.join(args.overrides)}, {os.cpu_count()} cores, median of {args.windows} windows per case\n")
    print("| threads | wait policy | idle wall (s) | idle CPU (s) | loaded wall (s) | loaded / idle |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['threads']} | {r['wait_policy']} | {r['idle_wall_s']} | {r['idle_cpu_s']} | "
            f"{r['loaded_wall_s']} | {r['slowdown_under_load']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
