"""Experiment kinds and running one into a folder.

- ``registry``: the registry of experiment kinds (``KINDS``, one [`Kind`][ketamine_sim.experiments.kinds.Kind]
  per ``experiment.name``), the whole validation ([`validate`][ketamine_sim.experiments.kinds.validate])
  and [`run_experiment`][ketamine_sim.experiments.kinds.run_experiment] /
  [`run_in_folder`][ketamine_sim.experiments.kinds.run_in_folder];
- ``catalog``: the kinds themselves, registered on import;
- ``folders``: the output folder's bookkeeping (claimed, checked, cleaned);
- ``protocol_run``: a protocol experiment (and the dose-response series) on one compiled circuit;
- ``jobs``: a run folder as a job that resumes (sweep jobs, launched runs);
- ``launch``: many runs launched through the command's Hydra launcher (the scorecard's).
"""

from ketamine_sim.experiments.kinds import catalog  # noqa: F401  (registers the kinds in KINDS)
from ketamine_sim.experiments.kinds.folders import (
    check_folder,
    check_writable,
    claim_folder,
    dose_folders,
    existing_results,
    remove_results,
)
from ketamine_sim.experiments.kinds.registry import KINDS, Kind, kind_of, run_experiment, run_in_folder, validate

__all__ = [
    "KINDS",
    "Kind",
    "check_folder",
    "check_writable",
    "claim_folder",
    "dose_folders",
    "existing_results",
    "kind_of",
    "remove_results",
    "run_experiment",
    "run_in_folder",
    "validate",
]
