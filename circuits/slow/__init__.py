"""The slow side of the model: what changes between spiking windows (numpy solvers).

Pharmacokinetics by route ([`pharmacokinetics`][circuits.slow.pharmacokinetics]), the NMDA
block carried from window to window ([`nmda_block`][circuits.slow.nmda_block]), extracellular
glutamate and adenosine ([`neurochemistry`][circuits.slow.neurochemistry]) and
BDNF/mTOR-dependent spine plasticity ([`plasticity`][circuits.slow.plasticity]).
"""
