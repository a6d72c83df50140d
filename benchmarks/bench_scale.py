"""How a compiled window scales with the circuit's size, for both connectivity rules.

    python benchmarks/bench_scale.py                                  # 4000, 16000, 64000 cells
    python benchmarks/bench_scale.py --sizes 4000 16000 --rules fixed_probability --json out.json

For each size (cells; pfc's proportions 80:11.5:8.5 and its weights, given at 4000 cells)
and rule (``circuit.connectivity``), in a process of its own: builds the circuit (compiled
into the cache if missing), runs ``--windows`` baseline windows of ``circuit.window_s`` (1 s
by default) directly from the build, and reports synapses, build time, wall and CPU seconds
per window, spikes, recurrent synaptic events per second of wall time and the process's
peak memory. ``fixed_probability`` grows its synapses with N^2: the sizes it is run at are
capped by ``--max-probability-size`` (16000 by default: 56 M synapses).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: pfc's proportions of pyramidal, PV and SST cells.
SHARES = {"pyr": 3200 / 4000, "pv": 460 / 4000, "sst": 340 / 4000}


def counts(size: int) -> dict[str, int]:
    out = {pop: int(round(share * size)) for pop, share in SHARES.items()}
    out["pyr"] += size - sum(out.values())
    return out


def measure(size: int, rule: str, windows: int, window_s: float, cache: Path) -> dict:
    """In this process: build, then ``windows`` windows at baseline."""
    import numpy as np

    from ketamine_sim.circuits.spiking.network import initial_values
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.simulation.engine import make_engine

    n = counts(size)
    cfg = compose_config(
        [
            "circuit=pfc",
            f"circuit.name=scale{size}",
            f"circuit.counts={{pyr: {n['pyr']}, pv: {n['pv']}, sst: {n['sst']}}}",
            f"circuit.connectivity={rule}",
            f"circuit.window_s={window_s}",
            "backend.threads=1",
        ]
    )
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    start = time.perf_counter()
    engine = make_engine(structure, "cpp_standalone", cache)
    build_s = time.perf_counter() - start
    walls, cpus, spikes, synapses, events = [], [], [], 0, []
    for index in range(windows):
        values = initial_values(structure, drive, {}, None, np.random.default_rng(index))
        before, clock = os.times(), time.perf_counter()
        out = engine.run_window(values, connect_seed=1, noise_seed=2 + index)
        walls.append(time.perf_counter() - clock)
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
        count = {pop: len(t) for pop, (t, _) in out.spikes.items()}
        spikes.append(sum(count.values()))
        recurrent = 0.0
        for (pre, post), p in structure.connection_probability.items():
            out_degree = (
                structure.in_degree(pre, post) * structure.counts[post] / structure.counts[pre]
                if rule == "fixed_indegree"
                else p * structure.counts[post]
            )
            recurrent += count[pre] * out_degree
        events.append(recurrent / walls[-1])
        if index == 0:
            synapses = sum(
                structure.in_degree(pre, post) * structure.counts[post]
                if rule == "fixed_indegree"
                else p * structure.counts[pre] * structure.counts[post]
                for (pre, post), p in structure.connection_probability.items()
                if p > 0
            )
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    return {
        "cells": size,
        "connectivity": rule,
        "synapses_M": round(synapses / 1e6, 2),
        "build_s": round(build_s, 1),
        "compiled": bool(engine.recompiled),
        "window_s": window_s,
        "wall_s_per_window": round(sorted(walls)[len(walls) // 2], 2),
        "cpu_s_per_window": round(sorted(cpus)[len(cpus) // 2], 2),
        "spikes_per_window": int(sorted(spikes)[len(spikes) // 2]),
        "recurrent_events_per_wall_s": float(f"{sorted(events)[len(events) // 2]:.3g}"),
        "peak_memory_MiB": round(peak / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 16000, 64000])
    parser.add_argument("--rules", nargs="+", default=["fixed_indegree", "fixed_probability"])
    parser.add_argument("--max-probability-size", type=int, default=16000)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--window-s", type=float, default=1.0)
    parser.add_argument("--cache", type=Path, default=None, help="build cache (default: the user's)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # size rule: measure in this process
    args = parser.parse_args()
    from ketamine_sim.experiments.paths import default_cache_dir

    cache = args.cache or default_cache_dir()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.windows, args.window_s, cache)))
        return
    rows = []
    for rule in args.rules:
        for size in args.sizes:
            if rule == "fixed_probability" and size > args.max_probability_size:
                continue
            command = [sys.executable, __file__, "--one", str(size), rule, "--windows", str(args.windows)]
            command += ["--window-s", str(args.window_s), "--cache", str(cache)]
            proc = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if proc.returncode:
                print(f"{size} cells, {rule}: failed\n{proc.stderr[-2000:]}", flush=True)
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print(
        "\n| cells | connectivity | synapses (M) | build (s) | wall s / window | CPU s / window | events / wall s | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['cells']} | {r['connectivity']} | {r['synapses_M']} | {r['build_s']}{' (compiled)' if r['compiled'] else ''} | "
            f"{r['wall_s_per_window']} | {r['cpu_s_per_window']} | {r['recurrent_events_per_wall_s']:.3g} | {r['peak_memory_MiB']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
