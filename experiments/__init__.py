"""ketamine-sim's protocols and command line: the Hydra app, the window runner, HDF5 results."""
