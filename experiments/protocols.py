"""The experiments' protocols: the windows and the concentration timeline of each."""

from __future__ import annotations

import numpy as np

from circuits.compounds import SPECIES
from circuits.pharmacokinetics import simulate

from . import config as C
from .timeline import Protocol, Window, timeline_grid


def bath_protocol(cfg) -> Protocol:
    """Each concentration held for ``equilibration_s`` and then observed for one window."""
    concentrations = C.bath_concentrations_uM(cfg)
    composition = C.drug(cfg).composition
    window_s = float(cfg.circuit.window_s)
    period = float(cfg.bath.equilibration_s) + window_s
    windows = [Window(f"{c:g} uM", i * period + float(cfg.bath.equilibration_s)) for i, c in enumerate(concentrations)]
    t = timeline_grid(0.0, len(concentrations) * period, float(cfg.bath.timeline_step_s), windows, window_s)
    # the i-th concentration applies on [i * period, (i + 1) * period); the baseline (0) sets no drug
    step = np.minimum((t // period).astype(int), len(concentrations) - 1)
    total = np.asarray(concentrations)[step]
    brain = {k: total * composition.get(k, 0.0) for k in SPECIES}
    return Protocol(windows=windows, time_s=t, brain_uM=brain, plasma_uM=None,
                    conditions={"bath_total_uM": np.asarray(concentrations)}, condition_units={"bath_total_uM": "uM"})


def _on_dosing_clock(block, window_s: float) -> tuple[np.ndarray, np.ndarray, list[Window], dict]:
    """A protocol whose window times (``block.window_times_min``) are minutes from the start of
    dosing, as clinicians count them ("-10 min" is 10 min before it). Protocol time in the
    output starts at 0 at ``block.start_min`` (SONATA spike times cannot be negative);
    ``time_from_dose_s`` keeps the dosing clock. Returns the protocol time grid, the same
    times on the dosing clock, the windows and their ``time_from_dose_s`` column."""
    origin_s = 60.0 * float(block.start_min)  # protocol time 0, on the dosing clock
    minutes = np.array([float(m) for m in block.window_times_min])
    windows = [Window(f"{m:g} min", 60.0 * m - origin_s) for m in minutes]
    t = timeline_grid(0.0, 60.0 * float(block.end_min) - origin_s, float(block.timeline_step_s), windows, window_s)
    return t, t + origin_s, windows, {"time_from_dose_s": 60.0 * minutes}


def iv_protocol(cfg) -> Protocol:
    """Dosing through pharmacokinetics; windows at ``iv_infusion.window_times_min``."""
    events, body_weight = C.dosing_events(cfg)
    t, clock, windows, conditions = _on_dosing_clock(cfg.iv_infusion, float(cfg.circuit.window_s))
    pk = simulate(C.drug(cfg), events, body_weight, clock, C.pk_parameters(cfg))
    ampa, gate = C.manipulation_schedule(cfg, clock)
    return Protocol(windows=windows, time_s=t, brain_uM=pk.brain_uM, plasma_uM=pk.plasma_uM, conditions=conditions,
                    condition_units={"time_from_dose_s": "s"}, extra_timeline={"time_from_dose_s": clock},
                    ampa_available=ampa, mtor_gate=gate)


def course_protocol(cfg) -> Protocol:
    """Days to weeks of dosing (``dosing.days``): windows around every dose and on days after
    the last (``course.*``); the timeline is fine (``course.timeline_step_s``) from the start
    of each dose for ``course.fine_hours_after_dose`` and coarse elsewhere."""
    events, body_weight = C.dosing_events(cfg)
    window_min, start_min, end_min = C.course_windows_min(cfg)
    window_s = float(cfg.circuit.window_s)
    origin_s = 60.0 * start_min
    windows = [Window(_course_label(m, [e.start_min for e in events]), 60.0 * m - origin_s) for m in window_min]
    fine, far = float(cfg.course.timeline_step_s), float(cfg.course.timeline_step_far_s)
    pieces = [np.arange(0.0, 60.0 * end_min - origin_s + far, far)]
    for e in events:
        begin = 60.0 * (e.start_min - 15.0) - origin_s
        pieces.append(np.arange(max(begin, 0.0), begin + 3600.0 * float(cfg.course.fine_hours_after_dose), fine))
    grid = np.concatenate(pieces)
    t = timeline_grid(0.0, 60.0 * end_min - origin_s, far, windows, window_s)
    t = np.unique(np.concatenate([t, grid[(grid > 0) & (grid < t[-1])]]))
    for w in windows:  # no points strictly inside a window
        t = t[(t <= w.start_s) | (t >= w.start_s + window_s)]
    clock = t + origin_s
    pk = simulate(C.drug(cfg), events, body_weight, clock, C.pk_parameters(cfg))
    ampa, gate = C.manipulation_schedule(cfg, clock)
    return Protocol(windows=windows, time_s=t, brain_uM=pk.brain_uM, plasma_uM=pk.plasma_uM,
                    conditions={"time_from_dose_s": 60.0 * np.asarray(window_min)},
                    condition_units={"time_from_dose_s": "s"}, extra_timeline={"time_from_dose_s": clock},
                    ampa_available=ampa, mtor_gate=gate)


def _course_label(minute: float, dose_starts_min: list[float]) -> str:
    """'dose 2 +40 min' within a day of a dose, 'day 7' otherwise (days from the first dose)."""
    k = max([i for i, d in enumerate(dose_starts_min) if d - 60.0 <= minute] or [0])
    offset = minute - dose_starts_min[k]
    if offset < 1440.0 - 1e-6:
        return f"dose {k + 1} {offset:+g} min"
    return f"day {(minute - dose_starts_min[0]) / 1440.0:g}"


def evoked_release_protocol(cfg) -> Protocol:
    """The drug applied to the bath at time 0 and held; windows at ``evoked_release.window_times_min``
    from the application (the first before it). Each window also probes a stimulus train."""
    concentration = C.evoked_concentration_uM(cfg)
    composition = C.drug(cfg).composition
    t, clock, windows, conditions = _on_dosing_clock(cfg.evoked_release, float(cfg.circuit.window_s))
    applied = np.where(clock >= 0.0, concentration, 0.0)
    brain = {k: applied * composition.get(k, 0.0) for k in SPECIES}
    ampa, gate = C.manipulation_schedule(cfg, clock)
    return Protocol(windows=windows, time_s=t, brain_uM=brain, conditions=conditions,
                    condition_units={"time_from_dose_s": "s"}, extra_timeline={"time_from_dose_s": clock},
                    ampa_available=ampa, mtor_gate=gate)


PROTOCOLS = {"bath": bath_protocol, "iv_infusion": iv_protocol, "evoked_release": evoked_release_protocol,
             "course": course_protocol}
