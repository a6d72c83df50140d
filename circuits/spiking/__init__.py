"""The fast side of the model: what runs inside a spiking window (Brian2 equations).

Cells ([`cells`][ketamine_sim.circuits.spiking.cells]), synaptic receptors with the NMDA channel block
and their spike rules ([`receptors`][ketamine_sim.circuits.spiking.receptors]), presynaptic vesicle
release ([`vesicles`][ketamine_sim.circuits.spiking.vesicles]), the Poisson background input
([`background`][ketamine_sim.circuits.spiking.background]), the network that connects them
([`network`][ketamine_sim.circuits.spiking.network]) and the field-potential proxy it records
([`field_potential`][ketamine_sim.circuits.spiking.field_potential]).
"""
