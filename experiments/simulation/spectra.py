"""Spectral readouts of one window: the field-potential proxy's bands, gamma peak and aperiodic
exponent, and each population's gamma beyond its spike count.

A rise in firing alone raises the power of any signal made of spikes at every frequency; a
rhythm raises it in its band. Two readouts separate them:

* ``gamma_rhythmicity`` (per population, from spikes;
  [`gamma_rhythmicity`][ketamine_sim.experiments.simulation.readouts.gamma_rhythmicity]): the gamma-band power density of the
  population rate divided by that of a Poisson population of the same size and mean rate,
  2 r / N (Hz^2/Hz; the count of a Poisson process in disjoint bins is white, of variance
  its mean, and a one-sided density of white noise of variance s^2 sampled at f_s is
  2 s^2 / f_s). 1: no rhythm beyond the spike count, whatever the rate.
* ``field_gamma_peak_height`` (from the field proxy): the height of the largest spectral
  peak in the gamma band above the aperiodic (1/f-like) part of the spectrum, fitted by
  FOOOF/specparam [@donoghue2020parameterizing] (log10 power); 0 where there is none. A
  broadband rise moves the aperiodic offset, not the peak.

Spectra: Welch's method (Hann window, 50 % overlap, segments of `FIELD_SEGMENT_MS`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ketamine_sim.circuits.spiking.field_potential import FIELD_CURRENTS, reference_weighted_sum

#: Sampling interval of the stored field proxy (ms): means over bins of this length.
FIELD_SAMPLE_MS: float = 1.0
#: Frequency bands of the field proxy (Hz): names of the ``field_power_<band>`` readouts.
#: Gamma is 30-80 Hz, the band of the seed record C5 (Pinault 2008 [@pinault2008nmda]).
FIELD_BANDS_HZ: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 80.0),
    "high_gamma": (80.0, 150.0),
}
GAMMA_BAND_HZ: tuple[float, float] = FIELD_BANDS_HZ["gamma"]
#: Welch segment of the band powers (ms): a resolution of 1000 / 500 = 2 Hz, so that delta
#: (1-4 Hz) holds two frequencies in a window of 1.5 s after its transient.
FIELD_SEGMENT_MS: float = 500.0
#: Welch segment of the spectrum the aperiodic fit and the gamma peak are read from (ms): 3.9 Hz
#: resolution, about twice the segments of `FIELD_SEGMENT_MS` in a window, a smoother spectrum.
FIT_SEGMENT_MS: float = 256.0
#: Frequencies the aperiodic fit spans (Hz) and its model: a Lorentzian with a knee, the shape
#: of the spectrum of summed synaptic currents (Gao 2017 [@gao2017inferring]); the span reaches
#: well past the knee (near 100 Hz in the default circuit), where the exponent shows.
APERIODIC_FIT_HZ: tuple[float, float] = (4.0, 300.0)
APERIODIC_MODE: str = "knee"
#: Smallest peak the fit reports (log10 power above the aperiodic part): x 1.26 in power.
MIN_PEAK_HEIGHT: float = 0.1

#: Readout name -> unit of the spectral readouts (field ones: pyramidal cells only).
SPECTRAL_READOUT_UNITS: dict[str, str] = {
    "gamma_rhythmicity": "1",
    **{f"field_power_{band}": "nA^2" for band in FIELD_BANDS_HZ},
    "field_gamma_peak_hz": "Hz",
    "field_gamma_peak_height": "1",
    "field_aperiodic_exponent": "1",
}


def field_samples(field: dict[str, np.ndarray], step_ms: float) -> tuple[float, dict[str, np.ndarray]]:
    """A window's summed currents as stored: means over bins of about `FIELD_SAMPLE_MS`, in nA,
    and the field proxy computed from them.

    Parameters
    ----------
    field : dict of str to numpy.ndarray
        ``i_glu`` and ``i_gaba`` (A), one sample per ``step_ms`` from the window's start.
    step_ms : float
        Their sampling interval (ms): ``field_step_ms`` of the circuit's time step.

    Returns
    -------
    sample_ms : float
        The bin: a whole number of samples, round(`FIELD_SAMPLE_MS` / ``step_ms``) (at least 1).
    samples : dict of str to numpy.ndarray, shape (n_samples,) each
        ``i_glu``, ``i_gaba`` and ``proxy`` (the reference weighted sum of
        `ketamine_sim.circuits.spiking.field_potential`), nA; sample k is the mean over
        ``[k, k + 1)`` bins; a last partial bin is left out.

    Examples
    --------
    >>> import numpy as np
    >>> step, out = field_samples({"i_glu": np.full(100, -2e-9), "i_gaba": np.full(100, 1e-9)}, 0.1)
    >>> step, out["i_glu"].shape, round(float(out["proxy"][-1]), 6)
    (1.0, (10,), -3.65)
    """
    per = max(1, int(round(FIELD_SAMPLE_MS / step_ms)))
    n = len(field["i_glu"]) // per
    binned = {
        name: 1e9 * np.asarray(field[name][: n * per], dtype=float).reshape(n, per).mean(axis=1)
        for name in FIELD_CURRENTS
    }
    sample_ms = per * step_ms
    binned["proxy"] = reference_weighted_sum(binned["i_glu"], binned["i_gaba"], sample_ms)
    return sample_ms, binned


def welch_spectrum(signal, sample_ms: float, segment_ms: float = FIELD_SEGMENT_MS) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectral density of a sampled signal, its mean removed (Welch).

    Parameters
    ----------
    signal : array_like of float, shape (n_samples,)
        The samples (any unit u; NaN samples are left out at the start and end).
    sample_ms : float
        Sampling interval (ms, > 0).
    segment_ms : float
        Welch segment (ms), shortened to the signal.

    Returns
    -------
    freq_hz, psd : numpy.ndarray, shape (n_freq,)
        Frequencies (Hz) and density (u^2/Hz); the integral over f is the variance.

    Raises
    ------
    ValueError
        If fewer than 2 finite samples remain, or a NaN lies inside the signal.

    Examples
    --------
    A 40 Hz sine of amplitude 1 sampled at 1 kHz: its power (variance 1/2) at 40 Hz.

    >>> import numpy as np
    >>> freq, psd = welch_spectrum(np.sin(2 * np.pi * 40 * np.arange(2000) / 1000), 1.0)
    >>> from scipy.integrate import trapezoid
    >>> float(freq[np.argmax(psd)]), round(float(trapezoid(psd, freq)), 2)
    (40.0, 0.5)
    """
    from scipy import signal as sp_signal

    x = np.asarray(signal, dtype=float)
    finite = np.flatnonzero(np.isfinite(x))
    if finite.size < 2:
        raise ValueError("need at least 2 finite samples")
    x = x[finite[0] : finite[-1] + 1]
    if not np.all(np.isfinite(x)):
        raise ValueError("the signal has NaN or infinite samples inside it")
    if not sample_ms > 0:
        raise ValueError(f"sample_ms must be > 0, got {sample_ms}")
    nperseg = max(2, min(x.size, int(round(segment_ms / sample_ms))))
    return sp_signal.welch(x - x.mean(), fs=1e3 / sample_ms, nperseg=nperseg, scaling="density")


def band_power(freq, psd, low_hz: float, high_hz: float) -> float:
    """Power of a spectrum in the band ``[low_hz, high_hz]``.

    Parameters
    ----------
    freq : array_like of float, shape (n_freq,)
        Frequencies (Hz), increasing.
    psd : array_like of float, shape (n_freq,)
        Power spectral density at ``freq`` (e.g. Hz^2/Hz from
        [`power_spectrum`][ketamine_sim.experiments.analysis.power_spectrum]).
    low_hz, high_hz : float
        Edges of the band (Hz), both included.

    Returns
    -------
    float
        P = integral of psd(f) df over the band (trapezoid rule over the frequencies in the
        band); Hz^2 for the psd of [`power_spectrum`][ketamine_sim.experiments.analysis.power_spectrum] (the
        variance of the rate in that band). NaN if fewer than two frequencies fall in the
        band (the spectrum does not resolve it).

    Examples
    --------
    >>> band_power([0.0, 10.0, 20.0, 30.0], [1.0, 1.0, 1.0, 1.0], 0.0, 20.0)
    20.0
    >>> band_power([0.0, 10.0, 20.0], [1.0, 1.0, 1.0], 12.0, 18.0)
    nan
    """
    freq, psd = np.asarray(freq, dtype=float), np.asarray(psd, dtype=float)
    band = (freq >= low_hz) & (freq <= high_hz)
    if np.count_nonzero(band) < 2:
        return float("nan")
    from scipy import integrate

    return float(integrate.trapezoid(psd[band], freq[band]))


def aperiodic_fit(freq, psd, fit_hz: tuple[float, float] = APERIODIC_FIT_HZ, mode: str = APERIODIC_MODE) -> dict:
    """The aperiodic exponent and the largest gamma peak of a spectrum (FOOOF 1.1, the
    spectral parameterisation of Donoghue et al. 2020 [@donoghue2020parameterizing]).

    Parameters
    ----------
    freq, psd : array_like of float, shape (n_freq,)
        A spectrum (Hz, any density unit).
    fit_hz : tuple of float
        The frequencies the model is fitted over (Hz).
    mode : {"knee", "fixed"}
        The aperiodic model: ``fixed`` log10 P = b - chi log10 f; ``knee`` log10 P = b -
        log10(k + f^chi).

    Returns
    -------
    dict
        ``exponent`` chi, ``gamma_peak_hz`` (centre of the highest peak with its centre in
        `GAMMA_BAND_HZ`, NaN if none), ``gamma_peak_height`` (its height above the aperiodic
        fit, log10 power; 0 if none); all NaN where the spectrum cannot be fitted (zero or
        too few frequencies).
    """
    # fooof 1.1 announces its successor (specparam 2) at import, after setting the process's
    # warning filter to "always": record it here (not shown), and the filters are restored after
    with warnings.catch_warnings(record=True):
        from fooof import FOOOF

    freq, psd = np.asarray(freq, dtype=float), np.asarray(psd, dtype=float)
    keep = (freq >= fit_hz[0]) & (freq <= fit_hz[1])
    nan = {"exponent": np.nan, "gamma_peak_hz": np.nan, "gamma_peak_height": np.nan}
    if np.count_nonzero(keep) < 8 or not np.all(psd[keep] > 0):
        return nan
    model = FOOOF(
        peak_width_limits=(4.0, 30.0),
        max_n_peaks=4,
        min_peak_height=MIN_PEAK_HEIGHT,
        aperiodic_mode=mode,
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(freq[keep], psd[keep])
    if not model.has_model:
        return nan
    exponent = float(model.aperiodic_params_[-1])
    peaks = np.atleast_2d(model.peak_params_)  # rows: centre (Hz), height (log10), width (Hz)
    low, high = GAMMA_BAND_HZ
    in_gamma = [row for row in peaks if row.size == 3 and low <= row[0] <= high]
    if not in_gamma:
        return {"exponent": exponent, "gamma_peak_hz": np.nan, "gamma_peak_height": 0.0}
    best = max(in_gamma, key=lambda row: row[1])
    return {"exponent": exponent, "gamma_peak_hz": float(best[0]), "gamma_peak_height": float(best[1])}


def field_readouts(proxy_nA, sample_ms: float, transient_ms: float) -> dict[str, float]:
    """The field readouts of one window's proxy (`SPECTRAL_READOUT_UNITS` but
    ``gamma_rhythmicity``), from the samples after the transient.

    Parameters
    ----------
    proxy_nA : array_like of float, shape (n_samples,)
        The field proxy of the window (nA), sampled every ``sample_ms`` from its start (NaN
        where the delayed current is unknown).
    sample_ms : float
        Sampling interval (ms).
    transient_ms : float
        Samples before it are left out.

    Returns
    -------
    dict of str to float
        ``field_power_<band>`` (nA^2) for `FIELD_BANDS_HZ` (NaN for a band the spectrum does
        not resolve), ``field_gamma_peak_hz``, ``field_gamma_peak_height``,
        ``field_aperiodic_exponent`` (NaN for less than `FIT_SEGMENT_MS` of samples).
    """
    x = np.asarray(proxy_nA, dtype=float)[int(np.ceil(transient_ms / sample_ms - 1e-9)) :]
    out = {f"field_power_{band}": np.nan for band in FIELD_BANDS_HZ}
    out.update(field_gamma_peak_hz=np.nan, field_gamma_peak_height=np.nan, field_aperiodic_exponent=np.nan)
    finite = np.flatnonzero(np.isfinite(x))
    if finite.size < 2 or not np.all(np.isfinite(x[finite[0] : finite[-1] + 1])):
        return out  # too short, or NaN inside (the window's state check names the cause)
    freq, psd = welch_spectrum(x, sample_ms)
    for band, (low, high) in FIELD_BANDS_HZ.items():
        out[f"field_power_{band}"] = band_power(freq, psd, low, high)
    if sample_ms * (finite[-1] - finite[0] + 1) < FIT_SEGMENT_MS:
        return out  # shorter than one fit segment: too coarse a spectrum to fit
    fit = aperiodic_fit(*welch_spectrum(x, sample_ms, FIT_SEGMENT_MS))
    out.update(
        field_gamma_peak_hz=fit["gamma_peak_hz"],
        field_gamma_peak_height=fit["gamma_peak_height"],
        field_aperiodic_exponent=fit["exponent"],
    )
    return out


__all__ = [
    "FIELD_SAMPLE_MS",
    "field_samples",
    "APERIODIC_FIT_HZ",
    "APERIODIC_MODE",
    "FIELD_BANDS_HZ",
    "FIELD_SEGMENT_MS",
    "FIT_SEGMENT_MS",
    "MIN_PEAK_HEIGHT",
    "GAMMA_BAND_HZ",
    "SPECTRAL_READOUT_UNITS",
    "aperiodic_fit",
    "band_power",
    "field_readouts",
    "welch_spectrum",
]
