"""Readouts of one spiking window, per population.

All are computed after a transient (the first ``transient_s`` of a window, when the
network settles from its random initial voltages), except the conductance means and
the open fraction, which integrate over the whole window.

[`check_window`][ketamine_sim.experiments.simulation.readouts.check_window] stops a run whose window left the model's range: a state variable or
readout that is NaN or infinite, a fraction outside [0, 1] or a negative integral of a
conductance, or a membrane potential beyond the reversal potentials raises
[`NumericalError`][ketamine_sim.experiments.errors.NumericalError] before anything is written.
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
from ketamine_sim.experiments.simulation.spectra import GAMMA_BAND_HZ, SPECTRAL_READOUT_UNITS, welch_spectrum

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
#: Default Welch segment of a population rate's spectrum (ms): 1000 / 256 = 3.9 Hz resolution.
WELCH_SEGMENT_MS: float = 256.0
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
    "open_access_time",
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
    """Raise [`NumericalError`][ketamine_sim.experiments.errors.NumericalError] naming the window, population and variable if the final
    state or the readouts of a population left the model's range (see module docstring);
    with ``v_range_V`` ([`membrane_range_V`][ketamine_sim.experiments.simulation.readouts.membrane_range_V]) also a membrane potential outside it."""
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

    The one convention for slicing spikes by window (readouts, [`spikes_in_window`][ketamine_sim.experiments.results.spikes_in_window],
    the spike-train statistics of [`analysis`][ketamine_sim.experiments.analysis]). Any time unit, the same for all three.
    """
    return (times >= start) & (times < stop)


def bin_edges(start_ms: float, stop_ms: float, bin_ms: float) -> np.ndarray:
    """Edges of the whole bins of ``bin_ms`` in ``[start_ms, stop_ms)`` (a remainder shorter than a
    bin is dropped); ValueError for ``bin_ms <= 0``, an empty window or one shorter than a bin."""
    if bin_ms <= 0 or stop_ms <= start_ms:
        raise ValueError(f"need bin_ms > 0 and stop_ms > start_ms (got {bin_ms}, [{start_ms}, {stop_ms}))")
    n = int(np.floor((stop_ms - start_ms) / bin_ms + 1e-9))
    if n < 1:
        raise ValueError(f"window [{start_ms}, {stop_ms}) shorter than one bin of {bin_ms} ms")
    return start_ms + bin_ms * np.arange(n + 1)


def bin_indices(times_ms, start_ms: float, edges: np.ndarray, bin_ms: float):
    """Bin index of each spike in [edges[0], edges[-1]) (a mask of the kept spikes and their bins)."""
    t = np.asarray(times_ms, dtype=float)
    keep = in_window(t, edges[0], edges[-1])
    idx = np.floor((t[keep] - start_ms) / bin_ms).astype(np.int64)
    return keep, np.clip(idx, 0, len(edges) - 2)


def population_rate(
    times_ms, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Population-averaged instantaneous rate, ``(t_ms, rate_hz)``.

    Parameters
    ----------
    times_ms : array_like of float, shape (n_spikes,)
        Spike times of all cells of the population (ms); spikes outside
        ``[start_ms, stop_ms)`` are ignored.
    n_neurons : int
        Size N of the population, silent cells included (> 0).
    start_ms, stop_ms : float
        The window ``[start_ms, stop_ms)`` (ms, the time base of ``times_ms``).
    bin_ms : float
        Bin width dt (ms, > 0).

    Returns
    -------
    t_ms : numpy.ndarray of float, shape (n_bins,)
        Bin centres (ms, in the time base of ``times_ms``); n_bins = floor((stop - start) / dt).
    rate_hz : numpy.ndarray of float, shape (n_bins,)
        Rate per neuron in each bin (Hz).

    Raises
    ------
    ValueError
        ``n_neurons <= 0``, ``bin_ms <= 0``, ``stop_ms <= start_ms``, or a window shorter
        than one bin.

    Notes
    -----
    r(t_k) = n_k / (N dt), with n_k the spikes of all N neurons in bin
    [start + k dt, start + (k + 1) dt) and dt in s. Only whole bins are used: a remainder
    of the window shorter than one bin is dropped.

    Examples
    --------
    Five spikes of a population of 10 cells in 10 ms bins: one spike in a bin is
    1 / (10 x 0.01 s) = 10 Hz.

    >>> import numpy as np
    >>> from ketamine_sim.experiments.simulation.readouts import population_rate
    >>> t_ms, rate_hz = population_rate(np.array([5.0, 12.0, 30.0, 31.0, 47.0]), 10, 0.0, 50.0, bin_ms=10.0)
    >>> t_ms
    array([ 5., 15., 25., 35., 45.])
    >>> rate_hz
    array([10., 10.,  0., 20., 10.])
    """
    if n_neurons <= 0:
        raise ValueError("n_neurons must be positive")
    edges = bin_edges(start_ms, stop_ms, bin_ms)
    _, idx = bin_indices(times_ms, start_ms, edges, bin_ms)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    return edges[:-1] + bin_ms / 2, counts / (n_neurons * bin_ms * 1e-3)


def gamma_rhythmicity(times_ms, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 1.0) -> float:
    """Gamma-band power of a population's rate relative to a Poisson population of the same size
    and rate (see `ketamine_sim.experiments.simulation.spectra`).

    Parameters
    ----------
    times_ms : array_like of float, shape (n_spikes,)
        Spike times of the population (ms).
    n_neurons : int
        Cells in the population (> 0).
    start_ms, stop_ms : float
        The window ``[start_ms, stop_ms)`` (ms).
    bin_ms : float
        Bin of the rate (ms); the band must lie below the Nyquist frequency 500 / ``bin_ms``.

    Returns
    -------
    float
        Mean Welch density of the rate over `GAMMA_BAND_HZ` divided by 2 r / N (r: the mean
        rate in Hz, N: ``n_neurons``); NaN without spikes.

    Examples
    --------
    Poisson cells: about 1. The same number of spikes locked to a 40 Hz cycle: far above.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> poisson = rng.uniform(0.0, 2000.0, size=20000)
    >>> bool(0.8 < gamma_rhythmicity(poisson, 1000, 0.0, 2000.0) < 1.2)
    True
    >>> locked = 25.0 * rng.integers(0, 80, size=20000) + rng.normal(0.0, 2.0, size=20000)
    >>> bool(gamma_rhythmicity(locked % 2000.0, 1000, 0.0, 2000.0) > 10)
    True
    """
    t = np.asarray(times_ms, dtype=float)
    t = t[in_window(t, start_ms, stop_ms)]
    if t.size == 0 or n_neurons < 1:
        return float("nan")
    _, rate_hz = population_rate(t, n_neurons, start_ms, stop_ms, bin_ms)
    freq, psd = welch_spectrum(rate_hz, bin_ms, WELCH_SEGMENT_MS)
    band = (freq >= GAMMA_BAND_HZ[0]) & (freq <= GAMMA_BAND_HZ[1])
    mean_rate = t.size / (n_neurons * (stop_ms - start_ms) * 1e-3)
    return float(np.mean(psd[band]) / (2.0 * mean_rate / n_neurons))


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
    (the ``cv_isi`` readout; the per-cell values are [`cv_isi_per_cell`][ketamine_sim.experiments.simulation.readouts.cv_isi_per_cell])."""
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
