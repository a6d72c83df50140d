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
    return Protocol(windows=windows, time_s=t, brain_uM=pk.brain_uM, plasma_uM=pk.plasma_uM, conditions=conditions,
                    condition_units={"time_from_dose_s": "s"}, extra_timeline={"time_from_dose_s": clock})


def evoked_release_protocol(cfg) -> Protocol:
    """The drug applied to the bath at time 0 and held; windows at ``evoked_release.window_times_min``
    from the application (the first before it). Each window also probes a stimulus train."""
    concentration = C.evoked_concentration_uM(cfg)
    composition = C.drug(cfg).composition
    t, clock, windows, conditions = _on_dosing_clock(cfg.evoked_release, float(cfg.circuit.window_s))
    applied = np.where(clock >= 0.0, concentration, 0.0)
    brain = {k: applied * composition.get(k, 0.0) for k in SPECIES}
    return Protocol(windows=windows, time_s=t, brain_uM=brain, conditions=conditions,
                    condition_units={"time_from_dose_s": "s"}, extra_timeline={"time_from_dose_s": clock})


PROTOCOLS = {"bath": bath_protocol, "iv_infusion": iv_protocol, "evoked_release": evoked_release_protocol}
