"""Readouts of one spiking window, per population.

All are computed after a transient (the first ``transient_s`` of a window, when the
network settles from its random initial voltages), except the conductance means and
the open fraction, which integrate over the whole window.
"""

from __future__ import annotations

import numpy as np

from circuits.compounds import SPECIES

#: Readout name -> unit (the ``units`` attribute in ``/readouts``).
READOUT_UNITS: dict[str, str] = {
    "rate": "Hz",
    "cv_isi": "1",
    "nmda_blocked": "1",
    "nmda_open_fraction": "1",
    "g_ampa_mean": "nS",
    "g_nmda_mean": "nS",
    "g_inh_mean": "nS",
}


def mean_rate_hz(times_s: np.ndarray, n_neurons: int, start_s: float, stop_s: float) -> float:
    """Spikes in [start, stop) per neuron per second."""
    count = np.count_nonzero((times_s >= start_s) & (times_s < stop_s))
    return count / (n_neurons * (stop_s - start_s))


def mean_cv_isi(times_s: np.ndarray, ids: np.ndarray, start_s: float, stop_s: float, min_spikes: int = 3) -> float:
    """Mean over neurons (with at least ``min_spikes`` spikes) of std(ISI) / mean(ISI); NaN if none."""
    keep = (times_s >= start_s) & (times_s < stop_s)
    times_s, ids = times_s[keep], ids[keep]
    order = np.lexsort((times_s, ids))
    times_s, ids = times_s[order], ids[order]
    cvs = []
    for neuron in np.unique(ids):
        t = times_s[ids == neuron]
        if len(t) >= min_spikes:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def window_readouts(spikes: tuple[np.ndarray, np.ndarray], state: dict[str, np.ndarray], n_neurons: int,
                    duration_s: float, transient_s: float) -> dict[str, float]:
    """All readouts of one population in one window (units in READOUT_UNITS)."""
    times, ids = spikes
    blocked = sum(state[f"b_{k}"] for k in SPECIES)
    return {
        "rate": mean_rate_hz(times, n_neurons, transient_s, duration_s),
        "cv_isi": mean_cv_isi(times, ids, transient_s, duration_s),
        "nmda_blocked": float(np.mean(blocked)),
        "nmda_open_fraction": float(np.mean(state["open_time"]) / duration_s),
        "g_ampa_mean": 1e9 * float(np.mean(state["q_ampa"])) / duration_s,
        "g_nmda_mean": 1e9 * float(np.mean(state["q_nmda"])) / duration_s,
        "g_inh_mean": 1e9 * float(np.mean(state["q_inh"])) / duration_s,
    }
