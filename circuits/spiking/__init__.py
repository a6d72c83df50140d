"""The fast side of the model: what runs inside a spiking window (Brian2 equations).

Cells (:mod:`.cells`), synaptic receptors with the NMDA channel block and their spike rules
(:mod:`.receptors`), presynaptic vesicle release (:mod:`.vesicles`) and the network that
connects them (:mod:`.network`).
"""
