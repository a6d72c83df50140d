"""Unit conversions shared by the model and its analysis (one home for each)."""

#: Seconds in a day (plasticity and treatment courses are counted in days).
SECONDS_PER_DAY = 86400.0
