"""Readouts of spike trains (pure numpy/scipy; times in ms, rates in Hz).

[`population_rate`][experiments.analysis.population_rate], [`cv_isi`][experiments.analysis.cv_isi], [`power_spectrum`][experiments.analysis.power_spectrum], [`band_power`][experiments.analysis.band_power],
[`gamma_power`][experiments.analysis.gamma_power], [`synchrony`][experiments.analysis.synchrony]. The equations are in each docstring and in
docs/analysis.md.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, signal

from experiments.simulation.readouts import cv_isi_per_cell, in_window

#: The gamma band (Hz) of TARGETS C5.
GAMMA_BAND_HZ: tuple[float, float] = (30.0, 80.0)
#: Default Welch segment length (ms): 256 ms gives a frequency resolution of 1000/256 = 3.9 Hz.
WELCH_SEGMENT_MS: float = 256.0

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


def _bins(start_ms: float, stop_ms: float, bin_ms: float) -> np.ndarray:
    if bin_ms <= 0 or stop_ms <= start_ms:
        raise ValueError(f"need bin_ms > 0 and stop_ms > start_ms (got {bin_ms}, [{start_ms}, {stop_ms}))")
    n = int(np.floor((stop_ms - start_ms) / bin_ms + 1e-9))
    if n < 1:
        raise ValueError(f"window [{start_ms}, {stop_ms}) shorter than one bin of {bin_ms} ms")
    return start_ms + bin_ms * np.arange(n + 1)


def _bin_index(times_ms, start_ms: float, edges: np.ndarray, bin_ms: float):
    """Bin index of each spike in [edges[0], edges[-1]) (a mask of the kept spikes and their bins)."""
    t = np.asarray(times_ms, dtype=float)
    keep = in_window(t, edges[0], edges[-1])
    idx = np.floor((t[keep] - start_ms) / bin_ms).astype(np.int64)
    return keep, np.clip(idx, 0, len(edges) - 2)


def population_rate(
    times_ms, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Population-averaged instantaneous rate, ``(t_ms, rate_hz)``.

    r(t_k) = n_k / (N * dt), with n_k the spikes of all N neurons in bin
    [start + k dt, start + (k+1) dt) and dt = ``bin_ms`` (converted to s). Only whole bins are
    used (a remainder of the window shorter than one bin is dropped); ``t_ms`` are the bin
    centres, in the time base of ``times_ms``.
    """
    if n_neurons <= 0:
        raise ValueError("n_neurons must be positive")
    edges = _bins(start_ms, stop_ms, bin_ms)
    _, idx = _bin_index(times_ms, start_ms, edges, bin_ms)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    return edges[:-1] + bin_ms / 2, counts / (n_neurons * bin_ms * 1e-3)


def cv_isi(times_ms, ids, n_neurons: int, start_ms: float, stop_ms: float, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each cell, one value per cell.

    CV_i = std(ISI_i) / mean(ISI_i) (population std, ddof = 0) over the intervals between
    consecutive spikes of cell i in [start_ms, stop_ms); NaN for cells with fewer than
    ``min_spikes`` spikes. CV = 0 for a regular train, about 1 for a Poisson train.
    The mean over the cells with a value is the ``cv_isi`` readout of ``results.h5`` (which uses
    the window after its transient and ``min_spikes = 3``): both are
    `experiments.simulation.readouts.cv_isi_per_cell`.
    """
    return cv_isi_per_cell(times_ms, ids, n_neurons, start_ms, stop_ms, min_spikes)


def power_spectrum(
    times_ms, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 1.0, segment_ms: float = WELCH_SEGMENT_MS
) -> tuple[np.ndarray, np.ndarray]:
    """Power spectral density of the population rate, ``(freq_hz, psd)`` with psd in Hz^2/Hz.

    The rate r(t) of [`population_rate`][experiments.analysis.population_rate] (sampled at fs = 1000 / ``bin_ms`` Hz), minus its
    mean, goes to Welch's method (``scipy.signal.welch``: Hann window, segments of
    ``segment_ms`` = 256 ms by default, i.e. a resolution of about 3.9 Hz, 50 % overlap,
    one-sided density scaling), so that integral of psd over f = var r(t) (Parseval).
    Segments longer than the window are shortened to the window.
    """
    _, rate = population_rate(times_ms, n_neurons, start_ms, stop_ms, bin_ms)
    fs = 1e3 / bin_ms
    nperseg = max(1, min(len(rate), round(segment_ms / bin_ms)))
    return signal.welch(rate - rate.mean(), fs=fs, nperseg=nperseg, scaling="density")


def band_power(freq, psd, low_hz: float, high_hz: float) -> float:
    """Power in [low_hz, high_hz]: P = integral of psd(f) df (trapezoid over the frequencies in the band).

    With psd from [`power_spectrum`][experiments.analysis.power_spectrum] P is in Hz^2 (the variance of the rate in that band).
    Returns 0 if fewer than two frequencies fall in the band.
    """
    freq, psd = np.asarray(freq, dtype=float), np.asarray(psd, dtype=float)
    band = (freq >= low_hz) & (freq <= high_hz)
    if np.count_nonzero(band) < 2:
        return 0.0
    return float(integrate.trapezoid(psd[band], freq[band]))


def gamma_power(freq, psd, band: tuple[float, float] = GAMMA_BAND_HZ) -> float:
    """[`band_power`][experiments.analysis.band_power] in the gamma band, 30-80 Hz (TARGETS C5)."""
    return band_power(freq, psd, *band)


def synchrony(times_ms, ids, n_neurons: int, start_ms: float, stop_ms: float, bin_ms: float = 5.0) -> float:
    """Golomb's synchrony measure chi, in [0, 1].

    With n_i(t_k) the spike count of neuron i in bin k (width ``bin_ms``) and
    V(t_k) = (1/N) sum_i n_i(t_k) the population average (over all N = ``n_neurons`` cells,
    silent ones included),

        chi^2 = Var_t[V] / ((1/N) sum_i Var_t[n_i]),   chi = sqrt(chi^2).

    chi = 1 for identical spike trains; for N independent neurons chi^2 ~ 1/N (finite-size
    bias), so chi ~ 1/sqrt(N). By Cauchy-Schwarz chi <= 1. NaN if no neuron's count varies.
    Golomb 2007, Scholarpedia 2:1347; Golomb & Rinzel 1993.
    """
    edges = _bins(start_ms, stop_ms, bin_ms)
    nb = len(edges) - 1
    keep, idx = _bin_index(times_ms, start_ms, edges, bin_ms)
    ids = np.asarray(ids)[keep].astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_neurons):
        raise ValueError(f"node ids must lie in [0, {n_neurons})")
    counts = np.bincount(ids * nb + idx, minlength=n_neurons * nb).reshape(n_neurons, nb).astype(float)
    denom = counts.var(axis=1).mean()
    if denom == 0:
        return float("nan")
    return float(min(1.0, np.sqrt(counts.mean(axis=0).var() / denom)))
