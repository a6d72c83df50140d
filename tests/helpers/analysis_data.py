"""A tiny synthetic run for the analysis, export and figure tests: three windows, two
populations (``N`` cells each), spike times placed by hand at window edges.

Window 0 is [0, 1) s, window 1 [1, 3) s, window 2 [3, 3.5) s; ``make_data(seed, drug, a1)``
varies the random readouts, the drug and the A1-antagonist switch written into its config.
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.experiments.results import RunData

POPS = ("pyr", "pv")
N = {"pyr": 3, "pv": 2}


def config_yaml(seed=1, drug="esketamine", a1=False):
    return (
        f"seed: {seed}\n"
        f"circuit:\n  name: small\n  counts: {{pyr: {N['pyr']}, pv: {N['pv']}}}\n"
        f"drug:\n  name: {drug}\n"
        "experiment:\n  name: iv_infusion\n"
        f"manipulation:\n  a1_antagonist: {str(a1).lower()}\n  ampa_block_fraction: 0.0\n"
    )


def make_data(seed=1, drug="esketamine", a1=False) -> RunData:
    rng = np.random.default_rng(seed)
    # window 0: [0, 1) s, window 1: [1, 3) s, window 2: [3, 3.5) s
    # pyr 0: 5 spikes in w0, 4 in w1; pyr 1: none in w0, 6 in w1 (one exactly at the w1 start); pyr 2 silent
    t0 = [100.0, 300.0, 500.0, 700.0, 999.9] + [1200.0, 1500.0, 2000.0, 2900.0]
    t1 = [1000.0, 1100.0, 1300.0, 1700.0, 2500.0, 2999.0] + [3100.0]
    pyr_t = np.array(t0 + t1)
    pyr_ids = np.array([0] * len(t0) + [1] * len(t1), np.uint64)
    spikes = {"pyr": (pyr_t, pyr_ids), "pv": (np.array([50.0, 1050.0, 3050.0]), np.array([0, 1, 1], np.uint64))}
    windows = {
        "start_s": np.array([0.0, 1.0, 3.0]),
        "duration_s": np.array([1.0, 2.0, 0.5]),
        "label": np.array(["baseline", "10 min", "24 h"]),
        "brain_s_ketamine_uM": np.array([0.0, 1.3, 0.01]),
    }
    readouts = {pop: {"rate": rng.uniform(0, 20, 3), "cv_isi": rng.uniform(0, 2, 3)} for pop in POPS}
    readouts["pyr"]["release_rate"] = rng.uniform(0, 1, 3)  # pyr only -> NaN for pv
    readouts["pyr"]["train_release"] = rng.uniform(0, 1, (3, 4))  # 2-D -> left out of the frame
    return RunData(
        spikes=spikes,
        windows=windows,
        window_units={"start_s": "s", "duration_s": "s", "label": "", "brain_s_ketamine_uM": "uM"},
        timeline={
            "time_s": np.array([0.0, 1.0, 2.0, 3.5]),
            "plasma_s_ketamine_uM": rng.uniform(0, 2, 4),
            "nmda_blocked_pyr": rng.uniform(0, 1, 4),
        },
        timeline_units={"time_s": "s", "plasma_s_ketamine_uM": "uM", "nmda_blocked_pyr": ""},
        readouts=readouts,
        readout_units={"rate": "Hz", "cv_isi": "1", "release_rate": "1/s", "train_release": "1"},
        config_yaml=config_yaml(seed, drug, a1),
        provenance={"seed": seed, "git_commit": "abc"},
    )
