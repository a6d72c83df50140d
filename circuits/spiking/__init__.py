"""The fast side of the model: what runs inside a spiking window (Brian2 equations).

Cells ([`cells`][circuits.spiking.cells]), synaptic receptors with the NMDA channel block
and their spike rules ([`receptors`][circuits.spiking.receptors]), presynaptic vesicle
release ([`vesicles`][circuits.spiking.vesicles]) and the network that connects them
([`network`][circuits.spiking.network]).
"""
