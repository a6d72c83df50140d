"""Tracks: the slow mechanisms carried through a protocol, one per mechanism.

A protocol alternates spiking windows with the slow timeline between them
([`run_protocol`][ketamine_sim.experiments.simulation.timeline.run_protocol]). Each slow mechanism is a
*track* with the same four steps, called by the loop in this order:

1. ``predict(i0, i1)``: advance the mechanism on the timeline from index ``i0`` to ``i1``
   with what the last window measured (the interval before the next window);
2. ``window_inputs(index, i_start)``: the keyword arguments of
   [`initial_values`][ketamine_sim.circuits.spiking.network.initial_values] this mechanism sets for
   window ``index`` (which starts at timeline index ``i_start``);
3. ``after_window(window, out, found)``: take the window's output (``out``, an
   ``ketamine_sim.experiments.simulation.windows.WindowOutput``) and readouts (``found``: per population,
   the window's readouts) and correct the interval since the previous window;
4. ``traces()`` and ``columns()``: the timeline traces and the per-window columns it
   contributes to the results (name -> (values, unit)).

Each track is built by ``from_context`` from a
[`SlowContext`][ketamine_sim.experiments.simulation.tracks.SlowContext] and registered in
[`registered_tracks`][ketamine_sim.experiments.simulation.tracks.registered_tracks]. Tracks:
[`BlockTrack`][ketamine_sim.experiments.simulation.tracks.BlockTrack] (the NMDA block per neuron),
[`ChemistryTrack`][ketamine_sim.experiments.simulation.tracks.ChemistryTrack] (bulk glutamate, adenosine,
the release fraction and the vesicle pool),
[`PlasticityTrack`][ketamine_sim.experiments.simulation.tracks.PlasticityTrack] (spine sites and the
BDNF/mTOR chain),
[`NetworkStateTrack`][ketamine_sim.experiments.simulation.tracks.NetworkStateTrack] (with
``circuit.carry_state``: the membrane and synaptic state from one window into the next). A new slow mechanism is one more track (see CONTRIBUTING.md).
"""

from __future__ import annotations

from ketamine_sim.experiments.simulation.tracks.base import (
    SlowContext,
    Track,
    WindowSpan,
    equilibrium_occupancy,
    interpolation_weight,
)
from ketamine_sim.experiments.simulation.tracks.block import BlockTrack
from ketamine_sim.experiments.simulation.tracks.chemistry import ChemistryTrack
from ketamine_sim.experiments.simulation.tracks.network_state import NetworkStateTrack
from ketamine_sim.experiments.simulation.tracks.plasticity import PlasticityTrack


def registered_tracks() -> tuple[type[Track], ...]:
    """The track classes, in the order the loop builds and runs them.

    The block first (plasticity reads its pyramidal trace), then the neurochemistry, then
    plasticity, then the network state. A new slow mechanism adds its class here
    (CONTRIBUTING.md).

    Returns
    -------
    tuple of type
        Classes implementing [`Track`][ketamine_sim.experiments.simulation.tracks.Track].

    Examples
    --------
    >>> [track.name for track in registered_tracks()]
    ['block', 'chemistry', 'plasticity', 'network_state']
    """
    return (BlockTrack, ChemistryTrack, PlasticityTrack, NetworkStateTrack)


__all__ = [
    "BlockTrack",
    "ChemistryTrack",
    "NetworkStateTrack",
    "PlasticityTrack",
    "SlowContext",
    "Track",
    "WindowSpan",
    "equilibrium_occupancy",
    "interpolation_weight",
    "registered_tracks",
]
