"""ketamine-sim's model library: the equations, their parameters' units and their sources.

- [`ketamine_sim.circuits.compounds`][ketamine_sim.circuits.compounds], [`ketamine_sim.circuits.pharmacology`][ketamine_sim.circuits.pharmacology]:
  the drugs (species, molar masses) and their binding at the NMDA receptor, shared by both
  sides below; [`ketamine_sim.circuits.units`][ketamine_sim.circuits.units]: unit constants.
- [`ketamine_sim.circuits.spiking`][ketamine_sim.circuits.spiking]: what runs inside a spiking window (Brian2).
- [`ketamine_sim.circuits.slow`][ketamine_sim.circuits.slow]: what changes between windows (numpy).

Pure model code: no Hydra and no file I/O (see `experiments` for those). Every quantity
carries its unit in its name (`dose_mg_per_kg`, `tau_rec_ms`, `concentrations_uM`).
"""
