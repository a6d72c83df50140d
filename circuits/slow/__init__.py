"""The slow side of the model: what changes between spiking windows (numpy solvers).

Pharmacokinetics by route (:mod:`.pharmacokinetics`), the NMDA block carried from window to
window (:mod:`.nmda_block`), extracellular glutamate and adenosine (:mod:`.neurochemistry`) and
BDNF/mTOR-dependent spine plasticity (:mod:`.plasticity`).
"""
