"""When each population responds to a dose: half-times of the rate change and of the NMDA block.

Made for runs whose windows follow one another after the dose (``iv_infusion.back_to_back_min``
with ``circuit.carry_state=true``: one continuous simulation whose concentrations change every
window), so that which population changes first is an output of the model
([Time-resolved onset](../model/onset.md)).

For a population with rate r_k in window k (``/readouts/<pop>/rate``) at t_k s from the dose
(``/windows/time_from_dose_s``):

* baseline r_0: the mean over the windows before the dose;
* the change c(t) = r_smooth(t) - r_0 after the dose, r_smooth the mean over the windows within
  ``smooth_s`` around t (a centred running mean: 2-s windows are noisy);
* its end value c_end: the mean of c over the last ``end_fraction`` of the post-dose windows;
* the half-time: the first t at which c(t) reaches c_end / 2 (in the direction of c_end).

The block's half-time is the first time ``/timeline/nmda_blocked_<pop>`` reaches half its
value at the last post-dose window's end.

Examples
--------
Two populations: one rises by 4 Hz with a half-time of 60 s, one falls by 2 Hz with one of 200 s.

>>> import numpy as np
>>> from ketamine_sim.experiments.analysis.onset import half_time_s
>>> t = np.arange(0.0, 1200.0, 2.0)
>>> fast = 3.0 + 4.0 * (1 - np.exp(-t * np.log(2) / 60.0))
>>> slow = 9.0 - 2.0 * (1 - np.exp(-t * np.log(2) / 200.0))
>>> round(half_time_s(t, fast, 3.0, smooth_s=0.0, end_fraction=0.05), -1)
60.0
>>> round(half_time_s(t, slow, 9.0, smooth_s=0.0, end_fraction=0.05), -1)
200.0
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.experiments.results import RunData

#: Running mean of the rates before the half-time is read (s): 15 windows of 2 s.
SMOOTH_S: float = 30.0
#: The share of the post-dose windows whose mean change is the end value.
END_FRACTION: float = 0.2


def running_mean(t_s, values, width_s: float) -> np.ndarray:
    """The centred running mean of ``values`` at times ``t_s`` over ``width_s`` (0: unchanged).

    >>> running_mean([0.0, 2.0, 4.0, 6.0], [0.0, 3.0, 6.0, 3.0], 4.0)
    array([1.5, 3. , 4. , 4.5])
    """
    t_s, values = np.asarray(t_s, dtype=float), np.asarray(values, dtype=float)
    if width_s <= 0:
        return values.astype(float)
    return np.array([np.mean(values[np.abs(t_s - t) <= 0.5 * width_s]) for t in t_s])


def half_time_s(
    t_s, rate_hz, baseline_hz: float, smooth_s: float = SMOOTH_S, end_fraction: float = END_FRACTION
) -> float:
    """The first time the smoothed change of ``rate_hz`` from ``baseline_hz`` reaches half its end value.

    Parameters
    ----------
    t_s : array_like of float, shape (n,)
        Times after the dose (s), increasing.
    rate_hz : array_like of float, shape (n,)
        The rate at each time (Hz).
    baseline_hz : float
        The rate before the dose (Hz).
    smooth_s : float
        Width of the centred running mean (s); 0: none.
    end_fraction : float
        The share of the last samples whose mean change is the end value, in (0, 1].

    Returns
    -------
    float
        The half-time (s, one of ``t_s``); NaN if the end change is 0 or never reached halfway.

    Raises
    ------
    ValueError
        If the arrays differ in length, are empty, or ``end_fraction`` is not in (0, 1].
    """
    t, r = np.asarray(t_s, dtype=float), np.asarray(rate_hz, dtype=float)
    if t.shape != r.shape or t.size == 0:
        raise ValueError(f"t_s and rate_hz must be non-empty and of one length, got {t.shape} and {r.shape}")
    if not 0 < end_fraction <= 1:
        raise ValueError(f"end_fraction must be in (0, 1], got {end_fraction}")
    change = running_mean(t, r, smooth_s) - baseline_hz
    end = float(np.mean(change[-max(1, int(round(end_fraction * t.size))) :]))
    if end == 0 or not np.isfinite(end):
        return float("nan")
    reached = np.flatnonzero(change * np.sign(end) >= 0.5 * abs(end))
    return float(t[reached[0]]) if reached.size else float("nan")


def onset_table(run: RunData, smooth_s: float = SMOOTH_S, end_fraction: float = END_FRACTION):
    """Per population: baseline and end rate, the rate change's half-time, the block's end and half-time.

    Parameters
    ----------
    run : RunData
        A run with ``/windows/time_from_dose_s``, at least one window before the dose and one
        after it, ``rate`` readouts and the ``nmda_blocked_<pop>`` timeline traces.
    smooth_s, end_fraction : float
        As for `half_time_s`.

    Returns
    -------
    pandas.DataFrame
        One row per population, ordered by the rate's half-time (the onset order):
        ``population``, ``rate_baseline_hz``, ``rate_end_hz`` (mean of the last
        ``end_fraction`` of the post-dose windows), ``rate_change_pct``, ``rate_half_time_s``,
        ``block_end``, ``block_half_time_s`` (s from the dose).

    Raises
    ------
    ValueError
        If the run has no dosing clock (a bath), or no window before or none after the dose.
    """
    import pandas as pd

    if "time_from_dose_s" not in run.windows:
        raise ValueError(
            "the run has no dosing clock (/windows/time_from_dose_s): onset needs an experiment with a dose"
        )
    t = np.asarray(run.windows["time_from_dose_s"], dtype=float)
    before, after = t < 0, t >= 0
    if not before.any() or not after.any():
        raise ValueError("the run needs windows before the dose (the baseline) and after it")
    tl = np.asarray(run.timeline["time_from_dose_s"], dtype=float)
    last_end = t[after][-1] + float(np.asarray(run.windows["duration_s"])[after][-1])
    rows = []
    for pop, readouts in run.readouts.items():
        rate = np.asarray(readouts["rate"], dtype=float)
        baseline = float(np.mean(rate[before]))
        tail = max(1, int(round(end_fraction * after.sum())))
        end_rate = float(np.mean(rate[after][-tail:]))
        blocked = np.asarray(run.timeline[f"nmda_blocked_{pop}"], dtype=float)
        within = (tl >= 0) & (tl <= last_end + 1e-9)
        block_end = float(blocked[within][-1])
        crossed = np.flatnonzero(blocked[within] >= 0.5 * block_end) if block_end > 0 else np.array([], int)
        rows.append(
            {
                "population": pop,
                "rate_baseline_hz": baseline,
                "rate_end_hz": end_rate,
                "rate_change_pct": 100.0 * (end_rate / baseline - 1.0) if baseline > 0 else np.nan,
                "rate_half_time_s": half_time_s(t[after], rate[after], baseline, smooth_s, end_fraction),
                "block_end": block_end,
                "block_half_time_s": float(tl[within][crossed[0]]) if crossed.size else np.nan,
            }
        )
    return pd.DataFrame(rows).sort_values("rate_half_time_s", na_position="last").reset_index(drop=True)


__all__ = ["END_FRACTION", "SMOOTH_S", "half_time_s", "onset_table", "running_mean"]
