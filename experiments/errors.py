"""The errors a run reports to its user (a leaf module).

- [`ConfigError`][experiments.errors.ConfigError]: a bad config value; the command prints one line and exits 2.
- [`RunFolderError`][experiments.errors.RunFolderError]: the output folder cannot take the run (exit 2).
- [`NumericalError`][experiments.errors.NumericalError]: a window left the model's range; nothing is written (exit 1).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad config value: ``field`` is the override path, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field

    def __reduce__(self):  # picklable: sweep jobs and scorecard runs report it from worker processes
        return type(self), (self.field, str(self)[len(self.field) + 2 :])


class RunFolderError(ConfigError):
    """The output folder cannot take the run: not writable, in use by a live run, holding an
    earlier run's results, or it failed when the results were written. ``field`` names the
    setting that chose the folder (``hydra.run.dir``, ``hydra.sweep.dir``, ``output_dir``)."""


class NumericalError(RuntimeError):
    """A window's final state or readouts left the model's range (NaN, inf, a fraction outside
    [0, 1], a negative conductance integral): the run stops and writes nothing."""
