"""Run experiments from Python (a notebook, a script) with the same configs as the command line.

    from experiments.api import run
    result = run(["experiment=bath", "circuit=small", "bath.concentrations_uM=[0,1]"], "my_run")
    result.readouts_frame()

Overrides are Hydra's ``key=value`` strings; the run writes into ``output_dir`` exactly what
``ketamine-sim`` writes into its run directory. Brian2's device is global state, so runs in one
process follow each other (each starts from a fresh device); for parallel runs use ``-m``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

from .analysis import Run, load_run
from .app import CONFIG_DIR
from .run import run_experiment


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``ketamine-sim OVERRIDES`` would use (without Hydra's own ``hydra`` node)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def run(overrides: Sequence[str] = (), output_dir: str | Path = "outputs/api") -> Run:
    """Validate, run and write one experiment; returns its results (``dose_response``: the
    results of the last dose, with ``dose_response.csv`` beside them)."""
    output_dir = Path(output_dir)
    path = run_experiment(compose_config(overrides), output_dir)
    if path.suffix == ".csv":  # dose_response writes one results.h5 per dose
        path = sorted(output_dir.glob("dose_*/results.h5"))[-1]
    return load_run(path)
