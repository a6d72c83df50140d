"""Wall time of a treatment course (experiment=course) and where it goes.

    python benchmarks/bench_course.py                       # circuit=pfc, dosing=single_iv (14 days)
    python benchmarks/bench_course.py dosing=six_iv_2wk     # six infusions, 5.5 weeks

Runs the course twice in fresh processes, with an empty build cache and then with the warm
cache, and reports from the results' provenance: total wall time, build, spiking windows,
slow layer (block, glutamate/adenosine, plasticity between windows) and the rest (start-up,
pharmacokinetics, writing), and the ratio of slow-layer to window time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(overrides: list[str], cache: Path, out: Path) -> dict:
    from ketamine_sim.experiments.results import read_results

    env = dict(os.environ, KETAMINE_SIM_CACHE=str(cache), MPLBACKEND="Agg")
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ketamine_sim.experiments.app",
            "experiment=course",
            *overrides,
            "output.figure=false",
            f"hydra.run.dir={out}",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    data = read_results(out / "results.h5")
    t = data.provenance["wall_time_s"]
    return {
        "wall_s": wall,
        "build_s": t["build"],
        "windows_s": t["windows"],
        "slow_layer_s": t["slow_layer"],
        "other_s": wall - t["build"] - t["windows"] - t["slow_layer"],
        "n_windows": len(data.windows["start_s"]),
        "protocol_days": float(data.timeline["time_s"][-1] / 86400.0),
        "timeline_points": len(data.timeline["time_s"]),
    }


def main() -> None:
    overrides = sys.argv[1:] or ["circuit=pfc"]
    if not any(o.startswith("circuit=") for o in overrides):
        overrides.append("circuit=pfc")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = [
            ("empty cache", _run(overrides, tmp / "cache", tmp / "cold")),
            ("warm cache", _run(overrides, tmp / "cache", tmp / "warm")),
        ]
    first = rows[0][1]
    print(
        f"experiment=course {' '.join(overrides)}: {first['protocol_days']:.1f} days of protocol, "
        f"{first['n_windows']} windows, {first['timeline_points']} timeline points"
    )
    print(
        f"{'':12s} {'total s':>8s} {'build s':>8s} {'windows s':>10s} {'slow s':>7s} {'other s':>8s} {'slow/windows':>13s}"
    )
    for label, r in rows:
        print(
            f"{label:12s} {r['wall_s']:8.1f} {r['build_s']:8.1f} {r['windows_s']:10.1f} {r['slow_layer_s']:7.1f} "
            f"{r['other_s']:8.1f} {r['slow_layer_s'] / r['windows_s']:13.2f}"
        )


if __name__ == "__main__":
    main()
