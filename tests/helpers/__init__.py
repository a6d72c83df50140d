"""Shared test code: fixtures (registered by ``tests/conftest.py`` through ``pytest_plugins``)
and synthetic data. Test modules import from here, never from one another.

- :mod:`helpers.cli`: the ``ketamine-sim`` command in its own process, and the session's build cache.
- :mod:`helpers.small_run`: one small simulated run shared by the export and figure tests.
- :mod:`helpers.analysis_data`, :mod:`helpers.results_data`: synthetic ``RunData`` for the
  analysis, export, figure and file-format tests.
- :mod:`helpers.slow_worker`: a stand-in scorecard run that sleeps (imported by worker processes).
"""
