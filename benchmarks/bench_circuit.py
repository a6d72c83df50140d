"""Speed and memory of one circuit: compiled C++ (cpp_standalone) against the Brian2 cython runtime.

    python benchmarks/bench_circuit.py                    # circuit=pfc, 3 windows per backend
    python benchmarks/bench_circuit.py circuit=small --windows 5 --json out.json

Reports, per backend, measured in one run on this machine: build time (first build into
an empty cache, and the rebuild a second process does against a warm cache), wall seconds
per second of network time, synaptic events per second, peak memory, and the per-window
overhead of a rerun (wall time of a window minus the simulation loop's own time). Each
backend runs in its own process (Brian2's device is global state).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from ketamine_sim.experiments.app import CONFIG_DIR

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides)


def _events_per_window(structure, spikes: dict) -> tuple[float, float]:
    """Recurrent synaptic events (spikes x expected out-degree) and background input events."""
    recurrent = 0.0
    for (pre, post), p in structure.connection_probability.items():
        recurrent += len(spikes[pre][0]) * p * structure.counts[post]
    n = sum(structure.counts.values())
    background = n * structure.background.n_sources * structure.background.rate_hz * structure.window_s
    return recurrent, background


def measure(backend: str, overrides: list[str], windows: int, cache: Path) -> dict:
    """Run in this process: build, then ``windows`` windows at baseline."""
    from ketamine_sim.circuits.spiking.network import initial_values
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.simulation.engine import make_engine

    cfg = _compose(overrides + [f"backend={backend}"])
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    start = time.perf_counter()
    engine = make_engine(structure, backend, cache)
    build_s = time.perf_counter() - start
    walls, loops, recurrent, background = [], [], [], []
    for index in range(windows):
        values = initial_values(structure, drive, {}, None, np.random.default_rng(index))
        out = engine.run_window(values, connect_seed=1, noise_seed=index + 1)
        walls.append(out.wall_s)
        if backend == "cpp_standalone":
            import brian2 as b2

            loops.append(float(b2.get_device()._last_run_time))
        r, b = _events_per_window(structure, out.spikes)
        recurrent.append(r)
        background.append(b)
    # the first runtime window includes code generation and compilation: report it as build
    if backend != "cpp_standalone":
        build_s += walls[0]
        walls, recurrent, background = walls[1:] or walls, recurrent[1:] or recurrent, background[1:] or background
    wall = float(np.mean(walls))
    result = {
        "backend": backend,
        "neurons": sum(structure.counts.values()),
        "threads": structure.threads if backend == "cpp_standalone" else 1,
        "window_s": structure.window_s,
        "build_s": build_s,
        "wall_per_network_s": wall / structure.window_s,
        "recurrent_events_per_s": float(np.mean(recurrent)) / wall,
        "all_events_per_s": float(np.mean(recurrent) + np.mean(background)) / wall,
        "peak_memory_MiB": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
        / 1024,
    }
    if loops:
        result["rerun_overhead_s"] = float(np.mean(np.array(walls) - np.array(loops)))
    return result


def _in_subprocess(backend: str, overrides: list[str], windows: int, cache: Path) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [
                sys.executable,
                __file__,
                *overrides,
                "--backend",
                backend,
                "--windows",
                str(windows),
                "--cache",
                str(cache),
                "--json",
                out.name,
                "--single",
            ],
            check=True,
        )
        return json.loads(Path(out.name).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", default=["circuit=pfc"], help="Hydra overrides (default circuit=pfc)")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--backend", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache", default=None, help="build cache (default: a new temporary folder)")
    parser.add_argument("--json", default=None, help="also write the results as JSON")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:  # one backend, in this process
        Path(args.json).write_text(json.dumps(measure(args.backend, args.overrides, args.windows, Path(args.cache))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or tmp)
        cold = _in_subprocess("cpp_standalone", args.overrides, args.windows, cache)
        warm = _in_subprocess("cpp_standalone", args.overrides, args.windows, cache)
        cython = _in_subprocess("cython", args.overrides, max(args.windows, 2), cache)
    cold["rebuild_warm_cache_s"] = warm["build_s"]
    rows = [
        ("build, empty cache (s)", cold["build_s"], cython["build_s"]),
        ("build, warm cache, new process (s)", warm["build_s"], float("nan")),
        ("wall s per network s", cold["wall_per_network_s"], cython["wall_per_network_s"]),
        ("recurrent synaptic events per s", cold["recurrent_events_per_s"], cython["recurrent_events_per_s"]),
        ("all synaptic events per s (incl. background)", cold["all_events_per_s"], cython["all_events_per_s"]),
        ("peak memory (MiB)", cold["peak_memory_MiB"], cython["peak_memory_MiB"]),
        ("per-window rerun overhead (s)", cold.get("rerun_overhead_s", float("nan")), float("nan")),
    ]
    print(
        f"\n{' '.join(args.overrides)}: {cold['neurons']} neurons, {cold['window_s']} s windows, "
        f"cpp_standalone with {cold['threads']} thread(s); {os.cpu_count()} CPU cores\n"
    )
    print("| measure | cpp_standalone | cython | cython / cpp_standalone |\n|---|---|---|---|")
    for name, a, b in rows:
        ratio = b / a if a and np.isfinite(b) else float("nan")
        print(f"| {name} | {a:.3g} | {b:.3g} | {ratio:.3g} |")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"cpp_standalone": cold, "cpp_standalone_warm": warm, "cython": cython}, indent=2)
        )


if __name__ == "__main__":
    main()
