"""The timeline runner: spiking windows inside a slow protocol timeline (DESIGN.md).

A protocol is a time grid with the brain concentration of every species on it and a
list of windows. Between windows the slow layer (:mod:`circuits.slow.nmda_block`) carries each
neuron's NMDA block forward using the channel activity the last window measured; a
window runs the compiled circuit with the concentration of its start time held fixed and
the carried block as initial state, and its final block state is carried on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from circuits.compounds import SPECIES
from circuits.slow.neurochemistry import Neurochemistry, NeurochemistryParameters, release_fraction
from circuits.slow.nmda_block import ChannelActivity, advance_block_through
from circuits.slow.plasticity import PlasticitySettings
from circuits.spiking.cells import POPULATIONS
from circuits.spiking.network import CircuitDrive, CircuitStructure, initial_values, stream_rng, stream_seed
from experiments.protocols.base import Protocol, check_windows
from experiments.simulation.plasticity_track import TRACE_UNITS, WINDOW_UNITS, PlasticityTrack, interpolation_weight
from experiments.simulation.readouts import (
    READOUT_UNITS,
    TRAIN_READOUT_UNITS,
    check_window,
    membrane_range_V,
    release_readouts,
    window_readouts,
)

log = logging.getLogger(__name__)


@dataclass
class ProtocolResult:
    spikes: dict[str, tuple[np.ndarray, np.ndarray]]  #: protocol time (ms), node ids
    windows: dict[str, np.ndarray]
    window_units: dict[str, str]
    timeline: dict[str, np.ndarray]
    timeline_units: dict[str, str]
    readouts: dict[str, dict[str, np.ndarray]]
    wall_s: dict[str, float]
    synapses: dict | None = None  #: pyr->pyr sites: source_ids, target_ids, and per window present / weight_scale


def run_protocol(
    protocol: Protocol,
    structure: CircuitStructure,
    drive: CircuitDrive,
    engine,
    seed: int,
    chemistry: NeurochemistryParameters,
    a1_antagonist: bool = False,
    train: tuple[int, float] | None = None,
    progress: Callable[[str], None] = log.info,
    plasticity: PlasticitySettings | None = None,
) -> ProtocolResult:
    """Run every window of ``protocol`` and the slow layer (block, glutamate, adenosine, and the
    spine sites with the BDNF/mTOR chain) between them."""
    transient_s = structure.transient_s
    t = protocol.time_s
    window_s = structure.window_s
    check_windows(protocol.windows, window_s, float(t[0]), float(t[-1]))
    first = np.searchsorted(t, protocol.windows[0].start_s)
    if any(np.any(protocol.brain_uM[k][: first + 1] > 0) for k in protocol.brain_uM):
        raise ValueError("the first window must come before any drug reaches the brain (it is the baseline)")

    block = {pop: {k: np.zeros(structure.counts[pop]) for k in SPECIES} for pop in POPULATIONS}
    blocked = {pop: np.zeros(len(t)) for pop in POPULATIONS}
    activity: dict[str, ChannelActivity] | None = None
    chem = Neurochemistry()
    glutamate, adenosine = np.ones(len(t)), np.ones(len(t))
    baseline_release: float | None = None
    release_relative = 1.0  # last window's release rate relative to the baseline window
    # Between windows glutamate and adenosine are first predicted with the last window's release
    # rate held (that prediction sets the next window's release fraction), then recomputed from
    # the previous window's end with the rate interpolated between the two windows along the
    # drug's equilibrium NMDA occupancy (so a rise starts with the dose, not before it), or
    # linearly in time where the occupancy does not change.
    anchor: tuple[int, Neurochemistry, float] | None = None  # (index, state, release) at the last window's end
    load = sum(protocol.brain_uM[k] / structure.block.dissociation_uM[k] for k in SPECIES)
    occupancy = load / (1.0 + load)
    vesicle_pool = None
    ampa_available = (
        np.full(len(t), drive.ampa_available)
        if protocol.ampa_available is None
        else np.asarray(protocol.ampa_available, dtype=float)
    )
    if plasticity is None:  # off, with the default config's constants and state (configs/ holds every number)
        from experiments import config as C

        plasticity = C.plasticity(C.compose_config([]), structure)
    track = PlasticityTrack(
        plasticity,
        structure.counts["pyr"],
        t,
        occupancy,
        blocked["pyr"],
        np.ones(len(t)) if protocol.mtor_gate is None else np.asarray(protocol.mtor_gate, dtype=float),
        window_s,
        transient_s,
        seed,
    )
    spikes = {pop: ([], []) for pop in POPULATIONS}
    u_in_window: list[float] = []
    readouts = {pop: {name: [] for name in READOUT_UNITS} for pop in POPULATIONS}
    wall = {"windows": 0.0, "slow_layer": 0.0}
    here = 0

    def carry(until: int) -> None:
        nonlocal here
        start = time.perf_counter()
        if activity is not None and until > here:
            conc = {k: protocol.brain_uM[k][here : until + 1] for k in SPECIES}
            for pop in POPULATIONS:
                reached = conc if pop in drive.drug_targets else {k: np.zeros_like(c) for k, c in conc.items()}
                states = advance_block_through(block[pop], activity[pop], t[here : until + 1], reached, structure.block)
                blocked[pop][here : until + 1] = [np.mean(sum(s.values())) for s in states]
                block[pop] = states[-1]
            for i in range(here + 1, until + 1):
                chem.advance(release_relative, ampa_available[i], chemistry, float(t[i] - t[i - 1]))
                glutamate[i], adenosine[i] = chem.glutamate, chem.adenosine
        elif until > here:
            glutamate[here : until + 1], adenosine[here : until + 1] = chem.glutamate, chem.adenosine
        if until > here:
            track.predict(here, until)
        here = until
        wall["slow_layer"] += time.perf_counter() - start

    for index, window in enumerate(protocol.windows):
        i_start = int(np.searchsorted(t, window.start_s))
        i_end = int(np.searchsorted(t, window.start_s + window_s))
        carry(i_start)
        concentrations = {k: float(protocol.brain_uM[k][i_start]) for k in SPECIES}
        u_release = release_fraction(drive.vesicles.u_release, chem.adenosine, chemistry, a1_antagonist)
        u_in_window.append(u_release)
        rng = stream_rng(seed, "window_values", index)
        window_drive = replace(drive, ampa_available=float(ampa_available[i_start]))
        sites = track.window_arguments(index)
        values = initial_values(
            structure, window_drive, concentrations, block, rng, u_release=u_release, vesicle_pool=vesicle_pool, **sites
        )
        noise_seed = stream_seed(seed, "window_noise", index)
        out = engine.run_window(values, connect_seed=seed, noise_seed=noise_seed)
        wall["windows"] += out.wall_s
        activity = {}
        for pop in POPULATIONS:
            times, ids = out.spikes[pop]
            spikes[pop][0].append(1e3 * (window.start_s + times))
            spikes[pop][1].append(ids.astype(np.uint64))
            state = out.state[pop]
            block[pop] = {k: state[f"b_{k}"] for k in SPECIES}
            blocked[pop][i_end] = float(np.mean(sum(block[pop].values())))
            activity[pop] = ChannelActivity.from_accumulators(state["open_time"], state["open_unbind_time"], window_s)
            found = window_readouts(out.spikes[pop], state, structure.counts[pop], window_s, transient_s)
            if pop == "pyr":
                found.update(release_readouts(state, u_release, drive.vesicles, window_s, transient_s, train))
                vesicle_pool = state["x_ves"]
            # NaN, inf or out-of-range state or readouts: stop, write nothing
            check_window(state, found, pop, window.label, membrane_range_V(structure.cells[pop], structure.synapses))
            for name in READOUT_UNITS:
                readouts[pop][name].append(found.get(name, np.nan))
            for name in TRAIN_READOUT_UNITS:
                if name in found:
                    readouts[pop].setdefault(name, []).append(found[name])
        start = time.perf_counter()
        previous_activity = track.activity
        track.after_window(
            out.sites, out.state["pyr"]["ampa_local"], float(ampa_available[i_start]), sites["ee_weight_scale"]
        )
        track.correct(i_start, i_end, previous_activity)
        wall["slow_layer"] += time.perf_counter() - start
        release = readouts["pyr"]["release_rate"][-1]
        if baseline_release is None:
            baseline_release = release
        release_relative = release / baseline_release if baseline_release > 0 else 1.0
        if anchor is not None:  # correct the interval since the last window with the interpolated rate
            start = time.perf_counter()
            index_0, state_0, release_0 = anchor
            chem = Neurochemistry(state_0.glutamate, state_0.adenosine)
            weights = interpolation_weight(t, occupancy, index_0, i_start) if i_start > index_0 else []
            for i, weight in zip(range(index_0 + 1, i_start + 1), weights):
                rate = release_0 + (release_relative - release_0) * weight
                chem.advance(rate, ampa_available[i], chemistry, float(t[i] - t[i - 1]))
                glutamate[i], adenosine[i] = chem.glutamate, chem.adenosine
            wall["slow_layer"] += time.perf_counter() - start
        glutamate[i_start : i_end + 1], adenosine[i_start : i_end + 1] = chem.glutamate, chem.adenosine
        anchor = (i_end, Neurochemistry(chem.glutamate, chem.adenosine), release_relative)
        here = i_end
        rates = ", ".join(f"{pop} {readouts[pop]['rate'][-1]:.1f} Hz" for pop in POPULATIONS)
        drug = sum(concentrations.values())
        progress(
            f"window {index + 1}/{len(protocol.windows)} '{window.label}' (protocol time {window.start_s / 60:.1f} min, "
            f"brain drug {drug:.3g} uM): {rates} [{out.wall_s:.1f} s]"
        )
    carry(len(t) - 1)

    timeline = {"time_s": t, **protocol.extra_timeline}
    units = {"time_s": "s", **{name: "s" for name in protocol.extra_timeline}}
    for k in SPECIES:
        if protocol.plasma_uM is not None:
            timeline[f"plasma_{k}_uM"], units[f"plasma_{k}_uM"] = protocol.plasma_uM[k], "uM"
        timeline[f"brain_{k}_uM"], units[f"brain_{k}_uM"] = protocol.brain_uM[k], "uM"
    for pop in POPULATIONS:
        timeline[f"nmda_blocked_{pop}"], units[f"nmda_blocked_{pop}"] = blocked[pop], "1"
    if chemistry.glutamate_pool:
        timeline["glutamate"], units["glutamate"] = glutamate, "1 (relative to baseline)"
    timeline["adenosine"], units["adenosine"] = adenosine, "1 (relative to baseline)"
    if plasticity.enabled:
        timeline.update(track.traces)
        units.update(TRACE_UNITS)
    if protocol.mtor_gate is not None and (plasticity.enabled or np.any(protocol.mtor_gate < 1)):
        timeline["mtor_gate"], units["mtor_gate"] = np.asarray(protocol.mtor_gate, dtype=float), "1"
    if protocol.ampa_available is not None:
        timeline["ampa_available"], units["ampa_available"] = ampa_available, "1"

    windows = {
        "label": np.array([w.label for w in protocol.windows]),
        "start_s": np.array([w.start_s for w in protocol.windows]),
        "duration_s": np.full(len(protocol.windows), window_s),
    }
    windows["release_fraction"] = np.array(u_in_window)
    window_units = {"label": "", "start_s": "s", "duration_s": "s", "release_fraction": "1"}
    for k in SPECIES:
        windows[f"brain_{k}_uM"] = np.array(
            [protocol.brain_uM[k][np.searchsorted(t, w.start_s)] for w in protocol.windows]
        )
        window_units[f"brain_{k}_uM"] = "uM"
    for name, values in protocol.conditions.items():
        windows[name], window_units[name] = np.asarray(values), protocol.condition_units.get(name, "")
    windows["ampa_available"] = np.array([ampa_available[np.searchsorted(t, w.start_s)] for w in protocol.windows])
    window_units["ampa_available"] = "1"
    synapses = None
    if plasticity.enabled:
        for name, unit in WINDOW_UNITS.items():
            windows[name], window_units[name] = np.asarray(track.columns[name], dtype=float), unit
        synapses = {
            "source_ids": track.sites["pre"],
            "target_ids": track.sites["post"],
            "present": [p for p, _ in track.snapshots],
            "weight_scale": [w for _, w in track.snapshots],
        }

    return ProtocolResult(
        spikes={pop: (np.concatenate(s[0]), np.concatenate(s[1])) for pop, s in spikes.items()},
        windows=windows,
        window_units=window_units,
        timeline=timeline,
        timeline_units=units,
        readouts={pop: {n: np.asarray(v, dtype=float) for n, v in r.items()} for pop, r in readouts.items()},
        wall_s=wall,
        synapses=synapses,
    )
