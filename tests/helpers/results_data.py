"""Synthetic ``RunData`` for the results.h5 format tests: three populations and an empty one,
spike ties in time, a non-ASCII label and nested provenance (what the writer must keep)."""

from __future__ import annotations

import numpy as np

from ketamine_sim.experiments.results import RunData

POPS = ("pyr", "pv", "sst")


def make_data(seed: int = 0) -> RunData:
    rng = np.random.default_rng(seed)
    spikes = {}
    for i, pop in enumerate(POPS):
        n = 50 * (i + 1)
        t = np.sort(rng.uniform(0.0, 3000.0, n))
        t[1] = t[0]  # a tie in time
        ids = rng.integers(0, 20, n).astype(np.uint64)
        order = np.lexsort((ids, t))  # the file's order: by time, ties by node id
        spikes[pop] = (t[order], ids[order])
    spikes["empty"] = (np.array([], np.float64), np.array([], np.uint64))
    windows = {
        "start_s": np.array([0.0, 1.0, 2.0]),
        "duration_s": np.array([0.5, 0.5, 1.0]),
        "label": np.array(["baseline", "10 min", "24 h é"]),
        "brain_s_ketamine_uM": np.array([0.0, 1.3, 0.01]),
    }
    timeline = {
        "time_s": np.linspace(-600.0, 86400.0, 11),
        "plasma_s_ketamine_uM": rng.uniform(0, 2, 11),
        "nmda_blocked_pyr": rng.uniform(0, 1, 11),
    }
    readouts = {pop: {"rate": rng.uniform(0, 20, 3), "cv": rng.uniform(0, 2, 3)} for pop in POPS}
    glu, gaba = -rng.uniform(100, 200, (3, 40)), rng.uniform(50, 100, (3, 40))
    proxy = glu - 1.65 * gaba
    proxy[:, :6] = np.nan
    field_potential = {"time_ms": 0.5 + np.arange(40.0), "i_glu": glu, "i_gaba": gaba, "proxy": proxy}
    return RunData(
        spikes=spikes,
        windows=windows,
        window_units={"start_s": "s", "duration_s": "s", "label": "", "brain_s_ketamine_uM": "uM"},
        timeline=timeline,
        timeline_units={"time_s": "s", "plasma_s_ketamine_uM": "uM", "nmda_blocked_pyr": ""},
        readouts=readouts,
        readout_units={"rate": "Hz", "cv": ""},
        config_yaml="circuit:\n  n_pyr: 80\ndrug:\n  name: s_ketamine  # é\n",
        provenance={
            "seed": 42,
            "git_commit": "abc123",
            "dirty": False,
            "dt_ms": 0.1,
            "empty": "",
            "wall_time_s": {"build": 3.1, "run": 12.5},
            "versions": {"brian2": "2.9.0"},
        },
        field_potential=field_potential,
    )
