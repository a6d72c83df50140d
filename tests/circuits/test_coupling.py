"""The slow layer of the block (:mod:`ketamine_sim.circuits.slow.nmda_block`) against the real Brian2 equations.

``advance_block`` is the exact solution of the block ODE with s and V frozen; here it is
compared with a Brian2 integration (fixture ``block_sim``: the circuit's implicit step, dt = 0.5 ms)
of :func:`ketamine_sim.circuits.spiking.receptors.block_equations` with the same constant s and v. The step's error is
at most (lam dt / 2) e^-1 |dB| <= 2e-4 for the fastest rate here (lam ~ 1.7 /s), five times
below the 1e-3 tolerance (measured: 5e-5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.pharmacology import block_parameters as derive_block
from ketamine_sim.circuits.pharmacology import steady_state_block
from ketamine_sim.circuits.slow.nmda_block import ChannelActivity, advance_block, advance_block_through
from ketamine_sim.circuits.spiking.receptors import ACCUMULATOR_EQUATIONS, block_equations, namespace
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.config.settings import block_constants

#: The block's published constants as a configured run takes them (configs/config.yaml, block.*).
_DEFAULT = compose_config([])
BLOCK_CONSTANTS = block_constants(_DEFAULT)


def block_parameters(fit: str = _DEFAULT.block.fit, escape: bool = _DEFAULT.block.trapping_escape):
    """The block scheme as a configured run derives it (``block.fit``, ``block.trapping_escape``)."""
    return derive_block(BLOCK_CONSTANTS, fit, escape)


RACEMIC_1UM = {"s_ketamine": 0.5, "r_ketamine": 0.5}

#: (open fraction s, V in mV, concentrations uM, initial blocked fractions)
CASES = [
    (1.0, -70.0, RACEMIC_1UM, {}),  # onset, R1/R2 conditions
    (0.3, -50.0, {"s_ketamine": 2.0, "r_ketamine": 2.0, "s_norketamine": 3.0, "r_norketamine": 5.0, "hnk": 20.0}, {}),
    (0.05, -65.0, {"s_ketamine": 0.25, "r_ketamine": 0.25}, {"s_ketamine": 0.3, "r_ketamine": 0.2}),  # rarely open
    (0.0, -70.0, RACEMIC_1UM, {"s_ketamine": 0.4, "r_ketamine": 0.1}),  # closed: trapped, only escape
    (0.6, -20.0, {}, {"s_ketamine": 0.2, "r_ketamine": 0.3, "s_norketamine": 0.1}),  # washout, depolarised
    (1.0, -90.0, {"s_ketamine": 3.0}, {"r_ketamine": 0.5, "hnk": 0.1}),  # competition: S displaces R and HNK
]


def activity(s, v_mV, params, n=1):
    """Frozen activity of a neuron held at (s, V): s_bar = s, u_bar = s exp((V + 70)/V_e)."""
    return ChannelActivity(np.full(n, float(s)), np.full(n, s * math.exp((v_mV + 70.0) / params.v_e_mV)))


def as_arrays(block, n=1):
    return {k: np.full(n, float(block.get(k, 0.0))) for k in SPECIES}


@pytest.mark.slow
@pytest.mark.parametrize("fit", ["equilibrium", "kinetic"])
def test_advance_block_matches_brian2(block_sim, fit):
    params = block_parameters(fit)
    conditions = [dict(s=s, v_mV=v, c=c, b0=b0) for s, v, c, b0 in CASES]
    run = block_sim(params, conditions, duration_s=8.0, dt_ms=0.5, record_dt_ms=500.0)
    worst = 0.0
    for i, (s, v, c, b0) in enumerate(CASES):
        for j, t in enumerate(run.t_s):
            exact = advance_block(as_arrays(b0), activity(s, v, params), c, params, float(t))
            for k in SPECIES:
                worst = max(worst, abs(exact[k][0] - run.traces[k][i, j]))
    assert worst < 1e-3
    # the cases do move: the comparison is not between two unchanged states
    assert np.max(np.abs(run.total[:, -1] - run.total[:, 0])) > 0.3


def test_advance_block_is_vectorised_over_neurons():
    """All CASES that share concentrations in one call (arrays over neurons) equal one-by-one calls."""
    params = block_parameters()
    s = np.array([1.0, 0.3, 0.0, 0.6])
    v = np.array([-70.0, -40.0, -70.0, -10.0])
    act = ChannelActivity(s, s * np.exp((v + 70.0) / params.v_e_mV))
    b0 = {k: np.linspace(0.0, 0.15, 4) for k in SPECIES}
    together = advance_block(b0, act, RACEMIC_1UM, params, 3.0)
    for n in range(4):
        alone = advance_block(
            {k: b0[k][n : n + 1] for k in SPECIES},
            ChannelActivity(s[n : n + 1], act.unbind_weight[n : n + 1]),
            RACEMIC_1UM,
            params,
            3.0,
        )
        for k in SPECIES:
            assert together[k][n] == pytest.approx(alone[k][0], abs=1e-15)


def test_advance_block_zero_step_returns_input():
    params = block_parameters()
    for s, v, c, b0 in CASES:
        out = advance_block(as_arrays(b0), activity(s, v, params), c, params, 0.0)
        for k in SPECIES:
            np.testing.assert_array_equal(out[k], as_arrays(b0)[k])
    with pytest.raises(ValueError):
        advance_block(as_arrays({}), activity(1.0, -70.0, params), RACEMIC_1UM, params, -1.0)


def test_advance_block_through_constant_concentrations_equals_one_step():
    """Exact propagation composes: many (irregular) steps = one step, at every time point."""
    params = block_parameters()
    time_s = np.array([0.0, 0.5, 2.0, 2.1, 7.0, 30.0, 31.0, 120.0])
    for s, v, c, b0 in CASES:
        series = {k: np.full(time_s.size, c.get(k, 0.0)) for k in SPECIES}
        states = advance_block_through(as_arrays(b0), activity(s, v, params), time_s, series, params)
        assert len(states) == time_s.size
        for t, state in zip(time_s, states):
            one_step = advance_block(as_arrays(b0), activity(s, v, params), c, params, float(t))
            for k in SPECIES:
                np.testing.assert_allclose(state[k], one_step[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("escape", [True, False])
def test_long_step_reaches_steady_state_block(escape):
    params = block_parameters(escape=escape)
    for s, v, c, b0 in CASES:
        if s == 0.0 or not c:
            continue  # nothing binds: the steady state is B = 0 (or, without escape and s = 0, B(0))
        long = advance_block(as_arrays(b0), activity(s, v, params), c, params, 1e5)
        steady = steady_state_block(params, c, v_mV=v, open_fraction=s)
        for k in c:
            assert long[k][0] == pytest.approx(steady[k], abs=1e-9)
        assert sum(long[k][0] for k in SPECIES) < 1.0


def test_activity_from_brian2_accumulators_matches_block_rates(brian2_numpy, wang2002_synapses):
    """The window accumulators (ACCUMULATOR_EQUATIONS) give s_bar = s and u_bar with
    koff * u_bar = s * koff_v, the unbinding rate of the Brian2 block equations."""
    b2 = brian2_numpy
    params = block_parameters()
    lines = [
        line
        for line in ACCUMULATOR_EQUATIONS.splitlines()
        if line.strip().startswith(("dopen_time", "dopen_unbind_time"))
    ]
    assert len(lines) == 2
    eqs = block_equations(SPECIES) + "v : volt (constant)\ns_nmda : 1 (constant)\n" + "\n".join(lines) + "\n"
    s = np.array([1.0, 0.3, 0.05, 0.0])
    v = np.array([-70.0, -40.0, -90.0, -20.0])
    group = b2.NeuronGroup(4, eqs, method="euler", dt=1 * b2.ms, namespace=namespace(wang2002_synapses, params))
    group.s_nmda, group.v = s, v * b2.mV
    b2.Network(group).run(0.5 * b2.second)
    act = ChannelActivity.from_accumulators(np.array(group.open_time_[:]), np.array(group.open_unbind_time_[:]), 0.5)
    np.testing.assert_allclose(act.open_fraction, s, rtol=1e-9)
    np.testing.assert_allclose(act.unbind_weight, s * np.exp((v + 70.0) / params.v_e_mV), rtol=1e-9)
    np.testing.assert_allclose(params.koff_per_s * act.unbind_weight, s * np.array(group.koff_v_[:]), rtol=1e-9)
