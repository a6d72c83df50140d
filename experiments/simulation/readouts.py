"""Readouts of one spiking window, per population.

All are computed after a transient (the first ``transient_s`` of a window, when the
network settles from its random initial voltages), except the conductance means and
the open fraction, which integrate over the whole window.

:func:`check_window` stops a run whose window left the model's range: a state variable or
readout that is NaN or infinite, a fraction outside [0, 1] or a negative integral of a
conductance, or a membrane potential beyond the reversal potentials raises
:class:`NumericalError` before anything is written.
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.spiking.vesicles import (
    VesicleParameters,
    effective_tau_rec_ms,
    pool_after_recovery,
    train_release,
)
from ketamine_sim.experiments.errors import NumericalError  # noqa: F401  (raised here; importable from here as before)
from ketamine_sim.experiments.simulation.spectra import SPECTRAL_READOUT_UNITS, gamma_rhythmicity

#: Readout name -> unit (the ``units`` attribute in ``/readouts``).
READOUT_UNITS: dict[str, str] = {
    "rate": "Hz",
    "cv_isi": "1",
    "nmda_blocked": "1",
    "nmda_open_fraction": "1",
    "g_ampa_mean": "nS",
    "g_nmda_mean": "nS",
    "g_inh_mean": "nS",
    # of the pyramidal terminals only (NaN for other populations):
    "release_rate": "1/s",
    "vesicle_available": "1",
    "vesicle_recovery_tau": "ms",
    "evoked_release": "1",
    "paired_pulse_ratio": "1",
    # gamma beyond the spike count (every population), and the field proxy's spectrum
    # (pyramidal cells only): experiments/simulation/spectra.py
    **SPECTRAL_READOUT_UNITS,
}
#: Readouts of the train probe (experiment=evoked_release), pyramidal terminals only.
TRAIN_READOUT_UNITS: dict[str, str] = {"train_release": "1", "pool_after_train_1s": "1"}
#: Interval of the paired-pulse probe (ms).
PAIRED_PULSE_INTERVAL_MS = 50.0


#: Readouts that are NaN by definition in some windows (no neuron with ``min_spikes``
#: spikes; no vesicle depression; no spikes or a window too short for a spectrum): NaN
#: allowed, never inf.
UNDEFINED_READOUTS: tuple[str, ...] = ("cv_isi", "vesicle_recovery_tau", *SPECTRAL_READOUT_UNITS)
#: Final-state variables that are fractions (prefixes; ``b_`` is every species' block).
FRACTION_STATE: tuple[str, ...] = ("b_", "s_nmda", "x_ves")
#: Final-state variables that are integrals or counts of non-negative quantities.
NON_NEGATIVE_STATE: tuple[str, ...] = (
    "q_ampa",
    "q_nmda",
    "q_inh",
    "open_time",
    "open_unbind_time",
    "released",
    "ampa_local",
)
#: Rounding allowed at the edges of a fraction's range.
FRACTION_TOLERANCE = 1e-9


def membrane_range_V(cell, synapses) -> tuple[float, float]:
    """The voltages (V) a conductance-based cell can reach: between the lowest and the highest
    of its leak, synaptic reversal, reset and threshold potentials (each Euler step of the
    membrane equation is a weighted mean of them while dt g_total / C_m <= 1)."""
    low = min(cell.e_l_mV, cell.v_reset_mV, synapses.e_inh_mV, synapses.e_exc_mV)
    high = max(cell.e_l_mV, cell.v_th_mV, synapses.e_inh_mV, synapses.e_exc_mV)
    return 1e-3 * low, 1e-3 * high


def check_window(
    state: dict[str, np.ndarray],
    readouts: dict[str, object],
    population: str,
    window: str,
    v_range_V: tuple[float, float] | None = None,
) -> None:
    """Raise :class:`NumericalError` naming the window, population and variable if the final
    state or the readouts of a population left the model's range (see module docstring);
    with ``v_range_V`` (:func:`membrane_range_V`) also a membrane potential outside it."""
    where = f"window '{window}', population {population}"
    if v_range_V is not None and "v" in state:
        v = np.asarray(state["v"], dtype=float)
        outside = ~np.isfinite(v) | (v < v_range_V[0] - 1e-9) | (v > v_range_V[1] + 1e-9)
        if np.any(outside):
            raise NumericalError(
                f"{where}: state variable v (membrane potential) is outside "
                f"[{1e3 * v_range_V[0]:g}, {1e3 * v_range_V[1]:g}] mV in {np.count_nonzero(outside)} of "
                f"{v.size} cells (e.g. {1e3 * float(v[outside][0]):.6g} mV): the synaptic conductances are too "
                f"large for the time step; nothing was written"
            )
    for name, values in state.items():
        values = np.asarray(values, dtype=float)
        bad = ~np.isfinite(values)
        if name.startswith(FRACTION_STATE):
            bad |= (values < -FRACTION_TOLERANCE) | (values > 1.0 + FRACTION_TOLERANCE)
            what = "a fraction outside [0, 1]"
        elif name in NON_NEGATIVE_STATE:
            bad |= values < 0
            what = "negative"
        else:
            what = "not finite"
        if np.any(bad):
            raise NumericalError(
                f"{where}: state variable {name} is {what} or not finite in {np.count_nonzero(bad)} "
                f"of {values.size} cells (e.g. {float(values[bad][0]):.6g}); the model left its valid range, "
                "nothing was written"
            )
    blocked = sum(np.asarray(v, dtype=float) for k, v in state.items() if k.startswith("b_"))
    if np.any(np.asarray(blocked) > 1.0 + FRACTION_TOLERANCE):
        raise NumericalError(
            f"{where}: the blocked fractions sum to more than 1 (max {float(np.max(blocked)):.17g}); "
            "nothing was written"
        )
    for name, value in readouts.items():
        values = np.asarray(value, dtype=float)
        bad = np.isinf(values) if name in UNDEFINED_READOUTS else ~np.isfinite(values)
        if np.any(bad):
            raise NumericalError(
                f"{where}: readout {name} is {float(values[bad].flat[0])}; the model left its valid "
                "range, nothing was written"
            )


def in_window(times: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Which spikes a window holds: the mask of ``start <= times < stop``.

    The one convention for slicing spikes by window (readouts, :func:`ketamine_sim.experiments.results.spikes_in_window`,
    the spike-train statistics of :mod:`ketamine_sim.experiments.analysis`). Any time unit, the same for all three.
    """
    return (times >= start) & (times < stop)


def mean_rate_hz(times_s: np.ndarray, n_neurons: int, start_s: float, stop_s: float) -> float:
    """Spikes in [start, stop) per neuron per second."""
    count = np.count_nonzero(in_window(times_s, start_s, stop_s))
    return count / (n_neurons * (stop_s - start_s))


def _cell_cvs(
    times: np.ndarray, ids: np.ndarray, start: float, stop: float, min_spikes: int
) -> tuple[np.ndarray, np.ndarray]:
    """(cells, CV of each) for the cells with at least ``min_spikes`` spikes in [start, stop),
    cells in ascending order; CV = std(ISI) / mean(ISI) (ddof = 0), computed per cell."""
    keep = in_window(times, start, stop)
    times, ids = times[keep], ids[keep]
    order = np.lexsort((times, ids))
    times, ids = times[order], ids[order]
    cells, first, counts = np.unique(ids, return_index=True, return_counts=True)
    enough = counts >= min_spikes
    cvs = np.empty(np.count_nonzero(enough))
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, (i, n) in enumerate(zip(first[enough], counts[enough])):
            isi = np.diff(times[i : i + n])
            cvs[k] = isi.std() / isi.mean()
    return cells[enough], cvs


def cv_isi_per_cell(
    times: np.ndarray, ids: np.ndarray, n_neurons: int, start: float, stop: float, min_spikes: int = 3
) -> np.ndarray:
    """Coefficient of variation of each cell's inter-spike intervals in [start, stop).

    CV_i = std(ISI_i) / mean(ISI_i) (population std, ddof = 0); NaN for cells with fewer than
    ``min_spikes`` spikes. Times in any unit (the CV has none), the same for ``start`` and ``stop``.
    Raises ValueError if ``min_spikes < 2``, the arrays differ in shape or an id in the window
    lies outside ``[0, n_neurons)``.
    """
    if min_spikes < 2:
        raise ValueError(f"min_spikes must be >= 2 (an ISI needs two spikes), got {min_spikes}")
    t, ids = np.asarray(times, dtype=float), np.asarray(ids).astype(np.int64)
    if t.shape != ids.shape:
        raise ValueError(f"times {t.shape} and ids {ids.shape} differ")
    inside = ids[in_window(t, start, stop)]
    if inside.size and (inside.min() < 0 or inside.max() >= n_neurons):
        raise ValueError(f"node ids must lie in [0, {n_neurons})")
    out = np.full(n_neurons, np.nan)
    cells, cvs = _cell_cvs(t, ids, start, stop, min_spikes)
    out[cells] = cvs
    return out


def mean_cv_isi(times_s: np.ndarray, ids: np.ndarray, start_s: float, stop_s: float, min_spikes: int = 3) -> float:
    """Mean over neurons (with at least ``min_spikes`` spikes) of std(ISI) / mean(ISI); NaN if none
    (the ``cv_isi`` readout; the per-cell values are :func:`cv_isi_per_cell`)."""
    _, cvs = _cell_cvs(times_s, ids, start_s, stop_s, min_spikes)
    return float(np.mean(cvs)) if cvs.size else float("nan")


def release_readouts(
    state: dict[str, np.ndarray],
    u_release: float,
    vesicles: VesicleParameters,
    duration_s: float,
    transient_s: float,
    train: tuple[int, float] | None = None,
) -> dict[str, object]:
    """The pyramidal terminals in one window.

    ``release_rate``: pool fractions released per cell per second by the ongoing activity
    (after the transient), what bulk glutamate integrates. ``evoked_release`` and
    ``paired_pulse_ratio``: the release of a test pulse (and of a second one 50 ms later,
    relative to the first) from terminals at rest, as slice recordings at low stimulation
    rates see it: U, and (U x2) / U with the pool recovering at tau_rec,eff in between
    (Tsodyks & Markram 1997). ``vesicle_recovery_tau``: tau_rec,eff at the window's end.
    With ``train = (pulses, interval_ms)`` also ``train_release`` (release per pulse of that
    train from rest, mean over cells) and ``pool_after_train_1s`` (pool 1 s after it).
    """
    blocked = sum(state[f"b_{k}"] for k in SPECIES)
    tau = effective_tau_rec_ms(vesicles, blocked) if vesicles.depression else np.full_like(blocked, np.nan)
    pair = (
        train_release(u_release, tau, 2, PAIRED_PULSE_INTERVAL_MS)
        if vesicles.depression
        else np.full((2,) + blocked.shape, u_release)
    )
    found: dict[str, object] = {}
    if train is not None:
        if vesicles.depression:
            pulses, pool = train_release(u_release, tau, train[0], train[1], return_pool=True)
            found["pool_after_train_1s"] = float(np.mean(pool_after_recovery(pool, tau, 1000.0)))
        else:
            pulses, found["pool_after_train_1s"] = np.full((train[0],) + blocked.shape, u_release), 1.0
        found["train_release"] = pulses.mean(axis=1)
    return found | {
        "release_rate": float(np.mean(state["released"])) / (duration_s - transient_s),
        "vesicle_available": float(np.mean(state["x_ves"])),
        "vesicle_recovery_tau": float(np.mean(tau)),
        "evoked_release": float(np.mean(pair[0])),
        "paired_pulse_ratio": float(np.mean(pair[1]) / np.mean(pair[0])),
    }


def window_readouts(
    spikes: tuple[np.ndarray, np.ndarray],
    state: dict[str, np.ndarray],
    n_neurons: int,
    duration_s: float,
    transient_s: float,
) -> dict[str, float]:
    """All readouts of one population in one window but the release ones (units in READOUT_UNITS)."""
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
        "gamma_rhythmicity": gamma_rhythmicity(1e3 * times, n_neurons, 1e3 * transient_s, 1e3 * duration_s),
    }
