"""Time of a virtual patient cohort: patients per minute and the whole cohort's wall time.

    python benchmarks/bench_cohort.py                        # 100 patients, six infusions, n_jobs=2
    python benchmarks/bench_cohort.py --patients 20 --dosing single_iv
    python benchmarks/bench_cohort.py --cache ~/.cache/ketamine-sim    # a warm cache

Runs ``ketamine-sim experiment=cohort`` on ``circuit=small`` (``backend.threads=1``,
``cohort.n_jobs`` workers sharing one compiled build), then the same command again into the
same folder (every patient is kept: the resumed cohort only reads and summarises). Reports
the first run's wall time (process start to tables written), patients per minute, each
patient's mean wall time per part (build, windows, slow layer) from its provenance, and the resumed run's time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cli_timing import time_command


def _cohort(args, folder: Path, cache: Path) -> float:
    return time_command(
        [
            "experiment=cohort",
            "circuit=small",
            "backend.threads=1",
            f"dosing={args.dosing}",
            f"cohort.n_patients={args.patients}",
            f"cohort.n_jobs={args.n_jobs}",
            f"hydra.run.dir={folder}",
        ],
        cache,
    )


def _wall_times(folder: Path) -> dict[str, list[float]]:
    """Each patient's wall time (s) per part (build, windows, slow_layer, total), from its
    results.h5 provenance (``/provenance/wall_time_s``)."""
    import h5py

    out: dict[str, list[float]] = {}
    for path in sorted(folder.glob("patients/*/results.h5")):
        with h5py.File(path, "r") as f:
            for part, seconds in f["provenance/wall_time_s"].attrs.items():
                out.setdefault(part, []).append(float(seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--dosing", default="six_iv_2wk")
    parser.add_argument("--cache", type=Path, default=None, help="build cache (default: a fresh, empty one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp) / "cache"
        folder = Path(tmp) / "cohort"
        first = _cohort(args, folder, cache)
        resumed = _cohort(args, folder, cache)
        parts = _wall_times(folder)
    per_minute = 60.0 * args.patients / first
    print(f"cohort: {args.patients} patients, dosing={args.dosing}, circuit=small, n_jobs={args.n_jobs}")
    print(f"  wall time {first / 60:.1f} min ({per_minute:.1f} patients/min, {first / args.patients:.1f} s each)")
    means = ", ".join(f"{part} {sum(v) / len(v):.1f} s" for part, v in parts.items())
    print(f"  per patient, mean over patients: {means}")
    print(f"  resumed (nothing to run): {resumed:.1f} s")


if __name__ == "__main__":
    main()
