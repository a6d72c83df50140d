"""Readouts of spike trains (pure numpy/scipy; times in ms, rates in Hz).

[`population_rate`][ketamine_sim.experiments.analysis.population_rate], [`cv_isi`][ketamine_sim.experiments.analysis.cv_isi],
[`power_spectrum`][ketamine_sim.experiments.analysis.power_spectrum], [`band_power`][ketamine_sim.experiments.analysis.band_power],
[`gamma_power`][ketamine_sim.experiments.analysis.gamma_power], [`synchrony`][ketamine_sim.experiments.analysis.synchrony]. The
equations are in each docstring and in [Analysis](../analysis.md). Spikes are given as two arrays of
one length, ``times_ms`` and (where a function needs them) ``ids``, node ids in ``[0, n_neurons)``;
a window is ``[start_ms, stop_ms)`` (a spike at ``stop_ms`` belongs to the next one), the same
convention as the readouts of ``results.h5``.

Examples
--------
Two cells, each firing every 25 ms (40 Hz) for one second:

>>> import numpy as np
>>> from ketamine_sim.experiments.analysis import cv_isi, population_rate
>>> times = np.tile(np.arange(0.0, 1000.0, 25.0), 2)
>>> ids = np.repeat([0, 1], 40)
>>> cv_isi(times, ids, n_neurons=2, start_ms=0.0, stop_ms=1000.0)
array([0., 0.])
>>> t_ms, rate_hz = population_rate(times, n_neurons=2, start_ms=0.0, stop_ms=1000.0, bin_ms=100.0)
>>> rate_hz
array([40., 40., 40., 40., 40., 40., 40., 40., 40., 40.])
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.experiments.simulation.readouts import (
    WELCH_SEGMENT_MS,
    bin_edges,
    bin_indices,
    cv_isi_per_cell,
    population_rate,
)
from ketamine_sim.experiments.simulation.spectra import GAMMA_BAND_HZ, band_power, welch_spectrum

__all__ = [
    "GAMMA_BAND_HZ",
    "WELCH_SEGMENT_MS",
    "band_power",
    "cv_isi",
    "gamma_power",
    "population_rate",
    "power_spectrum",
    "synchrony",
]


def cv_isi(times_ms, ids, n_neurons: int, start_ms: float, stop_ms: float, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each cell, one value per cell.

    Parameters
    ----------
    times_ms : array_like of float, shape (n_spikes,)
        Spike times (ms).
    ids : array_like of int, shape (n_spikes,)
        Node id of each spike, in ``[0, n_neurons)`` for the spikes in the window.
    n_neurons : int
        Number of cells (the length of the result).
    start_ms, stop_ms : float
        The window ``[start_ms, stop_ms)`` (ms).
    min_spikes : int
        Fewest spikes in the window for a cell to have a CV (>= 2).

    Returns
    -------
    numpy.ndarray of float, shape (n_neurons,)
        CV of each cell (dimensionless); NaN for cells with fewer than ``min_spikes`` spikes.

    Raises
    ------
    ValueError
        ``min_spikes < 2``, ``times_ms`` and ``ids`` of different shapes, or a node id in the
        window outside ``[0, n_neurons)``.

    Notes
    -----
    CV_i = std(ISI_i) / mean(ISI_i) (population std, ddof = 0) over the intervals between
    consecutive spikes of cell i in ``[start_ms, stop_ms)``. CV = 0 for a regular train,
    CV -> 1 for a Poisson train (exponential intervals). The mean over the cells with a value
    is the ``cv_isi`` readout of ``results.h5`` (which uses the window after its transient and
    ``min_spikes = 3``): both are ``ketamine_sim.experiments.simulation.readouts.cv_isi_per_cell``.

    Examples
    --------
    A regular train has CV 0; a cell with a single spike has none; a Poisson train has
    CV close to 1:

    >>> import numpy as np
    >>> regular = np.arange(0.0, 1000.0, 25.0)
    >>> times = np.concatenate([regular, [500.0]])
    >>> ids = np.concatenate([np.zeros(40, int), [1]])
    >>> cv_isi(times, ids, n_neurons=2, start_ms=0.0, stop_ms=1000.0)
    array([ 0., nan])
    >>> poisson = np.cumsum(np.random.default_rng(1).exponential(10.0, 5000))
    >>> cv = cv_isi(poisson, np.zeros(5000, int), 1, 0.0, poisson[-1] + 1.0)
    >>> bool(abs(cv[0] - 1.0) < 0.05)
    True
    """
    return cv_isi_per_cell(times_ms, ids, n_neurons, start_ms, stop_ms, min_spikes)


def power_spectrum(
    times_ms, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 1.0, segment_ms: float = WELCH_SEGMENT_MS
) -> tuple[np.ndarray, np.ndarray]:
    """Power spectral density of the population rate, ``(freq_hz, psd)``.

    Parameters
    ----------
    times_ms : array_like of float, shape (n_spikes,)
        Spike times of the population (ms).
    n_neurons : int
        Size of the population (> 0).
    start_ms, stop_ms : float
        The window ``[start_ms, stop_ms)`` (ms).
    bin_ms : float
        Bin width of the rate (ms); the sampling rate is fs = 1000 / ``bin_ms`` Hz.
    segment_ms : float
        Length of a Welch segment (ms); 256 ms (`WELCH_SEGMENT_MS`) gives a resolution of
        1000 / 256 = 3.9 Hz. Segments longer than the window are shortened to the window.

    Returns
    -------
    freq_hz : numpy.ndarray of float, shape (n_freq,)
        Frequencies from 0 to fs / 2 (Hz), n_freq = segment samples // 2 + 1.
    psd : numpy.ndarray of float, shape (n_freq,)
        One-sided power spectral density of the rate (Hz^2/Hz).

    Raises
    ------
    ValueError
        As [`population_rate`][ketamine_sim.experiments.analysis.population_rate].

    Notes
    -----
    The rate r(t) of [`population_rate`][ketamine_sim.experiments.analysis.population_rate], minus its mean,
    goes to Welch's method (``scipy.signal.welch``: Hann window, 50 % overlap, density
    scaling), so that the integral of psd over f is var r(t) (Parseval).

    Examples
    --------
    One cell firing every 25 ms: the integral of the spectrum is the variance of its rate
    in 1 ms bins (40 bins of 1000 Hz in 1000: 0.04 x 1000^2 - 40^2 = 38400 Hz^2).

    >>> import numpy as np
    >>> freq, psd = power_spectrum(np.arange(0.0, 1000.0, 25.0), 1, 0.0, 1000.0)
    >>> float(freq[1]), float(freq[-1])
    (3.90625, 500.0)
    >>> round(band_power(freq, psd, 0.0, 500.0), -2)
    38400.0
    """
    _, rate = population_rate(times_ms, n_neurons, start_ms, stop_ms, bin_ms)
    return welch_spectrum(rate, bin_ms, segment_ms)


def gamma_power(freq, psd, band: tuple[float, float] = GAMMA_BAND_HZ) -> float:
    """Power of a spectrum in the gamma band, 30-80 Hz by default.

    Parameters
    ----------
    freq, psd : array_like of float, shape (n_freq,)
        A spectrum, as [`power_spectrum`][ketamine_sim.experiments.analysis.power_spectrum] returns it
        (Hz, Hz^2/Hz).
    band : tuple of float
        ``(low_hz, high_hz)``; `GAMMA_BAND_HZ` = (30, 80) Hz, the band of the seed record C5
        (``seeds/acute_circuit.yaml``; Pinault 2008 [@pinault2008nmda]).

    Returns
    -------
    float
        [`band_power`][ketamine_sim.experiments.analysis.band_power] over ``band`` (Hz^2 for a rate spectrum).

    Examples
    --------
    >>> import numpy as np
    >>> freq = np.arange(0.0, 101.0, 1.0)
    >>> gamma_power(freq, np.ones_like(freq))
    50.0
    """
    return band_power(freq, psd, *band)


def synchrony(times_ms, ids, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 5.0) -> float:
    """Golomb's synchrony measure chi of a population, in [0, 1].

    Parameters
    ----------
    times_ms : array_like of float, shape (n_spikes,)
        Spike times (ms).
    ids : array_like of int, shape (n_spikes,)
        Node id of each spike, in ``[0, n_neurons)`` for the spikes in the window.
    n_neurons : int
        Number of cells N, silent ones included.
    start_ms, stop_ms : float
        The window ``[start_ms, stop_ms)`` (ms).
    bin_ms : float
        Width of the count bins (ms, > 0).

    Returns
    -------
    float
        chi (dimensionless); NaN if no neuron's count varies over the bins.

    Raises
    ------
    ValueError
        A node id in the window outside ``[0, n_neurons)``, ``bin_ms <= 0``,
        ``stop_ms <= start_ms`` or a window shorter than one bin.

    Notes
    -----
    With n_i(t_k) the spike count of neuron i in bin k and V(t_k) = (1/N) sum_i n_i(t_k) the
    population average,

        chi^2 = Var_t[V] / ((1/N) sum_i Var_t[n_i]),   chi = sqrt(chi^2).

    chi = 1 for identical spike trains; for N independent neurons chi^2 ~ 1/N (a finite-size
    bias), so chi ~ 1/sqrt(N). By Cauchy-Schwarz chi <= 1. Golomb 2007, Scholarpedia
    [@golomb2007neuronal]; Golomb & Rinzel 1993 [@golomb1993dynamics].

    Examples
    --------
    Four cells firing together every 25 ms are fully synchronous; four cells firing in turn
    (each every 20 ms, 5 ms apart) are not synchronous at all in 5 ms bins:

    >>> import numpy as np
    >>> together = np.tile(np.arange(0.0, 1000.0, 25.0), 4)
    >>> synchrony(together, np.repeat(np.arange(4), 40), n_neurons=4, start_ms=0.0, stop_ms=1000.0)
    1.0
    >>> in_turn = np.arange(0.0, 1000.0, 5.0) + 1.0
    >>> synchrony(in_turn, np.arange(200) % 4, n_neurons=4, start_ms=0.0, stop_ms=1000.0)
    0.0
    """
    edges = bin_edges(start_ms, stop_ms, bin_ms)
    nb = len(edges) - 1
    keep, idx = bin_indices(times_ms, start_ms, edges, bin_ms)
    ids = np.asarray(ids)[keep].astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_neurons):
        raise ValueError(f"node ids must lie in [0, {n_neurons})")
    counts = np.bincount(ids * nb + idx, minlength=n_neurons * nb).reshape(n_neurons, nb).astype(float)
    denom = counts.var(axis=1).mean()
    if denom == 0:
        return float("nan")
    return float(min(1.0, np.sqrt(counts.mean(axis=0).var() / denom)))
