"""Simulation: spiking windows on a Brian2 backend inside the slow timeline.

- :mod:`.engine`: compiles a circuit once per generated code and reruns it per window;
- :mod:`.readouts`: what a window's spikes and final state say (rates, release, checks);
- :mod:`.plasticity_track`: the spine sites and the BDNF/mTOR chain carried between windows;
- :mod:`.timeline`: the protocol loop (:func:`~.timeline.run_protocol`).
"""
