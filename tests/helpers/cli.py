"""Fixtures for running the ``ketamine-sim`` command: one compiled-build cache for the
whole test session, each run in its own process (Brian2's device is global state)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    run_dir: Path

    @property
    def results(self) -> Path:
        return self.run_dir / "results.h5"

    def read(self):
        """The run's results (asserting that the run succeeded, with its output tail if not)."""
        from ketamine_sim.experiments.results import read_results

        assert self.returncode == 0, self.stdout[-3000:] + self.stderr[-3000:]
        return read_results(self.results)


def merged(*overrides: str) -> tuple[str, ...]:
    """Overrides with each key once, the last value of a key winning (in the place of its first):
    the command line refuses a key given twice, so tests that change a shared base list
    merge instead of appending."""
    out: dict[str, str] = {}
    for text in overrides:
        out[text.partition("=")[0]] = text
    return tuple(out.values())


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory) -> Path:
    """Compiled circuits shared by every test of the session (``KETAMINE_SIM_CACHE``)."""
    return tmp_path_factory.mktemp("build-cache")


@pytest.fixture(scope="session")
def ketamine_sim(build_cache, tmp_path_factory):
    """Run ``ketamine-sim OVERRIDES...`` in a fresh process; returns a :class:`CliResult`."""
    runs = tmp_path_factory.mktemp("runs")
    counter = iter(range(10_000))

    def run(*overrides: str, timeout: float = 900) -> CliResult:
        run_dir = runs / f"run{next(counter)}"
        env = dict(os.environ, KETAMINE_SIM_CACHE=str(build_cache), MPLBACKEND="Agg")
        proc = subprocess.run(
            [sys.executable, "-m", "ketamine_sim.experiments.app", *overrides, f"hydra.run.dir={run_dir}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr, run_dir)

    return run
