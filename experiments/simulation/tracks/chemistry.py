"""The neurochemistry track: bulk glutamate and adenosine, the release fraction, the vesicle pool.

Between windows glutamate and adenosine are first *predicted* with the last window's release
rate held (that prediction sets the next window's release fraction through adenosine's A1
receptors), then, once the next window has run, *corrected* from the previous window's end
with the rate interpolated between the two windows along the drug's equilibrium NMDA
occupancy (so a rise starts with the dose, not before it), or linearly in time where the
occupancy does not change ([`interpolation_weight`][ketamine_sim.experiments.simulation.tracks.interpolation_weight]).
The pyramidal cells' vesicle pool at a window's end is the next window's start.
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.slow.neurochemistry import Neurochemistry, NeurochemistryParameters, release_fraction
from ketamine_sim.circuits.spiking.vesicles import VesicleParameters
from ketamine_sim.experiments.simulation.tracks.base import SlowContext, WindowSpan, interpolation_weight


class ChemistryTrack:
    """Glutamate G and adenosine A relative to baseline on the timeline (a track).

    Attributes
    ----------
    glutamate, adenosine : numpy.ndarray of float, shape (n_times,)
        G and A relative to their baseline (1) on the timeline.
    u_in_window : list of float
        The release fraction U handed to each window (A1 feedback), written as the window
        column ``release_fraction``.
    """

    name = "chemistry"

    @classmethod
    def from_context(cls, context: SlowContext) -> ChemistryTrack:
        return cls(
            context.protocol.time_s,
            context.occupancy,
            context.ampa_available,
            context.mechanisms["chemistry"],
            context.drive.vesicles,
            bool(context.mechanisms.get("a1_antagonist", False)),
        )

    def __init__(
        self,
        time_s: np.ndarray,
        occupancy: np.ndarray,
        ampa_available: np.ndarray,
        chemistry: NeurochemistryParameters,
        vesicles: VesicleParameters,
        a1_antagonist: bool,
    ):
        self.t, self.occupancy, self.ampa_available = time_s, occupancy, ampa_available
        self.params, self.vesicles, self.a1_antagonist = chemistry, vesicles, a1_antagonist
        self.chem = Neurochemistry()
        self.glutamate, self.adenosine = np.ones(len(time_s)), np.ones(len(time_s))
        self.baseline_release: float | None = None
        self.release_relative = 1.0  # last window's release rate relative to the baseline window
        self.anchor: tuple[int, Neurochemistry, float] | None = None  # (index, state, release) at a window's end
        self.u_in_window: list[float] = []
        self.vesicle_pool: np.ndarray | None = None
        self.measured = False

    def predict(self, i0: int, i1: int) -> None:
        """Advance from ``i0`` to ``i1`` with the last window's release rate held."""
        if not self.measured:  # before the first window: at baseline
            self.glutamate[i0 : i1 + 1], self.adenosine[i0 : i1 + 1] = self.chem.glutamate, self.chem.adenosine
            return
        for i in range(i0 + 1, i1 + 1):
            self._step(i, self.release_relative)

    def window_inputs(self, index: int, i_start: int) -> dict:
        """The release fraction U set by adenosine now, and the carried vesicle pool."""
        u_release = release_fraction(self.vesicles.u_release, self.chem.adenosine, self.params, self.a1_antagonist)
        self.u_in_window.append(u_release)
        return {"u_release": u_release, "vesicle_pool": self.vesicle_pool}

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None:
        """Take the window's release rate and pool; correct the interval since the last window."""
        self.measured = True
        self.vesicle_pool = out.state["pyr"]["x_ves"]
        release = found["pyr"]["release_rate"]
        if self.baseline_release is None:
            self.baseline_release = release
        self.release_relative = release / self.baseline_release if self.baseline_release > 0 else 1.0
        if self.anchor is not None:  # redo the interval since the last window with the interpolated rate
            index_0, state_0, release_0 = self.anchor
            self.chem = Neurochemistry(state_0.glutamate, state_0.adenosine)
            weights = (
                interpolation_weight(self.t, self.occupancy, index_0, window.i_start)
                if window.i_start > index_0
                else []
            )
            for i, weight in zip(range(index_0 + 1, window.i_start + 1), weights):
                self._step(i, release_0 + (self.release_relative - release_0) * weight)
        i_start, i_end = window.i_start, window.i_end
        self.glutamate[i_start : i_end + 1], self.adenosine[i_start : i_end + 1] = (
            self.chem.glutamate,
            self.chem.adenosine,
        )
        self.anchor = (i_end, Neurochemistry(self.chem.glutamate, self.chem.adenosine), self.release_relative)

    def _step(self, i: int, release_relative: float) -> None:
        self.chem.advance(release_relative, self.ampa_available[i], self.params, float(self.t[i] - self.t[i - 1]))
        self.glutamate[i], self.adenosine[i] = self.chem.glutamate, self.chem.adenosine

    def traces(self) -> dict[str, tuple[np.ndarray, str]]:
        """``glutamate`` (unless ``glutamate_pool`` is off) and ``adenosine``, relative to baseline."""
        out = {}
        if self.params.glutamate_pool:
            out["glutamate"] = (self.glutamate, "1 (relative to baseline)")
        out["adenosine"] = (self.adenosine, "1 (relative to baseline)")
        return out

    def columns(self) -> dict[str, tuple[np.ndarray, str]]:
        """``release_fraction``: the U handed to each window (1)."""
        return {"release_fraction": (np.array(self.u_in_window), "1")}
