"""Analysis of stored runs (reads through [`ketamine_sim.experiments.results`][ketamine_sim.experiments.results] only).

- ``runs``: runs and sweeps as tidy pandas tables
  ([`load_run`][ketamine_sim.experiments.analysis.load_run], [`load_sweep`][ketamine_sim.experiments.analysis.load_sweep]),
  rate changes and synaptic charge of a run;
- ``spiketrains``: spike-train statistics (rates, CV of ISI, spectra, gamma power, synchrony);
- the spectral readouts of a window
  ([`spectra`][ketamine_sim.experiments.simulation.spectra]: the field proxy's spectrum, band
  powers, aperiodic fit, gamma beyond the spike count);
- [`course`][ketamine_sim.experiments.analysis.course]: summaries of treatment courses (values and excess
  at a day);
- [`dose_response`][ketamine_sim.experiments.analysis.dose_response]: one row of dose-response columns per run.

The names of ``runs``, ``spiketrains`` and ``spectra`` are available here
(``from ketamine_sim.experiments import analysis as A; A.load_run(...)``); times are in ms, rates in Hz.
"""

from ketamine_sim.experiments.analysis.runs import (
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
from ketamine_sim.experiments.analysis.spiketrains import (
    GAMMA_BAND_HZ,
    WELCH_SEGMENT_MS,
    band_power,
    cv_isi,
    gamma_power,
    population_rate,
    power_spectrum,
    synchrony,
)
from ketamine_sim.experiments.simulation.readouts import gamma_rhythmicity
from ketamine_sim.experiments.simulation.spectra import FIELD_BANDS_HZ, aperiodic_fit, field_readouts, welch_spectrum

__all__ = [
    "CHARGE_UNITS",
    "FIELD_BANDS_HZ",
    "aperiodic_fit",
    "field_readouts",
    "gamma_rhythmicity",
    "welch_spectrum",
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
