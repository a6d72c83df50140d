"""ketamine-sim's model library: the equations, their parameters' units and their sources.

- [`circuits.compounds`][circuits.compounds], [`circuits.pharmacology`][circuits.pharmacology]:
  the drugs (species, molar masses) and their binding at the NMDA receptor, shared by both
  sides below; [`circuits.units`][circuits.units]: unit constants.
- [`circuits.spiking`][circuits.spiking]: what runs inside a spiking window (Brian2).
- [`circuits.slow`][circuits.slow]: what changes between windows (numpy).

Pure model code: no Hydra and no file I/O (see `experiments` for those). Every quantity
carries its unit in its name (`dose_mg_per_kg`, `tau_rec_ms`, `concentrations_uM`).
"""
