"""Readouts of a treatment course: the mood proxy's response, relapse and the spine time course.

The proxy (``/timeline/outcome``) is the pyramidal network's E->E synaptic strength
relative to the healthy state (1 = healthy). By analogy with the clinical definition of
response (a 50 % fall of the depression score), a run *responds* while the proxy has closed
at least ``fraction`` of the gap between its baseline and the healthy state, and *relapses*
when it falls back below that line for good. These are definitions of this model, not
measured quantities: see [Slow plasticity](../model/plasticity.md).

Every function takes the ``timeline`` of a run (``RunData.timeline``: name -> array on the
timeline's samples) with ``time_from_dose_s`` (s from the start of the first dose; negative
before it), as the ``course`` experiment writes it.

Examples
--------
A synthetic course: the proxy starts at 0.6 of healthy, rises after the dose and falls back
within a week.

>>> import numpy as np
>>> from ketamine_sim.experiments.analysis.course import response_summary, value_at_day
>>> day = 86400.0
>>> timeline = {
...     "time_from_dose_s": np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0]) * day,
...     "outcome": np.array([0.6, 0.6, 0.75, 0.85, 0.82, 0.7, 0.62]),
...     "spine_density": np.array([0.8, 0.8, 0.82, 0.9, 0.95, 0.88, 0.82]),
... }
>>> summary = response_summary(timeline, dose_days=[0.0])
>>> summary["response_line"], summary["onset_h"], summary["relapse_days_after_last_dose"]
(0.8, 24.0, 4.0)
>>> round(value_at_day(timeline, "outcome", 1.5), 3)
0.835
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.units import SECONDS_PER_DAY


def response_summary(
    timeline: dict[str, np.ndarray], dose_days: list[float], fraction: float = 0.5
) -> dict[str, float]:
    """Response of one course run: onset, peak and relapse of the mood proxy, and the spines.

    Parameters
    ----------
    timeline : dict of str to numpy.ndarray
        A run's timeline with ``time_from_dose_s`` (s), ``outcome`` and ``spine_density``
        (1-D, dimensionless), one value per sample.
    dose_days : list of float
        Start of each dose (days from the first dose); the last one dates the relapse.
    fraction : float
        Share of the gap between the baseline and the healthy state (1) that the proxy must
        close to count as a response (0.5: the clinical 50 % criterion, by analogy).

    Returns
    -------
    dict of str to float
        ``outcome_baseline`` (the proxy at the first dose), ``outcome_peak`` (its largest
        value from the dose on), ``response_line`` (baseline + fraction x (1 - baseline)),
        ``onset_h`` (h after the first dose at the first sample on or above the line; NaN if
        never), ``relapse_days_after_last_dose`` (days from the last dose to the first sample
        after the last one above the line; NaN if no response or still responding at the
        end), ``spine_density_baseline``, ``spine_density_peak`` and
        ``spine_density_peak_day`` (days from the first dose).

    Raises
    ------
    KeyError
        The timeline lacks ``time_from_dose_s``, ``outcome`` or ``spine_density``.

    Notes
    -----
    A run whose baseline is already healthy (>= 1) has no gap to close and never responds.

    Examples
    --------
    >>> import numpy as np
    >>> day = 86400.0
    >>> timeline = {
    ...     "time_from_dose_s": np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0]) * day,
    ...     "outcome": np.array([0.6, 0.6, 0.75, 0.85, 0.82, 0.7, 0.62]),
    ...     "spine_density": np.array([0.8, 0.8, 0.82, 0.9, 0.95, 0.88, 0.82]),
    ... }
    >>> summary = response_summary(timeline, dose_days=[0.0])
    >>> summary["outcome_baseline"], summary["outcome_peak"], summary["onset_h"]
    (0.6, 0.85, 24.0)
    >>> summary["spine_density_peak"], summary["spine_density_peak_day"]
    (0.95, 2.0)
    """
    days = timeline["time_from_dose_s"] / SECONDS_PER_DAY
    proxy = timeline["outcome"]
    baseline = float(proxy[np.searchsorted(days, 0.0)])
    line = baseline + fraction * (1.0 - baseline)
    after = days >= 0
    above = after & (proxy >= line) if baseline < 1.0 else np.zeros_like(after)
    onset_h = float(days[np.argmax(above)] * 24.0) if above.any() else np.nan
    relapse = np.nan
    if above.any():
        last = np.flatnonzero(above)[-1]
        relapse = float(days[last + 1] - dose_days[-1]) if last + 1 < len(days) else np.nan
    spines = timeline["spine_density"]
    return {
        "outcome_baseline": baseline,
        "outcome_peak": float(proxy[after].max()),
        "response_line": line,
        "onset_h": onset_h,
        "relapse_days_after_last_dose": relapse,
        "spine_density_baseline": float(spines[np.searchsorted(days, 0.0)]),
        "spine_density_peak": float(spines[after].max()),
        "spine_density_peak_day": float(days[after][np.argmax(spines[after])]),
    }


def value_at_day(timeline: dict[str, np.ndarray], name: str, day: float) -> float:
    """A timeline trace at a time from the first dose.

    Parameters
    ----------
    timeline : dict of str to numpy.ndarray
        A run's timeline with ``time_from_dose_s`` (s).
    name : str
        A 1-D trace of it (``outcome``, ``spine_density``, ``bdnf``, ...).
    day : float
        Days from the start of the first dose.

    Returns
    -------
    float
        ``/timeline/<name>`` at ``day``, linearly interpolated between samples (the first or
        last value outside the timeline), in the trace's unit.

    Examples
    --------
    >>> import numpy as np
    >>> day = 86400.0
    >>> timeline = {
    ...     "time_from_dose_s": np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0]) * day,
    ...     "outcome": np.array([0.6, 0.6, 0.75, 0.85, 0.82, 0.7, 0.62]),
    ...     "spine_density": np.array([0.8, 0.8, 0.82, 0.9, 0.95, 0.88, 0.82]),
    ... }
    >>> round(value_at_day(timeline, "spine_density", 3.0), 3)
    0.915
    """
    return float(np.interp(day, timeline["time_from_dose_s"] / SECONDS_PER_DAY, timeline[name]))


def excess_at_day(timeline: dict[str, np.ndarray], name: str, day: float) -> float:
    """A timeline trace's change from the first dose to a later day.

    Parameters
    ----------
    timeline : dict of str to numpy.ndarray
        A run's timeline with ``time_from_dose_s`` (s).
    name : str
        A 1-D trace of it.
    day : float
        Days from the start of the first dose.

    Returns
    -------
    float
        [`value_at_day`][ketamine_sim.experiments.analysis.course.value_at_day] at ``day`` minus its value
        at day 0, in the trace's unit.

    Examples
    --------
    >>> import numpy as np
    >>> day = 86400.0
    >>> timeline = {
    ...     "time_from_dose_s": np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0]) * day,
    ...     "outcome": np.array([0.6, 0.6, 0.75, 0.85, 0.82, 0.7, 0.62]),
    ...     "spine_density": np.array([0.8, 0.8, 0.82, 0.9, 0.95, 0.88, 0.82]),
    ... }
    >>> round(excess_at_day(timeline, "spine_density", 1.0), 3)
    0.1
    """
    return value_at_day(timeline, name, day) - value_at_day(timeline, name, 0.0)


def peak_excess(timeline: dict[str, np.ndarray], name: str) -> float:
    """The largest rise of a timeline trace above its value at the first dose.

    Parameters
    ----------
    timeline : dict of str to numpy.ndarray
        A run's timeline with ``time_from_dose_s`` (s).
    name : str
        A 1-D trace of it.

    Returns
    -------
    float
        The largest value of ``/timeline/<name>`` from the first dose on, minus its value at
        the dose, in the trace's unit.

    Examples
    --------
    >>> import numpy as np
    >>> day = 86400.0
    >>> timeline = {
    ...     "time_from_dose_s": np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0]) * day,
    ...     "outcome": np.array([0.6, 0.6, 0.75, 0.85, 0.82, 0.7, 0.62]),
    ...     "spine_density": np.array([0.8, 0.8, 0.82, 0.9, 0.95, 0.88, 0.82]),
    ... }
    >>> round(peak_excess(timeline, "spine_density"), 3)
    0.15
    """
    days = timeline["time_from_dose_s"] / SECONDS_PER_DAY
    return float(timeline[name][days >= 0].max()) - value_at_day(timeline, name, 0.0)
