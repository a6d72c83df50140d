"""Analysis of stored runs (reads through :mod:`experiments.results` only).

- :mod:`.runs`: runs and sweeps as tidy pandas tables (:func:`load_run`, :func:`load_sweep`),
  rate changes and synaptic charge of a run;
- :mod:`.spiketrains`: spike-train statistics (rates, CV of ISI, spectra, gamma power, synchrony);
- :mod:`.course`: summaries of treatment courses (values and excess at a day);
- :mod:`.dose_response`: one row of dose-response columns per run.

The names of :mod:`.runs` and :mod:`.spiketrains` are available here
(``from experiments import analysis as A; A.load_run(...)``).
"""

from experiments.analysis.runs import (
    CHARGE_UNITS,
    ResultsFileError,
    Run,
    SkippedRunWarning,
    flatten_config,
    load_run,
    load_sweep,
    rate_change,
    synaptic_charge,
)
from experiments.analysis.spiketrains import (
    GAMMA_BAND_HZ,
    WELCH_SEGMENT_MS,
    band_power,
    cv_isi,
    gamma_power,
    population_rate,
    power_spectrum,
    synchrony,
)

__all__ = [
    "CHARGE_UNITS",
    "GAMMA_BAND_HZ",
    "WELCH_SEGMENT_MS",
    "ResultsFileError",
    "Run",
    "SkippedRunWarning",
    "band_power",
    "cv_isi",
    "flatten_config",
    "gamma_power",
    "load_run",
    "load_sweep",
    "population_rate",
    "power_spectrum",
    "rate_change",
    "synaptic_charge",
    "synchrony",
]
