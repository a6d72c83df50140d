"""Scoring against the literature: observables computed from runs, and the scorecard.

- `observables`: the registered readouts a ``seeds/`` record can name;
- `scorecard`: records, targets, the planned runs and the score table.
"""
