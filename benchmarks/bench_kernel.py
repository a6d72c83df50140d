"""A pfc window against a hand-written kernel of the same window, in one run.

    python benchmarks/bench_kernel.py                    # circuit=pfc, 2 s, 1 thread
    python benchmarks/bench_kernel.py --circuit small --json out.json

The kernel (``benchmarks/kernel/pfc_window.cpp``) integrates the circuit's equations for one
drug-free window as plainly as C++ allows: per-population arrays and constants, the same
implicit fraction steps and Euler updates, CSR synapse tables drawn by geometric skipping, the
Poisson background as exponential inter-arrival times (xoshiro256+), the field proxy's sums;
it reads no run arguments and writes no files. Its constants are written into ``params.h`` from
the composed config, and it is compiled with the flags of the product's vectorised build
(Brian2's GCC flags through ``compile_flags``), and ``-fopenmp-simd`` so that its
``omp simd`` loops vectorise (no OpenMP threads). The product's window is the binary of the
cached build run directly (``benchmarks/bench_coba.py --one pfc``: the configured defaults, 1
thread), in its own process, once with each ``backend.background_draw``. Both are timed as CPU seconds of the whole window (drawing the
synapses and the loop; the product's also reading its arguments and writing its results).
Spike counts are printed beside each other: the kernel runs the same equations from other
random numbers, so they agree statistically, not exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The product's two ways of drawing the background (``backend.background_draw``), each timed.
DRAWS = ("per_cell", "per_population")
KERNEL = Path(__file__).resolve().parent / "kernel" / "pfc_window.cpp"
sys.path.insert(0, str(ROOT))


def params_header(circuit: str, window_s: float, seed: int) -> str:
    """``params.h`` for the kernel: the composed circuit's constants in SI units."""
    import numpy as np

    from ketamine_sim.circuits.compounds import SPECIES
    from ketamine_sim.circuits.pharmacology import V_REF_MV
    from ketamine_sim.circuits.spiking.field_potential import field_step_ms
    from ketamine_sim.circuits.spiking.network import POPULATIONS, initial_values
    from ketamine_sim.circuits.spiking.receptors import MG_HALF_BLOCK_MM, MG_VOLTAGE_SLOPE_PER_MV
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config

    cfg = compose_config([f"circuit={circuit}", f"circuit.window_s={window_s}"])
    s, d = C.circuit_structure(cfg), C.circuit_drive(cfg)
    if s.connectivity != "fixed_probability":
        sys.exit(f"the kernel draws fixed-probability synapses only; circuit {circuit} has {s.connectivity}")
    syn, block, ves = s.synapses, s.block, d.vesicles
    cells = []
    for pop in POPULATIONS:
        c = s.cells[pop]
        cells.append(
            [
                c.c_m_nF * 1e-9,
                c.g_l_nS * 1e-9,
                c.e_l_mV * 1e-3,
                c.v_th_mV * 1e-3,
                c.v_reset_mV * 1e-3,
                c.t_ref_ms * 1e-3,
                s.g_nmda_max_nS[pop] * 1e-9,
                d.background_weight_nS[pop] * 1e-9,
            ]
        )
    prob = [[s.connection_probability.get((a, b), 0.0) for b in POPULATIONS] for a in POPULATIONS]
    weight = [[1e-9 * d.weight_nS.get((a, b), 0.0) * s.weight_scale(a) for b in POPULATIONS] for a in POPULATIONS]

    def arr(values) -> str:
        if isinstance(values[0], list):
            return "{" + ", ".join(arr(v) for v in values) + "}"
        return "{" + ", ".join(repr(float(v)) for v in values) + "}"

    consts = {
        "DT": s.dt_ms * 1e-3,
        "WINDOW_S": s.window_s,
        "T_SETTLE": s.transient_s,
        "E_EXC": syn.e_exc_mV * 1e-3,
        "E_INH": syn.e_inh_mV * 1e-3,
        "TAU_AMPA": syn.tau_ampa_ms * 1e-3,
        "TAU_NMDA_RISE": syn.tau_nmda_rise_ms * 1e-3,
        "TAU_NMDA_DECAY": syn.tau_nmda_decay_ms * 1e-3,
        "ALPHA_NMDA": syn.alpha_nmda_per_ms * 1e3,
        "TAU_GABA_PV": syn.tau_gaba_pv_ms * 1e-3,
        "TAU_GABA_SST": syn.tau_gaba_sst_ms * 1e-3,
        "MG": syn.mg_mM,
        "MG_HALF": MG_HALF_BLOCK_MM,
        "MG_SLOPE": MG_VOLTAGE_SLOPE_PER_MV,
        "DELAY": syn.delay_ms * 1e-3,
        "KOFF": block.koff_per_s,
        "KESCAPE": block.escape_per_s,
        "V_BLOCK_REF": V_REF_MV * 1e-3,
        "V_BLOCK_E": block.v_e_mV * 1e-3,
        "MG_COMPETITION": 1.0 if block.mg_competition else 0.0,
        "U_RELEASE": ves.u_release,
        "U_BASELINE": ves.u_release,
        "DEPRESSION": 1.0 if ves.depression else 0.0,
        "TAU_REC": ves.tau_rec_ms * 1e-3,
        "RECYCLING_SLOWING": ves.recycling_slowing,
        "X_VES_START": float(initial_values(s, d, {}, None, np.random.default_rng(0))["pyr"]["x_ves"]),
        "SPINE_OCCUPANCY": s.spine_occupancy,
        "AMPA_SCALE": 1.0,
        "BACKGROUND_PER_STEP": s.background.n_sources * s.background.rate_hz * s.dt_ms * 1e-3,
    }
    lines = ["// written by benchmarks/bench_kernel.py from the composed config; do not edit", "#pragma once"]
    lines += [f"constexpr double {k} = {float(v)!r};" for k, v in consts.items()]
    lines += [
        f"constexpr int N_SPECIES = {len(SPECIES)};",
        f"constexpr double KON[N_SPECIES] = {arr([block.kon_per_uM_per_s(k) for k in SPECIES])};",
        f"constexpr int COUNTS[3] = {{{', '.join(str(s.counts[p]) for p in POPULATIONS)}}};",
        f"constexpr double CELL[3][8] = {arr(cells)};",
        f"constexpr double PROBABILITY[3][3] = {arr(prob)};",
        f"constexpr double WEIGHT[3][3] = {arr(weight)};",
        f"constexpr double NMDA_RATIO[3] = {arr([d.nmda_ratio[p] for p in POPULATIONS])};",
        f"constexpr int FIELD_STEPS = {round(field_step_ms(s.dt_ms) / s.dt_ms)};",
        f"constexpr unsigned long long SEED = {seed}ULL;",
    ]
    return "\n".join(lines) + "\n"


def product_flags() -> list[str]:
    """The GCC flags of the product's vectorised build."""
    import brian2 as b2

    from ketamine_sim.experiments.simulation.engine import compile_flags

    return compile_flags(list(b2.prefs["codegen.cpp.extra_compile_args_gcc"]), True)


def kernel(circuit: str, window_s: float, seed: int) -> dict:
    """Compile and run the kernel once; its JSON line."""
    # the product's flags, and the kernel's `omp simd` loops vectorised (no OpenMP threads)
    flags = [f for f in product_flags() if f not in ("-w", "-std=c++11")] + ["-std=c++17", "-fopenmp-simd"]
    with tempfile.TemporaryDirectory(prefix="kernel-") as name:
        folder = Path(name)
        (folder / "params.h").write_text(params_header(circuit, window_s, seed))
        binary = folder / "pfc_window"
        subprocess.run(["g++", *flags, f"-I{folder}", str(KERNEL), "-o", str(binary)], check=True)
        before = os.times()
        out = subprocess.run([str(binary)], capture_output=True, text=True, check=True)
        after = os.times()
    row = json.loads(out.stdout)
    row["process_cpu_s"] = after.children_user - before.children_user + after.children_system - before.children_system
    row["flags"] = " ".join(flags)
    return row


def product(circuit: str, window_s: float, background_draw: str) -> dict:
    """One window of the product (``bench_coba.py --one pfc``) with ``backend.background_draw``,
    in its own process."""
    command = [sys.executable, str(Path(__file__).with_name("bench_coba.py")), "--one", "pfc"]
    command += ["--duration-s", str(window_s), "--circuit", circuit, "--background-draw", background_draw]
    proc = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode:
        sys.exit(f"the product's window failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuit", default="pfc")
    parser.add_argument("--duration-s", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the median CPU is reported")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    try:
        params_header(args.circuit, args.duration_s, 1)  # a bad circuit or duration: one line, before any run
    except Exception as error:  # noqa: BLE001 (the config's own errors: Hydra's or the model's)
        parser.error(str(error).strip().splitlines()[0])
    kernels, products = [], {draw: [] for draw in DRAWS}
    for _ in range(args.repeats):  # alternate, so that a change in the machine's load hits all
        for draw in DRAWS:
            products[draw].append(product(args.circuit, args.duration_s, draw))
        kernels.append(kernel(args.circuit, args.duration_s, seed=len(kernels) + 1))

    def median(rows, key):
        values = sorted(r[key] for r in rows)
        return values[len(values) // 2]

    k_cpu = median(kernels, "process_cpu_s")
    spikes_k = kernels[0]["spikes"]
    print(f"\ncircuit={args.circuit}, {args.duration_s} s of network time, 1 thread, {os.cpu_count()} cores")
    print(f"kernel flags: {kernels[0]['flags']}\n")
    print(f"| window | spikes (pyr, pv, sst) | synapses (M) | CPU s (median of {args.repeats}) |")
    print("|---|---|---|---|")
    for draw, rows in products.items():
        print(
            f"| product, background_draw={draw} (cached binary, run directly) | {rows[0]['spikes_by_population']} | "
            f"{rows[0]['synapses'] / 1e6:.2f} | {median(rows, 'binary_cpu_s'):.2f} |"
        )
    print(
        f"| hand-written kernel | {spikes_k} | {kernels[0]['synapses'] / 1e6:.2f} | {k_cpu:.2f} "
        f"(synapses {median(kernels, 'cpu_connect_s'):.2f}, loop {median(kernels, 'cpu_loop_s'):.2f}) |"
    )
    print()
    for draw, rows in products.items():
        print(f"product (background_draw={draw}) / kernel, CPU per window: {median(rows, 'binary_cpu_s') / k_cpu:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"kernel": kernels, "product": products}, indent=1) + "\n")


if __name__ == "__main__":
    main()
