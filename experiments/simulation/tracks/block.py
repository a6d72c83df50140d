"""The NMDA block track: each neuron's blocked fractions carried from window to window.

A window starts from the block the previous one left, advanced through the interval with
the channel activity that window measured
([`advance_block_through`][ketamine_sim.circuits.slow.nmda_block.advance_block_through], on stacked
species: [`block_steps`][ketamine_sim.circuits.slow.nmda_block.block_steps]); the window's
final block is carried on. Cells outside the drug's targets see no drug.
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.slow.nmda_block import ChannelActivity, block_steps
from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.network import CircuitStructure
from ketamine_sim.experiments.simulation.tracks.base import SlowContext, WindowSpan


class BlockTrack:
    """Per population and species, the blocked fraction of every neuron (a track).

    Attributes
    ----------
    block : dict of str to dict of str to numpy.ndarray
        Population -> species -> blocked fraction of each neuron's NMDA receptors (0-1,
        shape (n_cells,)), as the last window left it or as advanced since.
    blocked : dict of str to numpy.ndarray
        Population -> mean blocked fraction (all species) on the timeline, shape (n_times,);
        written as ``/timeline/nmda_blocked_<population>``.
    """

    name = "block"

    @classmethod
    def from_context(cls, context: SlowContext) -> BlockTrack:
        p = context.protocol
        return cls(p.time_s, p.brain_uM, context.structure, context.drive.drug_targets)

    def __init__(
        self,
        time_s: np.ndarray,
        brain_uM: dict[str, np.ndarray],
        structure: CircuitStructure,
        drug_targets: tuple[str, ...],
    ):
        self.t, self.brain_uM, self.drug_targets = time_s, brain_uM, drug_targets
        self.params, self.window_s = structure.block, structure.window_s
        self.block = {pop: {k: np.zeros(structure.counts[pop]) for k in SPECIES} for pop in POPULATIONS}
        self.blocked = {pop: np.zeros(len(time_s)) for pop in POPULATIONS}
        self.activity: dict[str, ChannelActivity] | None = None  # None before the first window

    def predict(self, i0: int, i1: int) -> None:
        """Advance every neuron's block from ``i0`` to ``i1`` with the last window's activity."""
        if self.activity is None:  # before the first window: no drug yet, nothing to carry
            return
        conc = np.stack([self.brain_uM[k][i0 : i1 + 1] for k in SPECIES])
        kon = [self.params.kon_per_uM_per_s(k) for k in SPECIES]
        for pop in POPULATIONS:
            reached = conc if pop in self.drug_targets else np.zeros_like(conc)
            states = block_steps(
                np.stack([self.block[pop][k] for k in SPECIES]),
                self.activity[pop],
                self.t[i0 : i1 + 1],
                reached,
                kon,
                self.params,
            )
            self.blocked[pop][i0 : i1 + 1] = [np.mean(s.sum(axis=0)) for s in states]
            self.block[pop] = dict(zip(SPECIES, states[-1], strict=True))

    def window_inputs(self, index: int, i_start: int) -> dict:
        """The carried block of every neuron (``block_state``)."""
        return {"block_state": self.block}

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None:
        """Carry the window's final block on and keep its channel activity for the next interval."""
        self.activity = {}
        for pop in POPULATIONS:
            state = out.state[pop]
            self.block[pop] = {k: state[f"b_{k}"] for k in SPECIES}
            self.blocked[pop][window.i_end] = float(np.mean(sum(self.block[pop].values())))
            self.activity[pop] = ChannelActivity.from_accumulators(
                state["open_time"], state["open_unbind_time"], self.window_s, state["open_access_time"]
            )

    def traces(self) -> dict[str, tuple[np.ndarray, str]]:
        """``nmda_blocked_<population>``: the mean blocked fraction on the timeline (1)."""
        return {f"nmda_blocked_{pop}": (self.blocked[pop], "1") for pop in POPULATIONS}

    def columns(self) -> dict[str, tuple[np.ndarray, str]]:
        """No window columns (the block in each window is the readout ``nmda_blocked``)."""
        return {}
