"""ketamine-sim: a spiking-circuit simulator of ketamine's rapid antidepressant action.

The installed package holds the model (`ketamine_sim.circuits`: equations with units and a
source per parameter, no I/O), everything that runs, stores, analyses and scores it
(`ketamine_sim.experiments`; the Python API is `ketamine_sim.experiments.api`), the configs
(`configs/`, Hydra) and the published findings (`seeds/`). In the repository these four are
the top-level folders; this folder links them under the project's own name, so that a
checkout and an installed wheel import the same names and a user's own ``experiments``
package never collides with them.

Examples
--------
>>> from ketamine_sim.experiments.api import compose_config
>>> compose_config(["circuit=small"]).circuit.name
'small'
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ketamine-sim")
except PackageNotFoundError:  # a checkout on the path without an install
    __version__ = "0+unknown"
