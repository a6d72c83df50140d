"""The experiments' protocols: the windows and the concentration timeline of each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.slow.pharmacokinetics import simulate
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.protocols.base import Protocol, Window, timeline_grid


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
    return Protocol(
        windows=windows,
        time_s=t,
        brain_uM=brain,
        plasma_uM=None,
        conditions={"bath_total_uM": np.asarray(concentrations)},
        condition_units={"bath_total_uM": "uM"},
    )


@dataclass(frozen=True)
class DosingClock:
    """The one conversion between the two time axes of a protocol with a dose.

    *Dosing clock*: minutes (or s) from the start of the first dose, negative before it
    (:func:`ketamine_sim.experiments.config.dose_starts_min`); every window time, protocol start and end,
    dose and timed manipulation of the config is on it, and so is ``time_from_dose_s`` in the
    output. *Protocol time*: s from the protocol start (``start_min`` on the dosing clock), the
    axis of ``time_s`` and of spike times (SONATA spike times cannot be negative)."""

    start_min: float  #: the protocol start, on the dosing clock

    def protocol_s(self, dosing_min) -> np.ndarray:
        """Protocol time (s) of times on the dosing clock (min)."""
        return 60.0 * (np.asarray(dosing_min, dtype=float) - self.start_min)

    def from_dose_s(self, protocol_s) -> np.ndarray:
        """Time on the dosing clock (s, as ``time_from_dose_s``) of protocol times (s)."""
        return np.asarray(protocol_s, dtype=float) + 60.0 * self.start_min


def _clocked(
    cfg, clock: DosingClock, window_min: list[float], windows: list[Window], t: np.ndarray, brain: dict, plasma=None
) -> Protocol:
    """The protocol on ``clock`` (windows at ``window_min`` on the dosing clock):
    ``time_from_dose_s`` per window and on the timeline, and the timed manipulations."""
    from_dose = clock.from_dose_s(t)
    ampa, gate = C.manipulation_schedule(cfg, from_dose)
    return Protocol(
        windows=windows,
        time_s=t,
        brain_uM=brain,
        plasma_uM=plasma,
        conditions={"time_from_dose_s": 60.0 * np.asarray(window_min, dtype=float)},
        condition_units={"time_from_dose_s": "s"},
        extra_timeline={"time_from_dose_s": from_dose},
        ampa_available=ampa,
        mtor_gate=gate,
    )


def _listed_windows(block, window_s: float) -> tuple[DosingClock, list[float], list[Window], np.ndarray]:
    """The clock, window times (min), windows and time grid of a block with ``window_times_min``, ``start_min``,
    ``end_min`` and ``timeline_step_s``, all times in min on the dosing clock; with
    ``back_to_back_min: [from, to]`` also windows one after another from ``from`` (labelled in
    s from the dose; each starts at the float the last one ends at, start + window_s, so that
    no rounding makes neighbours overlap)."""
    clock = DosingClock(float(block.start_min))
    listed = [float(m) for m in block.window_times_min]
    entries = [(m, Window(f"{m:g} min", float(s))) for m, s in zip(listed, clock.protocol_s(listed))]
    span = block.get("back_to_back_min")
    if span is not None:
        start_s = float(clock.protocol_s(float(span[0])))
        for _ in range(C.back_to_back_count((float(span[0]), float(span[1])), window_s)):
            from_dose_s = float(clock.from_dose_s(start_s))
            entries.append((from_dose_s / 60.0, Window(f"{from_dose_s:.6g} s", start_s)))
            start_s = start_s + window_s  # what every check computes as this window's end
        entries.sort(key=lambda entry: entry[1].start_s)
    minutes, windows = [m for m, _ in entries], [w for _, w in entries]
    t = timeline_grid(
        0.0, float(clock.protocol_s(float(block.end_min))), float(block.timeline_step_s), windows, window_s
    )
    return clock, minutes, windows, t


def _pharmacokinetics(cfg, clock: DosingClock, t: np.ndarray):
    """Plasma and brain concentrations at protocol times ``t`` of the doses of ``dosing.*``."""
    events, body_weight = C.dosing_events(cfg)
    return simulate(C.drug(cfg), events, body_weight, clock.from_dose_s(t), C.pk_parameters(cfg))


def iv_protocol(cfg) -> Protocol:
    """Dosing through pharmacokinetics; windows at ``iv_infusion.window_times_min`` (min from
    the start of the first dose)."""
    clock, minutes, windows, t = _listed_windows(cfg.iv_infusion, float(cfg.circuit.window_s))
    pk = _pharmacokinetics(cfg, clock, t)
    return _clocked(cfg, clock, minutes, windows, t, pk.brain_uM, pk.plasma_uM)


def course_protocol(cfg) -> Protocol:
    """Days to weeks of dosing (``dosing.days``): windows around every dose and on days after
    the last (``course.*``); the timeline is fine (``course.timeline_step_s``) from 15 min
    before each dose for ``course.fine_hours_after_dose`` and coarse elsewhere."""
    window_min, start_min, end_min = C.course_windows_min(cfg)
    doses = C.dose_starts_min(cfg)
    clock = DosingClock(start_min)
    window_s = float(cfg.circuit.window_s)
    windows = [Window(_course_label(m, doses), float(clock.protocol_s(m))) for m in window_min]
    fine, far = float(cfg.course.timeline_step_s), float(cfg.course.timeline_step_far_s)
    stop = float(clock.protocol_s(end_min))
    pieces = [np.arange(0.0, stop + far, far)]
    for dose in doses:
        begin = float(clock.protocol_s(dose - 15.0))
        pieces.append(np.arange(max(begin, 0.0), begin + 3600.0 * float(cfg.course.fine_hours_after_dose), fine))
    grid = np.concatenate(pieces)
    t = timeline_grid(0.0, stop, far, windows, window_s)
    t = np.unique(np.concatenate([t, grid[(grid > 0) & (grid < t[-1])]]))
    for w in windows:  # no points strictly inside a window
        t = t[(t <= w.start_s) | (t >= w.start_s + window_s)]
    pk = _pharmacokinetics(cfg, clock, t)
    return _clocked(cfg, clock, window_min, windows, t, pk.brain_uM, pk.plasma_uM)


def _course_label(minute: float, dose_starts_min: list[float]) -> str:
    """'dose 2 +40 min' within a day of a dose, 'day 7' otherwise (days from the first dose);
    ``minute`` and the dose starts on the dosing clock."""
    k = max([i for i, d in enumerate(dose_starts_min) if d - 60.0 <= minute] or [0])
    offset = minute - dose_starts_min[k]
    if offset < 1440.0 - 1e-6:
        return f"dose {k + 1} {offset:+g} min"
    return f"day {(minute - dose_starts_min[0]) / 1440.0:g}"


def evoked_release_protocol(cfg) -> Protocol:
    """The drug applied to the bath at time 0 of the dosing clock and held; windows at
    ``evoked_release.window_times_min`` from the application (the first before it). Each
    window also probes a stimulus train."""
    concentration = C.evoked_concentration_uM(cfg)
    composition = C.drug(cfg).composition
    clock, minutes, windows, t = _listed_windows(cfg.evoked_release, float(cfg.circuit.window_s))
    applied = np.where(clock.from_dose_s(t) >= 0.0, concentration, 0.0)
    brain = {k: applied * composition.get(k, 0.0) for k in SPECIES}
    return _clocked(cfg, clock, minutes, windows, t, brain)


PROTOCOLS = {
    "bath": bath_protocol,
    "iv_infusion": iv_protocol,
    "evoked_release": evoked_release_protocol,
    "course": course_protocol,
}
