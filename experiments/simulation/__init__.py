"""Simulation: spiking windows on a Brian2 backend inside the slow timeline.

- :mod:`.engine`: compiles a circuit once per generated code and reruns it per window;
- :mod:`.readouts`: what a window's spikes and final state say (rates, release, checks);
- :mod:`.tracks`: the slow mechanisms carried between windows (block, chemistry, plasticity);
- :mod:`.timeline`: the protocol loop (:func:`~.timeline.run_protocol`).
"""
