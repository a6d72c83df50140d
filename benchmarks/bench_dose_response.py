"""Wall time of the dose-response experiment and how much of it is compilation.

    python benchmarks/bench_dose_response.py                  # circuit=pfc, 5 doses, empty build cache
    python benchmarks/bench_dose_response.py circuit=small

Runs ``ketamine-sim experiment=dose_response`` twice in fresh processes, first with an empty
build cache (the circuit compiles once, then every dose reruns the binary) and then with the
warm cache, and reports total wall time, build time, time in spiking windows and in the slow
layer, from the provenance of the results files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(overrides: list[str], cache: Path, out: Path) -> tuple[float, dict]:
    from ketamine_sim.experiments.results import read_results

    env = dict(os.environ, KETAMINE_SIM_CACHE=str(cache), MPLBACKEND="Agg")
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ketamine_sim.experiments.app",
            "experiment=dose_response",
            *overrides,
            "output.figure=false",
            f"hydra.run.dir={out}",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    doses = sorted(out.glob("dose_*/results.h5"))
    times = [read_results(d).provenance["wall_time_s"] for d in doses]
    return wall, {
        "doses": len(doses),
        "build_s": times[0]["build"],
        "windows_s": sum(t["windows"] for t in times),
        "slow_layer_s": sum(t["slow_layer"] for t in times),
    }


def main() -> None:
    overrides = sys.argv[1:] or ["circuit=pfc"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = [
            ("empty cache",) + _run(overrides, tmp / "cache", tmp / "cold"),
            ("warm cache",) + _run(overrides, tmp / "cache", tmp / "warm"),
        ]
    print(f"\nexperiment=dose_response {' '.join(overrides)}\n")
    print("| build cache | doses | total wall (s) | build (s) | build share | spiking windows (s) | slow layer (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, wall, t in rows:
        print(
            f"| {name} | {t['doses']} | {wall:.1f} | {t['build_s']:.1f} | {100 * t['build_s'] / wall:.0f}% | "
            f"{t['windows_s']:.1f} | {t['slow_layer_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
