"""Synaptic events per second: a pfc window against Brian2's plain COBA network, in one run.

    python benchmarks/bench_coba.py                  # N = 4000, 1 thread, 2 s of network time
    python benchmarks/bench_coba.py --json out.json

The reference is the conductance-based benchmark network of Brette et al. 2007 (J Comput
Neurosci 23:349, benchmark 1 "COBA", after Vogels & Abbott 2005): 4000 LIF cells (3200
excitatory, 800 inhibitory), connection probability 0.02, conductance jumps of 6 and 67
(x g_L / 10), written plainly in Brian2 and compiled with ``cpp_standalone`` with Brian2's
own flags and no OpenMP. The pfc circuit (4000 cells) runs one window of the same network
time through ``make_engine`` with the configured defaults (1 thread). Each runs in its own
process (Brian2's device is global state); both are timed as a whole binary (start-up,
drawing the synapses, the loop, writing results) and by the loop alone (the binary's
``last_run_info.txt``). Events: recurrent synaptic events are spikes x out-degree; the pfc
circuit also receives its Poisson background (1000 sources x 2 Hz per cell), reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def coba(n: int, duration_s: float) -> dict:
    """Brette et al. 2007 benchmark 1 (COBA) in cpp_standalone, 1 thread; one run."""
    import brian2 as b2
    from brian2 import ms, mV

    directory = tempfile.mkdtemp(prefix="coba-")
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.defaultclock.dt = 0.1 * ms
    constants = {
        "taum": 20 * ms,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "vt": -50 * mV,
        "vr": -60 * mV,
        "el": -60 * mV,
        "ee": 0 * mV,
        "ei": -80 * mV,
    }
    eqs = """
    dv/dt = (ge * (ee - v) + gi * (ei - v) - (v - el)) / taum : volt (unless refractory)
    dge/dt = -ge / taue : 1
    dgi/dt = -gi / taui : 1
    """
    cells = b2.NeuronGroup(
        n, eqs, threshold="v > vt", reset="v = vr", refractory=5 * ms, method="euler", namespace=constants
    )
    cells.v = "vr + rand() * (vt - vr)"
    cells.ge = "(randn() * 1.5 + 4) / 10"
    cells.gi = "(randn() * 12 + 20) / 10"
    n_exc = int(0.8 * n)
    exc = b2.Synapses(cells[:n_exc], cells, on_pre="ge += 6. / 10.")
    inh = b2.Synapses(cells[n_exc:], cells, on_pre="gi += 67. / 10.")
    exc.connect(p=0.02)
    inh.connect(p=0.02)
    spikes = b2.SpikeMonitor(cells)
    b2.run(duration_s * b2.second)
    device = b2.get_device()
    start = time.perf_counter()
    device.build(directory=directory, compile=True, run=False, with_output=False)
    build_s = time.perf_counter() - start
    before = os.times()
    start = time.perf_counter()
    device.run(directory=directory, with_output=False)
    wall = time.perf_counter() - start
    after = os.times()
    events = len(spikes.t) * 0.02 * n
    return {
        "model": "COBA (Brette 2007)",
        "cells": n,
        "build_s": round(build_s, 1),
        "binary_wall_s": round(wall, 2),
        "binary_cpu_s": round(
            after.children_user - before.children_user + after.children_system - before.children_system, 2
        ),
        "loop_s": round(float(device._last_run_time), 2),
        "spikes": len(spikes.t),
        "recurrent_events": events,
        "background_events": 0.0,
    }


def pfc(duration_s: float, circuit: str = "pfc", background_draw: str | None = None) -> dict:
    """One baseline window of the circuit (default pfc) through make_engine (defaults: 1 thread,
    vectorised; ``background_draw``: ``backend.background_draw``, None: the configured one)."""
    import numpy as np

    from ketamine_sim.circuits.spiking.network import initial_values
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.simulation.engine import make_engine

    draw = [f"backend.background_draw={background_draw}"] if background_draw else []
    cfg = compose_config([f"circuit={circuit}", f"circuit.window_s={duration_s}", *draw])
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    start = time.perf_counter()
    engine = make_engine(structure, **{k: v for k, v in C.engine_options(cfg).items() if k != "backend"})
    build_s = time.perf_counter() - start
    values = initial_values(structure, drive, {}, None, np.random.default_rng(1))
    first = engine.run_window(values, connect_seed=1, noise_seed=1)  # warm the page cache
    # timed: a later window of a run, which carries the spine sites in and reads no synapse tables
    values["pyr_to_pyr"] = {"spine": first.sites["spine"].astype(float)}
    before = os.times()
    out = engine.run_window(values, connect_seed=1, noise_seed=2)
    after = os.times()
    count = {pop: len(t) for pop, (t, _) in out.spikes.items()}
    recurrent = sum(
        count[pre] * p * structure.counts[post] for (pre, post), p in structure.connection_probability.items()
    )
    n = sum(structure.counts.values())
    synapses = sum(
        p
        / (structure.spine_occupancy if (pre, post) == ("pyr", "pyr") else 1.0)
        * structure.counts[pre]
        * structure.counts[post]
        for (pre, post), p in structure.connection_probability.items()
    )
    return {
        "model": f"{circuit} window ({structure.background.draw})",
        "cells": n,
        "build_s": round(build_s, 1),
        "binary_wall_s": round(out.wall_s, 2),
        "binary_cpu_s": round(
            after.children_user - before.children_user + after.children_system - before.children_system, 2
        ),
        "loop_s": None,
        "spikes": sum(count.values()),
        "spikes_by_population": [count[pop] for pop in ("pyr", "pv", "sst")],
        "synapses": synapses,  # expected (E->E: every spine site)
        "recurrent_events": recurrent,
        "background_events": n * structure.background.n_sources * structure.background.rate_hz * duration_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=4000)
    parser.add_argument("--duration-s", type=float, default=2.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", choices=("coba", "pfc"), help=argparse.SUPPRESS)
    parser.add_argument("--circuit", default="pfc", help=argparse.SUPPRESS)
    parser.add_argument("--background-draw", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.one == "coba":
            result = coba(args.cells, args.duration_s)
        else:
            result = pfc(args.duration_s, args.circuit, args.background_draw)
        print(json.dumps(result))
        return
    rows = []
    for which, draw in (("coba", None), ("pfc", "per_cell"), ("pfc", "per_population")):
        command = [
            sys.executable,
            __file__,
            "--one",
            which,
            "--cells",
            str(args.cells),
            "--duration-s",
            str(args.duration_s),
            *(["--background-draw", draw] if draw else []),
        ]
        proc = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if proc.returncode:
            sys.exit(f"{which} failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    coba_row = rows[0]
    rate = {r["model"]: r["recurrent_events"] / r["binary_cpu_s"] for r in rows}
    print(f"\n{args.cells} cells, {args.duration_s} s of network time, 1 thread, {os.cpu_count()} cores\n")
    print(
        "| network | spikes | recurrent events (M) | binary CPU (s) | recurrent events per CPU s | incl. background |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        both = (r["recurrent_events"] + r["background_events"]) / r["binary_cpu_s"]
        print(
            f"| {r['model']} | {r['spikes']} | {r['recurrent_events'] / 1e6:.1f} | {r['binary_cpu_s']} | "
            f"{rate[r['model']]:.3g} | {both:.3g} |"
        )
    for row in rows[1:]:
        print(
            f"\n{row['model']} / COBA, recurrent events per CPU second: {rate[row['model']] / rate[coba_row['model']]:.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
