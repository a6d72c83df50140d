"""ketamine-sim's model library: the equations, their parameters' units and their sources.

- :mod:`circuits.compounds`, :mod:`circuits.pharmacology`: the drugs (species, molar masses)
  and their binding at the NMDA receptor, shared by both sides below.
- :mod:`circuits.spiking`: what runs inside a spiking window (Brian2).
- :mod:`circuits.slow`: what changes between windows (numpy).

Pure model code: no Hydra and no file I/O (see ``experiments`` for those).
"""
