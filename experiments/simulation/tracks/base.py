"""The interface every track implements, and what tracks share (see
[`ketamine_sim.experiments.simulation.tracks`][ketamine_sim.experiments.simulation.tracks])."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol as _Protocol

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.pharmacology import BlockParameters
from ketamine_sim.circuits.spiking.network import CircuitDrive, CircuitStructure
from ketamine_sim.experiments.protocols.base import Protocol


@dataclass(frozen=True)
class WindowSpan:
    """Where a spiking window lies on the protocol's timeline.

    Attributes
    ----------
    index : int
        The window's row (0 is the baseline window).
    label : str
        Its label (``"-10 min"``, ``"1 uM"``).
    i_start, i_end : int
        Indices of its start and end on the timeline (``protocol.time_s``).
    """

    index: int
    label: str
    i_start: int
    i_end: int


@dataclass
class SlowContext:
    """What every track is built from ([`Track.from_context`][ketamine_sim.experiments.simulation.tracks.Track]).

    Attributes
    ----------
    protocol : Protocol
        The protocol: its time grid ``time_s`` (s), brain concentrations ``brain_uM`` per
        species on it (uM), its windows and timed manipulations.
    structure : CircuitStructure
        The compiled circuit's structure (counts, window and transient length, block
        parameters).
    drive : CircuitDrive
        What drives the circuit (background, vesicles, drug targets).
    seed : int
        The run's seed (tracks draw from their own streams of it).
    mechanisms : Mapping of str to object
        Each slow mechanism's parameters by name (``ketamine_sim.experiments.config.mechanisms``):
        ``chemistry`` (NeurochemistryParameters), ``a1_antagonist`` (bool), ``plasticity``
        (PlasticitySettings), and those of any track added since.
    occupancy : numpy.ndarray of float, shape (n_times,)
        The drug's equilibrium NMDA occupancy on the timeline
        ([`equilibrium_occupancy`][ketamine_sim.experiments.simulation.tracks.equilibrium_occupancy]).
    ampa_available : numpy.ndarray of float, shape (n_times,)
        Fraction of AMPA receptors not blocked (NBQX), on the timeline.
    tracks : dict of str to Track
        The tracks built so far, by name, so that a track can read an earlier one's traces
        (plasticity reads the block track's pyramidal blocked fraction).
    """

    protocol: Protocol
    structure: CircuitStructure
    drive: CircuitDrive
    seed: int
    mechanisms: Mapping[str, object]
    occupancy: np.ndarray
    ampa_available: np.ndarray
    tracks: dict[str, Track]


class Track(_Protocol):
    """The interface of a slow mechanism: ``name``, ``from_context``, ``predict``,
    ``window_inputs``, ``after_window``, ``traces`` and ``columns``, called in the order
    that [`ketamine_sim.experiments.simulation.tracks`][ketamine_sim.experiments.simulation.tracks] describes."""

    #: The track's name, its key in ``SlowContext.tracks``.
    name: str

    @classmethod
    def from_context(cls, context: SlowContext) -> Track:
        """Build the track from the run's [`SlowContext`][ketamine_sim.experiments.simulation.tracks.SlowContext]."""
        ...

    def predict(self, i0: int, i1: int) -> None:
        """Advance from timeline index ``i0`` to ``i1`` with what the last window measured."""
        ...

    def window_inputs(self, index: int, i_start: int) -> dict:
        """Keyword arguments of [`initial_values`][ketamine_sim.circuits.spiking.network.initial_values]
        that this track sets for window ``index`` (starting at timeline index ``i_start``)."""
        ...

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None:
        """Take the window's output (``out.state[pop][name]``) and readouts
        (``found[pop][name]``) and correct the interval before the window."""
        ...

    def traces(self) -> dict[str, tuple[np.ndarray, str]]:
        """Timeline traces, name -> (values of shape (n_times, ...), unit)."""
        ...

    def columns(self) -> dict[str, tuple[np.ndarray, str]]:
        """Per-window columns, name -> (values of shape (n_windows, ...), unit)."""
        ...


def interpolation_weight(t: np.ndarray, occupancy: np.ndarray, i0: int, i1: int) -> np.ndarray:
    """Weight (0 at ``i0`` .. 1 at ``i1``) of each step of an interval, at its midpoint.

    The tracks use it to correct an interval between two windows: a rate measured in the
    earlier window moves towards the later window's rate as the drug's occupancy does, so a
    rise starts with the dose, not before it.

    Parameters
    ----------
    t : numpy.ndarray of float, shape (n_times,)
        The timeline (s).
    occupancy : numpy.ndarray of float, shape (n_times,)
        The drug's equilibrium NMDA occupancy on it (0-1).
    i0, i1 : int
        The interval's ends on the timeline, ``i0 < i1``.

    Returns
    -------
    numpy.ndarray of float, shape (i1 - i0,)
        The weight of the steps (i0, i0 + 1], ..., (i1 - 1, i1]: along the occupancy,
        (o_mid - o(i0)) / (o(i1) - o(i0)) clipped to [0, 1], where it changes by more than
        1e-6; linearly in time, (t_mid - t(i0)) / (t(i1) - t(i0)), otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    >>> interpolation_weight(t, np.zeros(5), 0, 4)  # no drug: linear in time
    array([0.125, 0.375, 0.625, 0.875])
    >>> interpolation_weight(t, np.array([0.0, 0.0, 0.5, 1.0, 1.0]), 0, 4)  # follows the occupancy
    array([0.  , 0.25, 0.75, 1.  ])
    """
    change = occupancy[i1] - occupancy[i0]
    if abs(change) > 1e-6:
        mid = 0.5 * (occupancy[i0:i1] + occupancy[i0 + 1 : i1 + 1])
        return np.clip((mid - occupancy[i0]) / change, 0.0, 1.0)
    mid_t = 0.5 * (t[i0:i1] + t[i0 + 1 : i1 + 1])
    return (mid_t - t[i0]) / (t[i1] - t[i0])


def equilibrium_occupancy(brain_uM: dict[str, np.ndarray], block: BlockParameters) -> np.ndarray:
    """The drug's NMDA occupancy at equilibrium on the timeline.

    Parameters
    ----------
    brain_uM : dict of str to numpy.ndarray
        Brain concentration of every species of ``ketamine_sim.circuits.compounds.SPECIES`` on the
        timeline (uM), arrays of one shape.
    block : BlockParameters
        The block's dissociation constants K_d,k (uM)
        ([`BlockParameters`][ketamine_sim.circuits.pharmacology.BlockParameters]).

    Returns
    -------
    numpy.ndarray of float
        L / (1 + L) with L = sum over species k of c_k / K_d,k (competitive binding at one
        site, [`ketamine_sim.circuits.pharmacology`][ketamine_sim.circuits.pharmacology]); same shape as the
        concentrations.

    Examples
    --------
    S-ketamine at 0, 1 and 3 times its dissociation constant:

    >>> import numpy as np
    >>> from ketamine_sim.circuits.compounds import SPECIES
    >>> from ketamine_sim.experiments import config as C
    >>> block = C.circuit_structure(C.compose_config([])).block  # the configured block
    >>> brain = {k: np.zeros(3) for k in SPECIES}
    >>> brain["s_ketamine"] = block.dissociation_uM["s_ketamine"] * np.array([0.0, 1.0, 3.0])
    >>> equilibrium_occupancy(brain, block)
    array([0.  , 0.5 , 0.75])
    """
    load = sum(brain_uM[k] / block.dissociation_uM[k] for k in SPECIES)
    return load / (1.0 + load)


__all__ = ["SlowContext", "Track", "WindowSpan", "equilibrium_occupancy", "interpolation_weight"]
