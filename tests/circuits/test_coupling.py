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
from ketamine_sim.circuits.spiking.receptors import (
    ACCUMULATOR_EQUATIONS,
    block_equations,
    mg_unblocked_fraction,
    namespace,
)
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.config.settings import block_constants

#: The block's published constants as a configured run takes them (configs/config.yaml, block.*).
_DEFAULT = compose_config([])
BLOCK_CONSTANTS = block_constants(_DEFAULT)


def block_parameters(fit: str = _DEFAULT.block.fit, escape: bool = _DEFAULT.block.trapping_escape):
    """The block scheme as a configured run derives it (``block.fit``, ``block.trapping_escape``)."""
    return derive_block(BLOCK_CONSTANTS, fit, escape, mg_competition=_DEFAULT.block.mg_competition)


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
    """The window accumulators (ACCUMULATOR_EQUATIONS) give s_bar = s, u_bar with
    koff * u_bar = s * koff_v, the unbinding rate of the Brian2 block equations, and with Mg
    competition m_bar = s m(V)."""
    b2 = brian2_numpy
    params = derive_block(BLOCK_CONSTANTS, _DEFAULT.block.fit, True, mg_competition=True)
    lines = [
        line
        for line in ACCUMULATOR_EQUATIONS.splitlines()
        if line.strip().startswith(("dopen_time", "dopen_unbind_time", "dopen_access_time"))
    ]
    assert len(lines) == 3
    eqs = block_equations(SPECIES) + "v : volt (constant)\ns_nmda : 1 (constant)\n" + "\n".join(lines) + "\n"
    s = np.array([1.0, 0.3, 0.05, 0.0])
    v = np.array([-70.0, -40.0, -90.0, -20.0])
    group = b2.NeuronGroup(4, eqs, method="euler", dt=1 * b2.ms, namespace=namespace(wang2002_synapses, params))
    group.s_nmda, group.v = s, v * b2.mV
    b2.Network(group).run(0.5 * b2.second)
    act = ChannelActivity.from_accumulators(
        np.array(group.open_time_[:]), np.array(group.open_unbind_time_[:]), 0.5, np.array(group.open_access_time_[:])
    )
    np.testing.assert_allclose(act.open_fraction, s, rtol=1e-9)
    np.testing.assert_allclose(act.binding_fraction, s * mg_free(v, wang2002_synapses), rtol=1e-9)
    np.testing.assert_allclose(act.unbind_weight, s * np.exp((v + 70.0) / params.v_e_mV), rtol=1e-9)
    np.testing.assert_allclose(params.koff_per_s * act.unbind_weight, s * np.array(group.koff_v_[:]), rtol=1e-9)


# -- Mg competition (block.mg_competition): the drug binds only open channels free of Mg ------


def mg_free(v_mV, syn) -> np.ndarray:
    """The Mg-unblocked fraction m(V) (Jahr & Stevens 1990) at the circuit's Mg."""
    return mg_unblocked_fraction(np.asarray(v_mV, dtype=float), syn.mg_mM)


def test_mg_competition_raises_the_ic50_by_the_mg_unblocked_fraction(block_sim, wang2002_synapses):
    """With every channel open at -66 mV in 1 mM Mg, the drug reaches only the share m(V) of
    them free of Mg, so the concentration that blocks half is 1/m(V) = 17.8 times the 0-Mg one
    (without competition both concentrations block as in 0 Mg). The Brian2 step reaches it."""
    assert wang2002_synapses.mg_mM == 1.0
    plain, competing = (
        derive_block(BLOCK_CONSTANTS, "equilibrium", True, mg_competition=False),
        derive_block(BLOCK_CONSTANTS, "equilibrium", True, mg_competition=True),
    )
    v, k = -66.0, "s_ketamine"
    m = float(mg_free(v, wang2002_synapses))
    assert 1.0 / m == pytest.approx(17.76, abs=0.01)
    koff_v = plain.koff_per_s * math.exp((v + 70.0) / plain.v_e_mV)
    half_0mg = koff_v / plain.kon_per_uM_per_s(k)  # uM: half block with every channel open
    conditions = [dict(s=1.0, v_mV=v, c={k: c}) for c in (half_0mg, half_0mg / m)]
    without = block_sim(plain, conditions, duration_s=120.0, dt_ms=50.0)
    within = block_sim(competing, conditions, duration_s=120.0, dt_ms=50.0)
    np.testing.assert_allclose(without.final[k], [0.5, 1.0 / (1.0 + m)], rtol=1e-6)
    np.testing.assert_allclose(within.final[k], [m / (1.0 + m), 0.5], rtol=1e-6)


def test_with_mg_competition_the_slow_solver_follows_brian2(block_sim, wang2002_synapses):
    """The slow layer's exact step with the Mg-free open fraction m_bar = s m(V) follows the
    Brian2 block equations with block.mg_competition, for every CASE."""
    params = derive_block(BLOCK_CONSTANTS, "equilibrium", True, mg_competition=True)
    conditions = [dict(s=s, v_mV=v, c=c, b0=b0) for s, v, c, b0 in CASES]
    run = block_sim(params, conditions, duration_s=8.0, dt_ms=0.5, record_dt_ms=1000.0)
    worst = 0.0
    for i, (s, v, c, b0) in enumerate(CASES):
        frozen = activity(s, v, params)
        frozen = ChannelActivity(frozen.open_fraction, frozen.unbind_weight, s * mg_free([v], wang2002_synapses))
        for j, t in enumerate(run.t_s):
            exact = advance_block(as_arrays(b0), frozen, c, params, float(t))
            worst = max(worst, max(abs(exact[k][0] - run.traces[k][i, j]) for k in SPECIES))
    assert worst < 1e-3
    plain = block_sim(block_parameters(), conditions, duration_s=8.0, dt_ms=0.5)
    assert np.max(np.abs(plain.final_total - run.final_total)) > 0.1  # Mg slows the onset


def test_advance_block_through_equals_advance_block_step_by_step():
    """The stacked stepping (``block_steps``) is ``advance_block`` repeated, bit for bit:
    varying concentrations (every species), irregular and repeated steps, a zero step, and
    neurons with and without Mg-free access; and refuses time running backwards."""
    params = block_parameters()
    rng = np.random.default_rng(7)
    n = 50
    act = ChannelActivity(rng.random(n) * 0.6, rng.random(n) * 2.0, rng.random(n) * 0.3)
    time_s = np.array([0.0, 10.0, 20.0, 20.0, 30.0, 95.5, 400.0, 410.0, 3600.0])
    series = {k: rng.random(time_s.size) * 4.0 for k in SPECIES}
    b0 = {k: rng.random(n) * 0.15 for k in SPECIES}
    states = advance_block_through(b0, act, time_s, series, params)
    expected = b0
    for i in range(1, time_s.size):
        c_mid = {k: 0.5 * (float(series[k][i - 1]) + float(series[k][i])) for k in SPECIES}
        expected = advance_block(expected, act, c_mid, params, float(time_s[i] - time_s[i - 1]))
        assert list(states[i]) == list(SPECIES)
        for k in SPECIES:
            np.testing.assert_array_equal(states[i][k], expected[k])
    with pytest.raises(ValueError, match="step must be >= 0 s"):
        advance_block_through(b0, act, time_s[::-1], series, params)
