"""Back-to-back windows with the network state carried continue one another (Brian2 runtime)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.network import initial_values
from ketamine_sim.circuits.spiking.window import NETWORK_STATE_VARIABLES
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation.engine import RuntimeEngine

TINY = ["circuit=small", "circuit.counts.pyr=16", "circuit.counts.pv=4", "circuit.counts.sst=4", "backend=numpy"]


def _circuit(window_s: float):
    cfg = compose_config([*TINY, f"circuit.window_s={window_s}", "circuit.transient_s=0.01"])
    drive = C.circuit_drive(cfg)
    quiet = replace(drive, background_weight_nS={pop: 0.0 for pop in POPULATIONS})  # no noise reaches a cell
    return C.circuit_structure(cfg), quiet


def _state(structure) -> dict[str, dict[str, np.ndarray]]:
    """Synaptic activity under way, below threshold: it decays and moves V without a spike."""
    rng = np.random.default_rng(3)
    state = {}
    for pop in POPULATIONS:
        n = structure.counts[pop]
        state[pop] = {
            "v": 1e-3 * rng.uniform(-70.0, -62.0, n),
            "g_ampa": 1e-9 * rng.uniform(0.5, 2.0, n),
            "g_pv": 1e-9 * rng.uniform(0.5, 2.0, n),
            "g_sst": 1e-9 * rng.uniform(0.5, 2.0, n),
            "x_nmda": rng.uniform(0.2, 0.6, n),
            "s_nmda": rng.uniform(0.05, 0.2, n),
        }
    return state


def _run(structure, drive, state, concentrations):
    values = initial_values(structure, drive, concentrations, None, np.random.default_rng(0), network_state=state)
    return RuntimeEngine(structure, "numpy").run_window(values, connect_seed=1, noise_seed=2)


@pytest.mark.slow
def test_two_carried_windows_of_t_are_one_window_of_2t():
    """Without noise and without spikes the network is deterministic: two 40-ms windows, the
    second started from the first's final state, end exactly where one 80-ms window ends
    (membrane, conductances, NMDA gating; drug-free, so no block to carry)."""
    short, drive = _circuit(0.04)
    long, _ = _circuit(0.08)
    first = _run(short, drive, _state(short), {})
    carried = {pop: {name: first.state[pop][name] for name in NETWORK_STATE_VARIABLES} for pop in POPULATIONS}
    second = _run(short, drive, carried, {})
    whole = _run(long, drive, _state(long), {})
    assert all(len(whole.spikes[pop][0]) == 0 for pop in POPULATIONS)  # the premise: no spike
    for pop in POPULATIONS:
        for name in NETWORK_STATE_VARIABLES:
            np.testing.assert_allclose(
                second.state[pop][name], whole.state[pop][name], rtol=1e-12, atol=0, err_msg=f"{pop}.{name}"
            )
        # and the state did change over the window (the test can fail)
        assert np.all(whole.state[pop]["g_ampa"] < 1e-6 * first.state[pop]["g_ampa"])  # AMPA decays (2 ms)
        assert not np.allclose(first.state[pop]["v"], whole.state[pop]["v"], rtol=1e-9, atol=0)
    # the field currents continue too: the second window's samples are the long one's second half
    half = len(whole.field["i_gaba"]) // 2
    np.testing.assert_allclose(second.field["i_gaba"], whole.field["i_gaba"][half:], rtol=1e-9)
