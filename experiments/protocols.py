"""The experiments' protocols: the windows and the concentration timeline of each."""

from __future__ import annotations

from dataclasses import replace

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


def iv_protocol(cfg) -> Protocol:
    """Dosing through pharmacokinetics; windows at ``iv_infusion.window_times_min``.

    Config times are relative to the start of dosing (clinical convention: "-10 min" is
    10 min before it); the output's protocol time starts at 0 at ``iv_infusion.start_min``
    (SONATA spike times cannot be negative). ``time_from_dose_s`` keeps the clinical axis.
    """
    events, body_weight = C.dosing_events(cfg)
    origin_s = 60.0 * float(cfg.iv_infusion.start_min)  # protocol time 0, relative to dosing
    window_s = float(cfg.circuit.window_s)
    minutes = [float(m) for m in cfg.iv_infusion.window_times_min]
    windows = [Window(f"{m:g} min", 60.0 * m - origin_s) for m in minutes]
    t = timeline_grid(0.0, 60.0 * float(cfg.iv_infusion.end_min) - origin_s, float(cfg.iv_infusion.timeline_step_s),
                      windows, window_s)
    shifted = [replace(e, start_min=e.start_min - origin_s / 60.0) for e in events]
    pk = simulate(C.drug(cfg), shifted, body_weight, t, C.pk_parameters(cfg))
    return Protocol(windows=windows, time_s=t, brain_uM=pk.brain_uM, plasma_uM=pk.plasma_uM,
                    conditions={"time_from_dose_s": np.asarray(minutes) * 60.0}, condition_units={"time_from_dose_s": "s"},
                    extra_timeline={"time_from_dose_s": t + origin_s})


def evoked_release_protocol(cfg) -> Protocol:
    """The drug applied to the bath at time 0 and held; windows at ``evoked_release.window_times_min``
    from the application (the first before it). Each window also probes a stimulus train."""
    concentration = C.evoked_concentration_uM(cfg)
    composition = C.drug(cfg).composition
    origin_s = 60.0 * float(cfg.evoked_release.start_min)
    minutes = [float(m) for m in cfg.evoked_release.window_times_min]
    windows = [Window(f"{m:g} min", 60.0 * m - origin_s) for m in minutes]
    t = timeline_grid(0.0, 60.0 * float(cfg.evoked_release.end_min) - origin_s, float(cfg.evoked_release.timeline_step_s),
                      windows, float(cfg.circuit.window_s))
    applied = np.where(t + origin_s >= 0.0, concentration, 0.0)
    brain = {k: applied * composition.get(k, 0.0) for k in SPECIES}
    return Protocol(windows=windows, time_s=t, brain_uM=brain, plasma_uM=None,
                    conditions={"time_from_dose_s": np.asarray(minutes) * 60.0}, condition_units={"time_from_dose_s": "s"},
                    extra_timeline={"time_from_dose_s": t + origin_s})


PROTOCOLS = {"bath": bath_protocol, "iv_infusion": iv_protocol, "evoked_release": evoked_release_protocol}
