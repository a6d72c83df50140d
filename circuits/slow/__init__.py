"""The slow side of the model: what changes between spiking windows (numpy solvers).

Pharmacokinetics by route ([`pharmacokinetics`][ketamine_sim.circuits.slow.pharmacokinetics]), the NMDA
block carried from window to window ([`nmda_block`][ketamine_sim.circuits.slow.nmda_block]), extracellular
glutamate and adenosine ([`neurochemistry`][ketamine_sim.circuits.slow.neurochemistry]) and
BDNF/mTOR-dependent spine plasticity ([`plasticity`][ketamine_sim.circuits.slow.plasticity]).
"""
