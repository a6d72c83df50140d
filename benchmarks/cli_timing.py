"""Timing one ``ketamine-sim`` command, for the benchmarks that run a whole experiment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def time_command(overrides: list[str], cache: Path) -> float:
    """Wall time (s) of ``ketamine-sim OVERRIDES`` in a fresh process with the build cache
    ``cache``, from process start to exit; raises CalledProcessError if it fails."""
    env = dict(os.environ, KETAMINE_SIM_CACHE=str(cache), MPLBACKEND="Agg")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ketamine_sim.experiments.app", *overrides], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - start
