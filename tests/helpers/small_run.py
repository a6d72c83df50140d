"""One small simulated run shared by the export and figure tests (run once per session).

``experiment=iv_infusion`` on ``circuit=small`` with two windows (baseline and 30 min into
the infusion), one OpenMP thread, through the ``ketamine-sim`` command in its own process.
"""

from __future__ import annotations

import pytest

#: Overrides of the shared run.
OVERRIDES = (
    "experiment=iv_infusion",
    "circuit=small",
    "backend.threads=1",
    "output.figure=false",
    "iv_infusion.window_times_min=[-10,30]",
    "iv_infusion.end_min=60",
)

_cache: dict[str, object] = {}


@pytest.fixture
def small_run(ketamine_sim):
    """The loaded :class:`ketamine_sim.experiments.analysis.Run` of the shared small run (simulated on first use)."""
    from ketamine_sim.experiments.analysis import load_run

    if "run" not in _cache:
        result = ketamine_sim(*OVERRIDES)
        result.read()  # asserts success, with the output tail if not
        _cache["run"] = load_run(result.results)
    return _cache["run"]
