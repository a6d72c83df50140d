"""The slow plasticity layer of a protocol: spine sites and the BDNF/mTOR chain between windows.

Each window hands this track the local AMPA input its pyramidal cells received; the
track turns it into the activity ``a`` (relative to the baseline window) and, against the
adapting set point, the drive ``u`` of [`ketamine_sim.circuits.slow.plasticity`][ketamine_sim.circuits.slow.plasticity], and integrates the
chain on the protocol's time grid. Between two windows the activity is first *predicted*
(the last window's excess over baseline, scaled down with the drug's NMDA occupancy when
that falls),
which sets the next window's spine sites and E->E weights; once that window has run,
the interval is *corrected* from the previous window's end with the activity interpolated
between the two windows (along the occupancy, or in time where it does not change),
and the traces are those of the corrected pass. Sites are drawn once, at each window's
start, from the predicted transition probabilities.

With ``enabled`` false the state is held at rest (the brain state still sets the sites'
occupancy and the E->E strength) and the sites drawn for the first window are kept.
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.slow.plasticity import (
    PlasticitySettings,
    PlasticityState,
    activity_drive,
    advance,
    drive_and_adapt,
    outcome,
    update_sites,
)
from ketamine_sim.circuits.spiking.network import stream_rng
from ketamine_sim.experiments.simulation.tracks.base import SlowContext, WindowSpan, interpolation_weight

#: Timeline traces (name -> unit) written when plasticity is enabled.
TRACE_UNITS: dict[str, str] = {
    "bdnf": "1 (relative to the healthy tone)",
    "mtor": "1 (relative to the healthy tone)",
    "potentiation": "1 (relative growth of existing E->E synapses)",
    "spine_density": "1 (relative to the healthy steady state)",
    "outcome": "1 (E->E synaptic strength relative to the healthy state; mood proxy)",
    "ampa_drive": "1 (supra-threshold AMPA activity, population mean)",
}
#: Window columns (name -> unit) written when plasticity is enabled.
WINDOW_UNITS: dict[str, str] = {
    "spine_sites_present": "1 (fraction of potential E->E sites)",
    "spines_formed": "1 (sites gained since the previous window)",
    "spines_eliminated": "1 (sites lost since the previous window)",
    "ampa_activation": "1 (local AMPA activation of pyramidal cells relative to baseline)",
    "ampa_drive": "1",
}


class PlasticityTrack:
    """The spine sites and the BDNF/mTOR chain of the pyramidal cells (a track: see
    [`ketamine_sim.experiments.simulation.tracks`][ketamine_sim.experiments.simulation.tracks])."""

    name = "plasticity"

    @classmethod
    def from_context(cls, context: SlowContext) -> PlasticityTrack:
        p, structure = context.protocol, context.structure
        gate = np.ones(len(p.time_s)) if p.mtor_gate is None else np.asarray(p.mtor_gate, dtype=float)
        track = cls(
            context.mechanisms["plasticity"],
            structure.counts["pyr"],
            p.time_s,
            context.occupancy,
            context.tracks["block"].blocked["pyr"],
            gate,
            context.ampa_available,
            structure.window_s,
            structure.transient_s,
            context.seed,
        )
        track.gate_given = p.mtor_gate is not None
        return track

    def __init__(
        self,
        settings: PlasticitySettings,
        n_pyr: int,
        time_s: np.ndarray,
        occupancy: np.ndarray,
        blocked_pyr: np.ndarray,
        mtor_gate: np.ndarray,
        ampa_available: np.ndarray,
        window_s: float,
        transient_s: float,
        seed: int,
    ):
        """``blocked_pyr`` is the pyramidal cells' mean NMDA blocked fraction on ``time_s``, filled
        in by the block track before each stretch is advanced (the GluN2B-at-rest route reads
        it); ``ampa_available`` the fraction of AMPA receptors not blocked, on ``time_s``."""
        self.settings, self.t, self.occupancy, self.gate = settings, time_s, occupancy, mtor_gate
        self.ampa_available = ampa_available
        self.gate_given = True  # whether the protocol set the mTOR gate (written as a trace)
        self._weight_scale: np.ndarray | float = 1.0
        self.blocked_pyr = blocked_pyr
        self.counting_s = window_s - transient_s
        self.seed = seed
        self.s = PlasticityState.at_rest(n_pyr, settings.params, settings.state)
        self.anchor: tuple[int, PlasticityState] | None = None
        self.activity = 1.0  # last window's activity relative to the baseline window
        self.reference: float | None = None
        self.sites: dict[str, np.ndarray] | None = None  # pre, post, present
        self._traces = {name: np.full(len(time_s), np.nan) for name in TRACE_UNITS}
        self._columns = {name: [] for name in WINDOW_UNITS}
        self.snapshots: list[tuple[np.ndarray, np.ndarray]] = []  # (present, weight scale) per window
        self._record(0)

    # -- handing a window its parameters -------------------------------------------------
    def window_inputs(self, index: int, i_start: int) -> dict:
        """Keyword arguments of [`initial_values`][ketamine_sim.circuits.spiking.network.initial_values] for
        window ``index`` (``spines``, ``spine_init``, ``ee_weight_scale``); draws the sites'
        transitions since the last window (plasticity enabled)."""
        formed = eliminated = 0
        if self.sites is not None and self.settings.enabled:
            rng = stream_rng(self.seed, "spine_sites", index)
            present, formed, eliminated = update_sites(self.sites["present"], self.sites["post"], self.s, rng)
            self.sites["present"] = present
        self._columns["spines_formed"].append(formed)
        self._columns["spines_eliminated"].append(eliminated)
        self._weight_scale = self.s.weight_scale(self.settings.state)
        return {
            "spines": None if self.sites is None else self.sites["present"],
            "spine_init": self.s.occupancy.copy(),
            "ee_weight_scale": self._weight_scale,
        }

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None:
        """Take the window's sites and activity, then correct the interval since the last window."""
        previous_activity = self.activity
        self._take(out.sites, out.state["pyr"]["ampa_local"], float(self.ampa_available[window.i_start]))
        self.correct(window.i_start, window.i_end, previous_activity)

    def traces(self) -> dict[str, tuple[np.ndarray, str]]:
        """The chain's traces on the timeline (none with plasticity off), and the mTOR gate the
        protocol set (with plasticity on, or where it blocks mTOR)."""
        out = {}
        if self.settings.enabled:
            out = {name: (self._traces[name], unit) for name, unit in TRACE_UNITS.items()}
        if self.gate_given and (self.settings.enabled or np.any(self.gate < 1)):
            out["mtor_gate"] = (np.asarray(self.gate, dtype=float), "1")
        return out

    def columns(self) -> dict[str, tuple[np.ndarray, str]]:
        """Sites and activity per window (none with plasticity off)."""
        if not self.settings.enabled:
            return {}
        return {name: (np.asarray(self._columns[name], dtype=float), unit) for name, unit in WINDOW_UNITS.items()}

    def synapses(self) -> dict | None:
        """The pyr->pyr sites (``source_ids``, ``target_ids``) and, per window, which are present
        and the E->E weight scale (None with plasticity off)."""
        if not self.settings.enabled:
            return None
        return {
            "source_ids": self.sites["pre"],
            "target_ids": self.sites["post"],
            "present": [p for p, _ in self.snapshots],
            "weight_scale": [w for _, w in self.snapshots],
        }

    def _take(self, sites: dict[str, np.ndarray], ampa_local: np.ndarray, ampa_available: float) -> None:
        """Take the window's sites and local AMPA activation (release events x AMPA availability,
        per pyramidal cell; independent of the synapses' strength, so potentiation does not
        feed back on itself)."""
        weight_scale = self._weight_scale
        if self.sites is None:
            self.sites = {"pre": sites["pre"], "post": sites["post"], "present": sites["spine"].copy()}
        rate = np.asarray(ampa_local, dtype=float) / self.counting_s
        if self.reference is None:  # baseline at full AMPA availability
            self.reference = float(np.mean(rate)) / max(ampa_available, 1e-9)
        # one drive for the population: per-cell counts of a window are noisy, and BDNF acts on
        # the synapses around the releasing cells rather than on the cell alone
        ratio = float(np.mean(rate)) / self.reference if self.reference > 0 else 1.0
        self.activity = ratio
        self._columns["ampa_activation"].append(ratio)
        self._columns["ampa_drive"].append(float(np.mean(activity_drive(ratio, self.s.setpoint, self.settings.params))))
        self._columns["spine_sites_present"].append(float(np.mean(self.sites["present"])))
        self.snapshots.append((self.sites["present"].copy(), np.asarray(weight_scale, dtype=float)))

    # -- between windows ----------------------------------------------------------------
    def predict(self, i0: int, i1: int) -> None:
        """Advance from ``i0`` to ``i1`` with the last activity excess, scaled by the occupancy when it falls."""
        if not self.settings.enabled:
            return self._hold(i0, i1)
        o0 = self.occupancy[i0]
        for i in range(i0 + 1, i1 + 1):
            scale = min(1.0, 0.5 * (self.occupancy[i - 1] + self.occupancy[i]) / o0) if o0 > 1e-9 else 1.0
            self._step(i, 1.0 + (self.activity - 1.0) * scale)

    def correct(self, i_start: int, i_end: int, previous_activity: float) -> None:
        """Redo the interval since the last window's end with the activity interpolated up to this
        window (``i_start``), then the window itself (to ``i_end``) with its own activity; start
        accumulating the next interval's site transitions."""
        if self.settings.enabled and self.anchor is not None:
            i0, state = self.anchor
            self.s = state.copy()
            if i_start > i0:
                weights = interpolation_weight(self.t, self.occupancy, i0, i_start)
                for k, i in enumerate(range(i0 + 1, i_start + 1)):
                    self._step(i, previous_activity + (self.activity - previous_activity) * weights[k])
            for i in range(i_start + 1, i_end + 1):
                self._step(i, self.activity)
        elif self.settings.enabled:
            for i in range(i_start + 1, i_end + 1):
                self._step(i, self.activity)
        else:
            self._hold(i_start, i_end)
        self.s.start_interval()
        self.anchor = (i_end, self.s.copy())

    def _step(self, i: int, activity: float) -> None:
        st = self.settings
        dt = float(self.t[i] - self.t[i - 1])
        drive = drive_and_adapt(self.s, activity, dt, st.params)
        advance(
            self.s,
            drive,
            dt,
            st.params,
            st.state,
            mtor_gate=float(self.gate[i]),
            formation_blocked=st.formation_blocked,
            rest_block=0.5 * float(self.blocked_pyr[i - 1] + self.blocked_pyr[i]),
        )
        self._record(i, drive)

    def _hold(self, i0: int, i1: int) -> None:
        for i in range(i0 + 1, i1 + 1):
            self._record(i)

    def _record(self, i: int, drive: np.ndarray | None = None) -> None:
        st = self.settings
        self._traces["bdnf"][i] = float(np.mean(self.s.bdnf))
        self._traces["mtor"][i] = float(np.mean(self.s.mtor))
        self._traces["potentiation"][i] = float(np.mean(self.s.protein))
        self._traces["spine_density"][i] = float(np.mean(self.s.occupancy)) / st.params.occupancy
        self._traces["outcome"][i] = outcome(self.s, st.params, st.state)
        self._traces["ampa_drive"][i] = 0.0 if drive is None else float(np.mean(drive))
