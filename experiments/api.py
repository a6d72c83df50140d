"""Run experiments from Python (a notebook, a script) with the same configs as the command line.

    from experiments.api import run
    result = run(["experiment=bath", "circuit=small", "bath.concentrations_uM=[0,1]"], "my_run")
    result.readouts_frame()

Overrides are Hydra's ``key=value`` strings; the run writes into ``output_dir`` exactly what
``ketamine-sim`` writes into its run directory. Brian2's device is global state, so runs in one
process follow each other (each starts from a fresh device); for parallel runs use ``-m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments import kinds
from experiments.analysis import Run, load_run
from experiments.config import check_overrides, compose_config
from experiments.kinds import run_experiment

__all__ = ["compose_config", "run"]


def run(overrides: Sequence[str] = (), output_dir: str | Path = "outputs/api", overwrite: bool = False) -> Run:
    """Validate, run and write one experiment; returns its results (``dose_response``: the
    results of the last dose, with ``dose_response.csv`` beside them).

    ``output_dir`` must be writable and must not hold the results of an earlier run: that
    raises :class:`~experiments.errors.RunFolderError` (a ConfigError naming ``output_dir``)
    before anything is simulated; ``overwrite=True`` removes them first. An interrupt
    (Ctrl-C, a notebook's "interrupt kernel") stops the run after the current window,
    writes nothing and raises KeyboardInterrupt. Bad overrides raise
    :class:`~experiments.errors.ConfigError`, as the command line refuses them."""
    output_dir = Path(output_dir)
    check_overrides(
        list(overrides), validate=kinds.validate
    )  # the command line's checks: a key given twice, a key nothing reads
    cfg = compose_config(overrides)
    path = run_experiment(cfg, output_dir, overwrite=overwrite, folder_field="output_dir")
    results = kinds.kind_of(cfg).results(cfg)  # dose_response: one results.h5 per dose, the last loaded
    return load_run(output_dir / results[-1][0] if results else path)
