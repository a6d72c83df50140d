"""The protocol loop: spiking windows inside a slow protocol timeline (DESIGN.md).

A protocol is a time grid with the brain concentration of every species on it and a list
of windows. Before each window every slow mechanism (a *track*,
[`ketamine_sim.experiments.simulation.tracks`][ketamine_sim.experiments.simulation.tracks]) is advanced to the window's start and says what the
window starts from (the carried NMDA block, the release fraction and vesicle pool, the spine
sites and E->E weights); the window runs the compiled circuit with the concentration of its
start held fixed; its readouts are recorded and checked; then every track takes the window's
output and corrects the interval before it. After the last window the tracks are advanced
to the protocol's end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, SPECIES, uM_to_ng_per_ml
from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.field_potential import field_step_ms
from ketamine_sim.circuits.spiking.network import (
    CircuitDrive,
    CircuitStructure,
    initial_values,
    stream_rng,
    stream_seed,
)
from ketamine_sim.experiments.protocols.base import Protocol, Window, check_windows
from ketamine_sim.experiments.simulation.progress import WindowDone
from ketamine_sim.experiments.simulation.readouts import (
    READOUT_UNITS,
    TRAIN_READOUT_UNITS,
    check_window,
    membrane_range_V,
    release_readouts,
    window_readouts,
)
from ketamine_sim.experiments.simulation.spectra import field_readouts, field_samples
from ketamine_sim.experiments.simulation.tracks import (
    SlowContext,
    Track,
    WindowSpan,
    equilibrium_occupancy,
    registered_tracks,
)

log = logging.getLogger(__name__)


@dataclass
class ProtocolResult:
    """What [`run_protocol`][ketamine_sim.experiments.simulation.timeline.run_protocol] returns: the
    fields of a [`RunData`][ketamine_sim.experiments.results.RunData] that the protocol fills.

    Attributes
    ----------
    spikes : dict of str to (numpy.ndarray, numpy.ndarray)
        Population -> ``(times, node_ids)``, times in ms of protocol time.
    windows : dict of str to numpy.ndarray
        The window table, one row per window: ``label``, ``start_s`` and ``duration_s`` (s),
        ``brain_<species>_uM``, the protocol's conditions, ``ampa_available``, then every
        track's columns.
    window_units : dict of str to str
        Unit of each window column.
    timeline : dict of str to numpy.ndarray
        ``time_s`` (s), the protocol's extra traces, plasma and brain concentrations (uM),
        every track's traces and, where the protocol set it, ``ampa_available``.
    timeline_units : dict of str to str
        Unit of each timeline trace.
    readouts : dict of str to dict of str to numpy.ndarray
        Population -> readout -> one value per window (units:
        ``ketamine_sim.experiments.simulation.readouts.READOUT_UNITS``).
    wall_s : dict of str to float
        Wall time (s) of the ``windows`` and of the ``slow_layer``.
    synapses : dict or None
        The pyr->pyr sites (``source_ids``, ``target_ids``) and per window ``present`` and
        ``weight_scale``, from the plasticity track; None without plasticity.
    connectivity : dict
        The first window's synapses by pathway (``pv_to_pyr``): ``source_ids`` and
        ``target_ids`` (cell indices in their populations; pyr->pyr: the spine sites present)
        and ``weight_nS`` (the conductance step of one presynaptic spike at baseline release,
        nS), shape (n_synapses,) each (`connectivity_of`).
    field_potential : dict
        The field-potential proxy's samples: ``time_ms`` (n_samples,), ms from each window's
        start, and ``i_glu``, ``i_gaba``, ``proxy`` (n_windows, n_samples), nA
        ([`field_samples`][ketamine_sim.experiments.simulation.spectra.field_samples]); empty where the
        engine records none.
    """

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    windows: dict[str, np.ndarray]
    window_units: dict[str, str]
    timeline: dict[str, np.ndarray]
    timeline_units: dict[str, str]
    readouts: dict[str, dict[str, np.ndarray]]
    wall_s: dict[str, float]
    synapses: dict | None = None
    connectivity: dict = field(default_factory=dict)
    field_potential: dict = field(default_factory=dict)


def connectivity_of(out, values: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, np.ndarray]]:
    """A window's synapses by pathway, as the window ran them.

    Parameters
    ----------
    out : WindowOutput
        A window's output with the synapses' indices (``sites`` with ``pre`` and ``post``, and
        ``edges``: the first window of a run).
    values : mapping
        The values the window was given (`initial_values`): ``w_from_<pre>`` of each
        postsynaptic population, in S, one value or one per postsynaptic cell.

    Returns
    -------
    dict of str to dict of str to numpy.ndarray
        Pathway -> ``source_ids``, ``target_ids`` (int64) and ``weight_nS`` (float): every
        synapse, pyr->pyr only the spine sites present in the window. The weight is the
        postsynaptic conductance step of one presynaptic spike (an interneuron's GABA_A; a
        pyramidal cell's AMPA at baseline release, before the HNK scale), in nS. Empty
        without indices.
    """
    if not out.edges or "pre" not in (out.sites or {}):
        return {}
    present = np.asarray(out.sites["spine"], dtype=bool)
    pairs = {
        "pyr_to_pyr": (out.sites["pre"][present], out.sites["post"][present]),
        **{name: (e["pre"], e["post"]) for name, e in out.edges.items()},
    }
    connectivity = {}
    for name, (pre_ids, post_ids) in sorted(pairs.items()):
        pre, _, post = name.partition("_to_")
        weight = np.broadcast_to(np.asarray(values[post][f"w_from_{pre}"], dtype=float), (len(values[post]["v"]),))
        connectivity[name] = {
            "source_ids": np.asarray(pre_ids, dtype=np.int64),
            "target_ids": np.asarray(post_ids, dtype=np.int64),
            "weight_nS": 1e9 * weight[post_ids],
        }
    return connectivity


def run_protocol(
    protocol: Protocol,
    structure: CircuitStructure,
    drive: CircuitDrive,
    engine,
    seed: int,
    mechanisms: Mapping[str, object],
    train: tuple[int, float] | None = None,
    progress: Callable[[WindowDone], None] = lambda done: log.info("%s", done),
) -> ProtocolResult:
    """Run every window of a protocol on a compiled circuit, and the slow tracks between them.

    Parameters
    ----------
    protocol : Protocol
        The slow timeline (``time_s`` in s, ``brain_uM`` per species in uM) and its windows;
        the first window must come before any drug reaches the brain (it is the baseline).
    structure : CircuitStructure
        The circuit's structure (counts, window and transient lengths in s, block parameters).
    drive : CircuitDrive
        What drives the circuit (background, vesicles, drug targets, AMPA availability).
    engine : object
        Runs one window: ``engine.run_window(values, connect_seed, noise_seed)`` returns the
        window's output (spikes, final state, wall time; see
        ``ketamine_sim.experiments.simulation.engine.StandaloneEngine``).
    seed : int
        The run's seed: the connectivity, each window's noise and initial values, and the
        tracks' draws come from their own streams of it
        ([`stream_seed`][ketamine_sim.circuits.spiking.network.stream_seed]).
    mechanisms : Mapping of str to object
        Each slow mechanism's parameters by name (``ketamine_sim.experiments.config.mechanisms``).
    train : tuple of (int, float) or None
        ``(pulses, interval_ms)``: add the train readouts of ``experiment=evoked_release``.
    progress : callable
        Called after every window with a
        [`WindowDone`][ketamine_sim.experiments.simulation.progress.WindowDone] (its ``str`` is one plain
        line with the elapsed time and an estimate of the time left; default: that line to
        the module's logger).

    Returns
    -------
    ProtocolResult
        Spikes, window table, timeline, readouts (with units), wall times and, with
        plasticity, the synapses.

    Raises
    ------
    ValueError
        The protocol has no window, its windows are out of order, overlap or leave its
        timeline, or the first window sees the drug.
    NumericalError
        A window left the model's range
        ([`NumericalError`][ketamine_sim.experiments.errors.NumericalError]); nothing is returned.

    Notes
    -----
    For each window, every track (in the order of
    [`registered_tracks`][ketamine_sim.experiments.simulation.tracks.registered_tracks]) is advanced to
    the window's start (``predict``) and hands the window its inputs (``window_inputs``);
    the window runs with the brain concentrations of its start held fixed; its readouts are
    recorded and checked; then every track takes its output and corrects the interval
    before it (``after_window``). After the last window the tracks are advanced to the
    protocol's end. Same seed, same spikes: ``tests/experiments/test_golden_timeline.py`` drives this
    loop with a fake engine.
    """
    t = protocol.time_s
    _check_baseline(protocol, structure.window_s)
    ampa_available = _ampa_available(protocol, drive, len(t))
    tracks = _tracks(protocol, structure, drive, seed, mechanisms, ampa_available)
    recorder = _Recorder(structure, drive, train)
    wall = {"windows": 0.0, "slow_layer": 0.0}
    here, started = 0, time.perf_counter()
    for span, window in _spans(protocol, structure.window_s):
        wall["slow_layer"] += _advance(tracks, here, span.i_start)
        inputs = {k: v for track in tracks for k, v in track.window_inputs(span.index, span.i_start).items()}
        concentrations = {k: float(protocol.brain_uM[k][span.i_start]) for k in SPECIES}
        window_drive = replace(drive, ampa_available=float(ampa_available[span.i_start]))
        rng = stream_rng(seed, "window_values", span.index)
        values = initial_values(structure, window_drive, concentrations, rng=rng, **inputs)
        out = engine.run_window(values, connect_seed=seed, noise_seed=stream_seed(seed, "window_noise", span.index))
        wall["windows"] += out.wall_s
        found = recorder.record(window, out, inputs["u_release"], values)
        start = time.perf_counter()
        for track in tracks:
            track.after_window(span, out, found)
        wall["slow_layer"] += time.perf_counter() - start
        here = span.i_end
        progress(
            WindowDone(
                index=span.index,
                n_windows=len(protocol.windows),
                label=window.label,
                start_s=window.start_s,
                brain_drug_uM=sum(concentrations.values()),
                rates_hz={pop: found[pop]["rate"] for pop in POPULATIONS},
                wall_s=out.wall_s,
                elapsed_s=time.perf_counter() - started,
            )
        )
    wall["slow_layer"] += _advance(tracks, here, len(t) - 1)
    return ProtocolResult(
        spikes=recorder.spikes(),
        **_windows(protocol, structure.window_s, tracks, ampa_available),
        **_timeline(protocol, tracks, ampa_available),
        readouts=recorder.readouts(),
        wall_s=wall,
        synapses=next((s for track in tracks if (s := getattr(track, "synapses", lambda: None)()) is not None), None),
        connectivity=recorder.connectivity,
        field_potential=recorder.field_potential(),
    )


def _check_baseline(protocol: Protocol, window_s: float) -> None:
    t = protocol.time_s
    check_windows(protocol.windows, window_s, float(t[0]), float(t[-1]))
    first = np.searchsorted(t, protocol.windows[0].start_s)
    if any(np.any(protocol.brain_uM[k][: first + 1] > 0) for k in protocol.brain_uM):
        raise ValueError("the first window must come before any drug reaches the brain (it is the baseline)")


def _ampa_available(protocol: Protocol, drive: CircuitDrive, n: int) -> np.ndarray:
    if protocol.ampa_available is None:
        return np.full(n, drive.ampa_available)
    return np.asarray(protocol.ampa_available, dtype=float)


def _tracks(protocol, structure, drive, seed, mechanisms, ampa_available: np.ndarray) -> list[Track]:
    """Every registered track, built in order from one context."""
    context = SlowContext(
        protocol=protocol,
        structure=structure,
        drive=drive,
        seed=seed,
        mechanisms=mechanisms,
        occupancy=equilibrium_occupancy(protocol.brain_uM, structure.block),
        ampa_available=ampa_available,
        tracks={},
    )
    for cls in registered_tracks():
        context.tracks[cls.name] = cls.from_context(context)
    return list(context.tracks.values())


def _spans(protocol: Protocol, window_s: float):
    t = protocol.time_s
    for index, window in enumerate(protocol.windows):
        i_start = int(np.searchsorted(t, window.start_s))
        i_end = int(np.searchsorted(t, window.start_s + window_s))
        yield WindowSpan(index, window.label, i_start, i_end), window


def _advance(tracks: list[Track], i0: int, i1: int) -> float:
    """Every track from ``i0`` to ``i1`` (nothing if ``i1 <= i0``); returns the wall time (s)."""
    start = time.perf_counter()
    if i1 > i0:
        for track in tracks:
            track.predict(i0, i1)
    return time.perf_counter() - start


class _Recorder:
    """Every window's spikes (on the protocol clock) and readouts, checked for range."""

    def __init__(self, structure: CircuitStructure, drive: CircuitDrive, train: tuple[int, float] | None):
        self.structure, self.drive, self.train = structure, drive, train
        self._spikes = {pop: ([], []) for pop in POPULATIONS}
        self._readouts = {pop: {name: [] for name in READOUT_UNITS} for pop in POPULATIONS}
        self.connectivity: dict[str, dict[str, np.ndarray]] = {}
        self._field: list[dict[str, np.ndarray]] = []
        self._field_sample_ms = 0.0

    def record(self, window: Window, out, u_release: float, values: Mapping) -> dict[str, dict]:
        """The window's readouts per population (and, from the first window, the synapses:
        `connectivity_of`); raises NumericalError on out-of-range state."""
        if not self.connectivity:
            self.connectivity = connectivity_of(out, values)
        s, found_all = self.structure, {}
        field_found = self._record_field(out.field)
        for pop in POPULATIONS:
            times, ids = out.spikes[pop]
            self._spikes[pop][0].append(1e3 * (window.start_s + times))
            self._spikes[pop][1].append(ids.astype(np.uint64))
            state = out.state[pop]
            found = window_readouts(out.spikes[pop], state, s.counts[pop], s.window_s, s.transient_s)
            if pop == "pyr":
                found.update(
                    release_readouts(state, u_release, self.drive.vesicles, s.window_s, s.transient_s, self.train)
                )
                found.update(field_found)
            # NaN, inf or out-of-range state or readouts: stop, write nothing
            check_window(state, found, pop, window.label, membrane_range_V(s.cells[pop], s.synapses))
            for name in READOUT_UNITS:
                self._readouts[pop][name].append(found.get(name, np.nan))
            for name in TRAIN_READOUT_UNITS:
                if name in found:
                    self._readouts[pop].setdefault(name, []).append(found[name])
            found_all[pop] = found
        return found_all

    def _record_field(self, field_currents: dict[str, np.ndarray] | None) -> dict[str, float]:
        """Keep the window's field samples (engines that record none: nothing); its field readouts."""
        if field_currents is None:
            return {}
        self._field_sample_ms, samples = field_samples(field_currents, field_step_ms(self.structure.dt_ms))
        self._field.append(samples)
        return field_readouts(samples["proxy"], self._field_sample_ms, 1e3 * self.structure.transient_s)

    def field_potential(self) -> dict[str, np.ndarray]:
        """``time_ms`` (sample times from the window start, bin centres) and per name of
        `field_samples` an array (window, sample) in nA; empty unless every window had them."""
        if not self._field or len(self._field) != len(self._readouts[POPULATIONS[0]]["rate"]):
            return {}
        n = min(len(w["proxy"]) for w in self._field)
        out = {name: np.stack([w[name][:n] for w in self._field]) for name in self._field[0]}
        return {"time_ms": self._field_sample_ms * (np.arange(n) + 0.5), **out}

    def spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {pop: (np.concatenate(s[0]), np.concatenate(s[1])) for pop, s in self._spikes.items()}

    def readouts(self) -> dict[str, dict[str, np.ndarray]]:
        return {pop: {n: np.asarray(v, dtype=float) for n, v in r.items()} for pop, r in self._readouts.items()}


def _at_windows(protocol: Protocol, values: np.ndarray) -> np.ndarray:
    return np.array([values[np.searchsorted(protocol.time_s, w.start_s)] for w in protocol.windows])


def _windows(protocol: Protocol, window_s: float, tracks: list[Track], ampa_available: np.ndarray) -> dict:
    """The per-window columns: label, start, duration, concentrations, the protocol's
    conditions, AMPA availability, then every track's columns."""
    columns = {
        "label": (np.array([w.label for w in protocol.windows]), ""),
        "start_s": (np.array([w.start_s for w in protocol.windows]), "s"),
        "duration_s": (np.full(len(protocol.windows), window_s), "s"),
    }
    for k in SPECIES:
        columns[f"brain_{k}_uM"] = (_at_windows(protocol, protocol.brain_uM[k]), "uM")
    for name, values in protocol.conditions.items():
        columns[name] = (np.asarray(values), protocol.condition_units.get(name, ""))
    columns["ampa_available"] = (_at_windows(protocol, ampa_available), "1")
    for track in tracks:
        columns.update(track.columns())
    return {"windows": {n: v for n, (v, _) in columns.items()}, "window_units": {n: u for n, (_, u) in columns.items()}}


def _clinical_plasma(plasma_uM: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, str]]:
    """Total (both enantiomers) plasma ketamine and norketamine in ng/mL, as clinical studies
    report them (achiral assays of racemic doses)."""
    return {
        f"plasma_{name}_ng_per_ml": (
            sum(uM_to_ng_per_ml(plasma_uM[k], MOLAR_MASS_G_PER_MOL[k]) for k in pair),
            "ng/mL",
        )
        for name, pair in (
            ("ketamine", ("s_ketamine", "r_ketamine")),
            ("norketamine", ("s_norketamine", "r_norketamine")),
        )
    }


def _timeline(protocol: Protocol, tracks: list[Track], ampa_available: np.ndarray) -> dict:
    """The timeline traces: time, the protocol's extra traces and concentrations, the tracks'
    traces, AMPA availability where the protocol set it."""
    traces = {"time_s": (protocol.time_s, "s"), **{n: (v, "s") for n, v in protocol.extra_timeline.items()}}
    for k in SPECIES:
        if protocol.plasma_uM is not None:
            traces[f"plasma_{k}_uM"] = (protocol.plasma_uM[k], "uM")
        traces[f"brain_{k}_uM"] = (protocol.brain_uM[k], "uM")
    if protocol.plasma_uM is not None:
        traces.update(_clinical_plasma(protocol.plasma_uM))
    for track in tracks:
        traces.update(track.traces())
    if protocol.ampa_available is not None:
        traces["ampa_available"] = (ampa_available, "1")
    return {
        "timeline": {n: v for n, (v, _) in traces.items()},
        "timeline_units": {n: u for n, (_, u) in traces.items()},
    }
