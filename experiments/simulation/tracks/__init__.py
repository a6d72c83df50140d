"""Tracks: the slow mechanisms carried through a protocol, one per mechanism.

A protocol alternates spiking windows with the slow timeline between them
(:func:`experiments.simulation.timeline.run_protocol`). Each slow mechanism is a *track*
with the same four steps, called by the loop in this order:

1. ``predict(i0, i1)``: advance the mechanism on the timeline from index ``i0`` to ``i1``
   with what the last window measured (the interval before the next window);
2. ``window_inputs(index, i_start)``: the keyword arguments of
   :func:`circuits.spiking.network.initial_values` this mechanism sets for window ``index``
   (which starts at timeline index ``i_start``);
3. ``after_window(window, out, found)``: take the window's output (``out``, a
   :class:`~experiments.simulation.engine.WindowOutput`) and readouts (``found``: per
   population, the window's readouts) and correct the interval since the previous window;
4. ``traces()`` and ``columns()``: the timeline traces and the per-window columns it
   contributes to the results (name -> (values, unit)).

Tracks: :class:`~.block.BlockTrack` (the NMDA block per neuron),
:class:`~.chemistry.ChemistryTrack` (bulk glutamate, adenosine, the release fraction and the
vesicle pool), :class:`~.plasticity.PlasticityTrack` (spine sites and the BDNF/mTOR chain).
A new slow mechanism is one more track (see CONTRIBUTING.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol as _Protocol

import numpy as np


@dataclass(frozen=True)
class WindowSpan:
    """Where window ``index`` lies on the timeline: indices of its start and end."""

    index: int
    label: str
    i_start: int
    i_end: int


class Track(_Protocol):
    """The interface of a slow mechanism (see the module docstring)."""

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


__all__ = ["Track", "WindowSpan", "interpolation_weight"]
