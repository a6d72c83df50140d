"""The BDNF/mTOR chain and the spine sites against their analytic solutions, at the constants
a configured run uses (the default config: configs/config.yaml, state=healthy and
state=chronic_stress)."""

import dataclasses

import numpy as np
import pytest

from ketamine_sim.circuits.slow.plasticity import (
    PlasticityState,
    activity_drive,
    advance,
    outcome,
    steady_occupancy,
    update_sites,
)
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config

_SETTINGS = C.plasticity(compose_config([]))
P = _SETTINGS.params
HEALTHY = _SETTINGS.state
STRESS = C.brain_state(compose_config(["state=chronic_stress"]))
DAY = 86400.0


def test_the_configured_states_are_the_reference_and_the_stressed_one():
    assert (HEALTHY.name, HEALTHY.bdnf_tone, HEALTHY.elimination_scale, HEALTHY.ee_weight_scale) == (
        "healthy",
        1.0,
        1.0,
        1.0,
    )
    assert STRESS.name == "chronic_stress" and STRESS.bdnf_tone < 1 < STRESS.elimination_scale


def test_healthy_rest_fills_the_configured_occupancy():
    assert steady_occupancy(P, HEALTHY) == pytest.approx(P.occupancy)
    a0, b0 = P.formation_per_day, P.elimination_per_day
    assert a0 / (a0 + b0) == pytest.approx(0.8)


def test_stress_rest_has_fewer_spines_by_the_formula():
    a, b = STRESS.bdnf_tone * P.formation_per_day, STRESS.elimination_scale * P.elimination_per_day
    assert steady_occupancy(P, STRESS) == pytest.approx(a / (a + b))
    assert steady_occupancy(P, STRESS) < P.occupancy


@pytest.mark.parametrize("state", [HEALTHY, STRESS])
def test_rest_is_a_fixed_point(state):
    s = PlasticityState.at_rest(50, P, state)
    before = s.copy()
    for _ in range(100):
        advance(s, np.zeros(50), 3600.0, P, state)
    for name in ("bdnf", "mtor", "protein", "occupancy"):
        np.testing.assert_allclose(getattr(s, name), getattr(before, name), rtol=1e-12)
    assert outcome(s, P, state) == pytest.approx(steady_occupancy(P, state) / P.occupancy * state.ee_weight_scale)


def test_bdnf_relaxes_exponentially_with_its_time_constant():
    s = PlasticityState.at_rest(1, P, HEALTHY)
    u = 0.4
    t = 0.0
    for _ in range(30):  # step size does not matter for a held drive: the update is exact
        advance(s, np.array([u]), 120.0, P, HEALTHY)
        t += 120.0
    target = 1.0 + P.bdnf_gain * u
    expected = target + (1.0 - target) * np.exp(-t / (3600.0 * P.bdnf_tau_h))
    assert s.bdnf[0] == pytest.approx(expected, rel=1e-12)


def test_site_occupancy_follows_the_two_state_solution():
    """Formation held by a fixed mTOR level: occupancy relaxes to a / (a + b) at rate a + b."""
    s = PlasticityState.at_rest(1, P, HEALTHY)
    s.start_interval()
    gate = 0.5  # mTOR -> 0.5 after a few hours; formation halves
    for _ in range(24 * 10):
        advance(s, np.zeros(1), 3600.0, P, HEALTHY, mtor_gate=gate)
    a, b = P.formation_per_day * 0.5, P.elimination_per_day
    assert s.mtor[0] == pytest.approx(0.5, rel=1e-6)
    # after 10 days the occupancy is within a percent of the analytic curve started at rest
    expected = a / (a + b) + (P.occupancy - a / (a + b)) * np.exp(-(a + b) * 10)
    assert s.occupancy[0] == pytest.approx(expected, rel=0.01)
    # transition probabilities: P(present -> present) - P(empty -> present) = survival
    assert s.survival[0] == pytest.approx(np.exp(-(a + b) * 10), rel=0.02)


def test_drawn_sites_match_the_transition_probabilities():
    rng = np.random.default_rng(0)
    n_cells, per_cell = 4, 20000
    s = PlasticityState.at_rest(n_cells, P, HEALTHY)
    s.start_interval()
    advance(s, np.full(n_cells, 2.0), 2 * DAY, P, HEALTHY)  # strong drive for two days
    post = np.repeat(np.arange(n_cells), per_cell)
    present = rng.random(len(post)) < 0.8
    new, formed, eliminated = update_sites(present, post, s, rng)
    stay = s.formed[0] + s.survival[0]
    assert np.mean(new[present]) == pytest.approx(stay, abs=4 * np.sqrt(stay * (1 - stay) / present.sum()))
    p_form = s.formed[0]
    assert np.mean(new[~present]) == pytest.approx(p_form, abs=4 * np.sqrt(p_form * (1 - p_form) / (~present).sum()))
    assert formed == np.count_nonzero(new & ~present) and eliminated == np.count_nonzero(present & ~new)


def test_drive_raises_formation_but_not_elimination():
    """S2: the chain acts on formation only. Imaged six minutes apart (so that hardly any site
    is lost and regained in between), the fraction of spines lost per day is b with or
    without drive, while the fraction of empty sites gaining one rises."""
    rest, driven = (PlasticityState.at_rest(1, P, STRESS) for _ in range(2))
    for _ in range(12):  # six hours of drive builds up BDNF, mTOR and protein
        advance(driven, np.array([1.0]), 1800.0, P, STRESS)
    rates = {}
    for name, s, u in (("rest", rest, 0.0), ("driven", driven, 1.0)):
        s.start_interval()
        advance(s, np.array([u]), 360.0, P, STRESS)
        lost = 1.0 - (s.formed[0] + s.survival[0])
        rates[name] = (s.formed[0] * 240.0, lost * 240.0)  # per day
    b = P.elimination_per_day * STRESS.elimination_scale
    assert rates["driven"][0] > 2 * rates["rest"][0]
    for _, eliminated in rates.values():
        assert eliminated == pytest.approx(b, rel=0.01)


def test_rapamycin_gate_abolishes_protein_and_extra_spines():
    free, blocked = (PlasticityState.at_rest(1, P, STRESS) for _ in range(2))
    for s, gate in ((free, 1.0), (blocked, 0.0)):
        for _ in range(48):
            advance(s, np.array([1.0]), 1800.0, P, STRESS, mtor_gate=gate)
    assert free.protein[0] > 0.05 and blocked.protein[0] == 0.0
    assert free.occupancy[0] > steady_occupancy(P, STRESS)
    assert blocked.occupancy[0] < steady_occupancy(P, STRESS)  # tonic formation stopped too


def test_formation_block_keeps_potentiation_but_no_extra_spines():
    s = PlasticityState.at_rest(1, P, STRESS)
    for _ in range(48):
        advance(s, np.array([1.0]), 1800.0, P, STRESS, formation_blocked=True)
    assert s.protein[0] > 0.05
    assert s.occupancy[0] == pytest.approx(steady_occupancy(P, STRESS), rel=1e-9)


def test_activity_drive_has_a_threshold():
    p = dataclasses.replace(P, activity_threshold=0.1)
    np.testing.assert_allclose(activity_drive(np.array([1.0, 1.05, 1.1, 1.5]), 1.0, p), [0, 0, 0, 0.4], atol=1e-12)


@pytest.mark.parametrize("field,value", [("bdnf_tau_h", 0.0), ("occupancy", 1.0), ("formation_gain", -1.0)])
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(P, **{field: value})


def test_set_point_absorbs_lasting_activity_but_not_a_burst():
    """A change of activity drives BDNF at first; held for days, the set point catches up
    (tau_h) and the drive ends, so the chain cannot feed on its own stronger synapses."""
    from ketamine_sim.circuits.slow.plasticity import drive_and_adapt

    s = PlasticityState.at_rest(1, P, STRESS)
    first = drive_and_adapt(s, 1.5, 600.0, P)
    assert first[0] == pytest.approx(0.5 - P.activity_threshold)
    for _ in range(int(4 * 24 * 6)):  # four days in 10-min steps
        last = drive_and_adapt(s, 1.5, 600.0, P)
    assert last[0] == 0.0
    expected = 1.5 + (1.0 - 1.5) * np.exp(-(4 * 24 + 1 / 6) / P.setpoint_tau_h)
    assert s.setpoint[0] == pytest.approx(expected, rel=1e-9)
