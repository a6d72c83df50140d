"""Unit conversions shared by the model and its analysis (one home for each).

Examples
--------
>>> from ketamine_sim.circuits.units import SECONDS_PER_DAY
>>> 3.5 * SECONDS_PER_DAY  # a treatment course day 3.5, in s of protocol time
302400.0
"""

#: Seconds in a day (plasticity and treatment courses are counted in days).
SECONDS_PER_DAY = 86400.0
"""Seconds in a day (s/day): plasticity and treatment courses are counted in days."""
