"""The interface every track implements, and what tracks share (see [`experiments.simulation.tracks`][experiments.simulation.tracks])."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol as _Protocol

import numpy as np

from circuits.compounds import SPECIES
from circuits.pharmacology import BlockParameters
from circuits.spiking.network import CircuitDrive, CircuitStructure
from experiments.protocols.base import Protocol


@dataclass(frozen=True)
class WindowSpan:
    """Where window ``index`` lies on the timeline: indices of its start and end."""

    index: int
    label: str
    i_start: int
    i_end: int


@dataclass
class SlowContext:
    """What every track is built from: the protocol and circuit, the run's seed, each
    mechanism's parameters, and the timeline arrays the tracks share. ``tracks`` holds the
    tracks built so far (by name), so that a track can read an earlier one's traces."""

    protocol: Protocol
    structure: CircuitStructure
    drive: CircuitDrive
    seed: int
    #: each slow mechanism's parameters by name (`experiments.config.mechanisms`):
    #: ``chemistry`` (NeurochemistryParameters), ``a1_antagonist`` (bool), ``plasticity``
    #: (PlasticitySettings), and those of any track added since
    mechanisms: Mapping[str, object]
    occupancy: np.ndarray  #: the drug's equilibrium NMDA occupancy on the timeline
    ampa_available: np.ndarray  #: fraction of AMPA receptors not blocked, on the timeline
    tracks: dict[str, Track]


class Track(_Protocol):
    """The interface of a slow mechanism (see the module docstring)."""

    name: str

    @classmethod
    def from_context(cls, context: SlowContext) -> Track: ...

    def predict(self, i0: int, i1: int) -> None: ...

    def window_inputs(self, index: int, i_start: int) -> dict: ...

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None: ...

    def traces(self) -> dict[str, tuple[np.ndarray, str]]: ...

    def columns(self) -> dict[str, tuple[np.ndarray, str]]: ...


def interpolation_weight(t: np.ndarray, occupancy: np.ndarray, i0: int, i1: int) -> np.ndarray:
    """Weight (0 at ``i0`` .. 1 at ``i1``) of each step (i0, i0 + 1], ..., (i1 - 1, i1] at its
    midpoint: along the drug's NMDA occupancy where it changes, linearly in time otherwise.

    The tracks use it to correct an interval between two windows: a rate measured in the
    earlier window moves towards the later window's rate as the drug's occupancy does, so a
    rise starts with the dose, not before it."""
    change = occupancy[i1] - occupancy[i0]
    if abs(change) > 1e-6:
        mid = 0.5 * (occupancy[i0:i1] + occupancy[i0 + 1 : i1 + 1])
        return np.clip((mid - occupancy[i0]) / change, 0.0, 1.0)
    mid_t = 0.5 * (t[i0:i1] + t[i0 + 1 : i1 + 1])
    return (mid_t - t[i0]) / (t[i1] - t[i0])


def equilibrium_occupancy(brain_uM: dict[str, np.ndarray], block: BlockParameters) -> np.ndarray:
    """The drug's NMDA occupancy at equilibrium on the timeline: L / (1 + L), with
    L = sum over species k of c_k / K_d,k ([`circuits.pharmacology`][circuits.pharmacology])."""
    load = sum(brain_uM[k] / block.dissociation_uM[k] for k in SPECIES)
    return load / (1.0 + load)


__all__ = ["SlowContext", "Track", "WindowSpan", "equilibrium_occupancy", "interpolation_weight"]
