"""Scoring against the literature: observables computed from runs, and the scorecard.

- :mod:`.observables`: the registered readouts a ``seeds/`` record can name;
- :mod:`.scorecard`: records, targets, the planned runs and the score table.
"""
