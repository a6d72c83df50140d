"""The errors a run reports to its user (a leaf module).

- [`ConfigError`][ketamine_sim.experiments.errors.ConfigError]: a bad config value; the command prints
  one line and exits 2.
- [`RunFolderError`][ketamine_sim.experiments.errors.RunFolderError]: the output folder cannot take the
  run (exit 2).
- [`NumericalError`][ketamine_sim.experiments.errors.NumericalError]: a window left the model's range;
  nothing is written (exit 1).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad config value, reported as one line naming the override path (a ValueError).

    Parameters
    ----------
    field : str
        The override path of the value at fault (``"dosing.dose_mg_per_kg"``, a config group
        such as ``"drug"``, or a Hydra setting); kept as the ``field`` attribute.
    message : str
        What is wrong and what is allowed (one line).

    Notes
    -----
    ``str(error)`` is ``"<field>: <message>"``. The error pickles with both arguments, so
    sweep jobs and scorecard runs report it from worker processes.

    Examples
    --------
    >>> error = ConfigError("dosing.dose_mg_per_kg", "must be >= 0, got -3")
    >>> str(error)
    'dosing.dose_mg_per_kg: must be >= 0, got -3'
    >>> error.field
    'dosing.dose_mg_per_kg'
    >>> import pickle
    >>> str(pickle.loads(pickle.dumps(error))) == str(error)
    True
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field

    def __reduce__(self):  # picklable: sweep jobs and scorecard runs report it from worker processes
        return type(self), (self.field, str(self)[len(self.field) + 2 :])


class RunFolderError(ConfigError):
    """The output folder cannot take the run (a [`ConfigError`][ketamine_sim.experiments.errors.ConfigError]).

    Raised when the folder is not writable, is in use by a live run, holds an earlier run's
    results, or failed when the results were written. ``field`` names the setting that chose
    the folder (``hydra.run.dir``, ``hydra.sweep.dir``, ``output_dir``).

    Examples
    --------
    >>> error = RunFolderError("output_dir", "cannot write into /read-only (Permission denied)")
    >>> isinstance(error, ConfigError), str(error)
    (True, 'output_dir: cannot write into /read-only (Permission denied)')
    """


class NumericalError(RuntimeError):
    """A window's final state or readouts left the model's range (a RuntimeError).

    NaN, inf, a fraction outside [0, 1] or a negative conductance integral: the run stops and
    writes nothing. The message names the window, the population and the variable.
    """
