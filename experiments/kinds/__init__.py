"""Running an experiment into a folder: validation, the folder's bookkeeping, the run itself.

:func:`run_experiment` validates a config (:func:`validate`), claims its output folder and runs
the experiment it names; :func:`run_in_folder` does so in a folder the caller holds.
"""

from experiments.kinds.run import (
    check_folder,
    check_writable,
    claim_folder,
    dose_folders,
    remove_results,
    run_experiment,
    run_in_folder,
    validate,
)

__all__ = [
    "check_folder",
    "check_writable",
    "claim_folder",
    "dose_folders",
    "remove_results",
    "run_experiment",
    "run_in_folder",
    "validate",
]
