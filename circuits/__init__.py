"""ketamine-sim's model library: cells, receptors, pharmacology, pharmacokinetics, the network.

Pure model code: no Hydra and no file I/O (see ``experiments`` for those).
"""
