"""Readouts of a treatment course: the mood proxy's response, relapse and the spine time course.

The proxy (``/timeline/outcome``) is the pyramidal network's E->E synaptic strength
relative to the healthy state. By analogy with the clinical definition of response (a 50%
fall of the depression score), a run *responds* while the proxy has closed at least
``fraction`` of the gap between its baseline and the healthy state, and *relapses* when it
falls back below that line for good. These are definitions of this model, not measured
quantities: see docs/model/plasticity.md.
"""

from __future__ import annotations

import numpy as np

from circuits.units import SECONDS_PER_DAY


def response_summary(
    timeline: dict[str, np.ndarray], dose_days: list[float], fraction: float = 0.5
) -> dict[str, float]:
    """Response of one course run: baseline and peak of the proxy, the response line, onset
    (h after the first dose), relapse (days after the last dose; NaN if no response or
    still responding at the end), and the spine density's baseline and peak."""
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
    """``/timeline/<name>`` at ``day`` days from the first dose (linear interpolation)."""
    return float(np.interp(day, timeline["time_from_dose_s"] / SECONDS_PER_DAY, timeline[name]))


def excess_at_day(timeline: dict[str, np.ndarray], name: str, day: float) -> float:
    """``/timeline/<name>`` at ``day`` minus its value at the first dose."""
    return value_at_day(timeline, name, day) - value_at_day(timeline, name, 0.0)


def peak_excess(timeline: dict[str, np.ndarray], name: str) -> float:
    """Largest value of ``/timeline/<name>`` from the first dose on, minus its value at the dose."""
    days = timeline["time_from_dose_s"] / SECONDS_PER_DAY
    return float(timeline[name][days >= 0].max()) - value_at_day(timeline, name, 0.0)
