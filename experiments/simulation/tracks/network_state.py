"""The network-state track: with ``circuit.carry_state``, each window starts where the last one stopped.

Without it, every window starts afresh: membrane potentials drawn between rest and threshold,
no synaptic activity, so its first ``circuit.transient_s`` are left out of the readouts. With
it, the membrane potential, the AMPA and GABA_A conductances and the NMDA rise and open
fractions of every cell at a window's end
([`NETWORK_STATE_VARIABLES`][ketamine_sim.circuits.spiking.window.NETWORK_STATE_VARIABLES]) are the
next window's initial values, exactly; back-to-back windows are then one simulation whose
concentrations change at each window's start. Not carried: spikes still in flight at the end
(the 0.5-ms synaptic delay), the refractory clock of a cell that spiked in the last
millisecond or two, and the position of the noise generators (each window draws from its own
stream). The NMDA block and the vesicle pool are carried in any case (their own tracks).
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.window import NETWORK_STATE_VARIABLES
from ketamine_sim.experiments.simulation.tracks.base import SlowContext, WindowSpan


class NetworkStateTrack:
    """The network state carried from one window to the next (a track; does nothing when off).

    Attributes
    ----------
    enabled : bool
        ``circuit.carry_state``.
    state : dict of str to dict of str to numpy.ndarray or None
        Population -> variable -> the last window's final value per cell (V, S or 1); None
        before the first window or when off.
    """

    name = "network_state"

    @classmethod
    def from_context(cls, context: SlowContext) -> NetworkStateTrack:
        return cls(len(context.protocol.windows), bool(context.mechanisms["network_state"]))

    def __init__(self, n_windows: int, enabled: bool):
        self.enabled = enabled
        self.state: dict[str, dict[str, np.ndarray]] | None = None
        self.carried = np.zeros(n_windows)

    def predict(self, i0: int, i1: int) -> None:
        """Nothing: the network state does not change between windows (it is a window's own)."""

    def window_inputs(self, index: int, i_start: int) -> dict:
        """``network_state`` for [`initial_values`][ketamine_sim.circuits.spiking.network.initial_values]
        once a window has run (with ``circuit.carry_state``); nothing otherwise."""
        if self.state is None:
            return {}
        self.carried[index] = 1.0
        return {"network_state": self.state}

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None:
        """Keep the window's final network state (with ``circuit.carry_state``)."""
        if self.enabled:
            self.state = {
                pop: {name: np.array(out.state[pop][name], dtype=float) for name in NETWORK_STATE_VARIABLES}
                for pop in POPULATIONS
            }

    def traces(self) -> dict[str, tuple[np.ndarray, str]]:
        """No timeline traces."""
        return {}

    def columns(self) -> dict[str, tuple[np.ndarray, str]]:
        """``network_state_carried``: 1 where the window started from the last one's final state."""
        return {"network_state_carried": (self.carried, "1")}
