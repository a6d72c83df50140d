"""Time of a global sensitivity analysis: runs per minute and the whole analysis's wall time.

    python benchmarks/bench_sensitivity.py                        # the default Morris design, n_jobs=2
    python benchmarks/bench_sensitivity.py --samples 2            # half the trajectories
    python benchmarks/bench_sensitivity.py --cache ~/.cache/ketamine-sim    # a warm cache

Runs ``ketamine-sim experiment=sensitivity`` on ``circuit=small`` (``backend.threads=1``,
``sensitivity.n_jobs`` workers sharing one compiled build), then the same command again into
the same folder (every sample is kept: the resumed analysis only reads and analyses). Reports
the first run's wall time (process start to tables written, compiling included with an empty
cache), runs per minute and the resumed run's time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cli_timing import time_command


def _analysis(args, folder: Path, cache: Path) -> float:
    return time_command(
        [
            "experiment=sensitivity",
            "circuit=small",
            "backend.threads=1",
            f"sensitivity.samples={args.samples}",
            f"sensitivity.n_jobs={args.n_jobs}",
            f"hydra.run.dir={folder}",
        ],
        cache,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=4, help="Morris trajectories (sensitivity.samples)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="build cache (default: a fresh, empty one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp) / "cache"
        folder = Path(tmp) / "sensitivity"
        first = _analysis(args, folder, cache)
        runs = len(list(folder.glob("samples/*/results.h5")))
        resumed = _analysis(args, folder, cache)
    print(f"sensitivity: Morris, {args.samples} trajectories, {runs} runs, circuit=small, n_jobs={args.n_jobs}")
    print(f"  wall time {first / 60:.1f} min ({60.0 * runs / first:.1f} runs/min, {first / runs:.1f} s each)")
    print(f"  resumed (nothing to run): {resumed:.1f} s")


if __name__ == "__main__":
    main()
