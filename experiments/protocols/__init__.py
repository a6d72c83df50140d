"""Protocols: the slow timeline with the drug on it and the spiking windows placed on it.

- :mod:`.base`: :class:`Window`, :class:`Protocol`, the timeline grid;
- :mod:`.builders`: one builder per experiment kind (:data:`PROTOCOLS`) and the dosing clock.
"""

from ketamine_sim.experiments.protocols.base import Protocol, Window, check_windows, timeline_grid
from ketamine_sim.experiments.protocols.builders import PROTOCOLS, DosingClock

__all__ = ["PROTOCOLS", "DosingClock", "Protocol", "Window", "check_windows", "timeline_grid"]
