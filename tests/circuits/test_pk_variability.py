"""One person's pharmacokinetics from a population model's spread (``pk.iiv``,
circuits/slow/pk_variability.py): the draws have the published spread, each draw changes the
constants the source's parameter enters, and the typical person is the model itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import Drug
from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent, clearance_l_per_min, simulate
from ketamine_sim.circuits.slow.pk_variability import IIV_PARAMETERS, check_iiv, draw_etas, individual, omega
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import ConfigError

CFG = C.compose_config(["pk=perez_ruixo2021"])
TYPICAL = C.pk_parameters(CFG)
IIV = C.pk_variability(CFG)
ESKETAMINE = Drug("esketamine", {"s_ketamine": 1.0})
BW = 74.0


def test_the_typical_person_is_the_model():
    t = np.arange(0.0, 6 * 3600.0, 60.0)
    events = [DosingEvent("intranasal", 56 / BW, 0.0), DosingEvent("oral", 84 / BW, 600.0)]
    a = simulate(ESKETAMINE, events, BW, t, TYPICAL)
    b = simulate(ESKETAMINE, events, BW, t, individual(TYPICAL, {name: 0.0 for name in IIV}))
    np.testing.assert_array_equal(a.plasma_uM["s_ketamine"], b.plasma_uM["s_ketamine"])
    np.testing.assert_array_equal(a.brain_uM["s_norketamine"], b.brain_uM["s_norketamine"])


def test_draws_have_the_published_spread():
    # Table 3: CV -> omega = sqrt(ln(1 + CV^2)); FRn: 0.708 on the logit scale.
    rng = np.random.default_rng(7)
    etas = [draw_etas(IIV, rng) for _ in range(20000)]
    for name, spread in IIV.items():
        values = np.array([e[name] for e in etas])
        assert values.std() == pytest.approx(omega(spread, name), rel=0.02), name
        assert abs(values.mean()) < 4 * omega(spread, name) / math.sqrt(len(values)), name
    cv = np.array([math.exp(e["central_volume"]) for e in etas])
    assert cv.std() / cv.mean() == pytest.approx(0.275, rel=0.05)  # the reported CV of Vc


def test_the_same_generator_state_gives_the_same_person():
    assert draw_etas(IIV, np.random.default_rng(3)) == draw_etas(IIV, np.random.default_rng(3))
    assert draw_etas(IIV, np.random.default_rng(3)) != draw_etas(IIV, np.random.default_rng(4))


def test_central_volume_sets_the_level_after_a_bolus():
    # Right after an IV bolus the whole dose is in V1: C(0) = dose / V1, V1 = Vc exp(eta).
    eta = 0.3
    person = individual(TYPICAL, {"central_volume": eta})
    t = np.array([0.0])
    c0 = simulate(ESKETAMINE, [DosingEvent("iv_bolus", 1.0, 0.0)], BW, t, person).plasma_uM["s_ketamine"][0]
    c0_typical = simulate(ESKETAMINE, [DosingEvent("iv_bolus", 1.0, 0.0)], BW, t, TYPICAL).plasma_uM["s_ketamine"][0]
    assert c0_typical / c0 == pytest.approx(math.exp(eta), rel=1e-12)


def test_clearance_follows_the_well_stirred_liver_of_the_drawn_constants():
    # CL = Qh E, E = Vh (kel + kmet) / (Qh + Vh (kel + kmet)), with Table 3's Qh 151 L/h, Vh 101 L,
    # kel 1.11 /h, kmet 2.77 /h scaled by the draws; the AUC after IV is dose / CL.
    etas = {"hepatic_blood_flow": 0.2, "liver_volume": -0.3, "liver_k_other": 0.5, "central_volume": 0.1}
    qh, vh, kel, kmet = 151.0 * math.exp(0.2), 101.0 * math.exp(-0.3), 1.11 * math.exp(0.5), 2.77
    expected_l_per_h = qh * vh * (kel + kmet) / (qh + vh * (kel + kmet))
    person = individual(TYPICAL, etas)
    assert 60.0 * clearance_l_per_min(person, BW) == pytest.approx(expected_l_per_h, rel=1e-4)
    t = np.concatenate([np.arange(0.0, 7200.0, 2.0), np.arange(7200.0, 240 * 3600.0 + 1, 300.0)])
    c = simulate(ESKETAMINE, [DosingEvent("iv_bolus", 28 / BW, 0.0)], BW, t, person).plasma_uM["s_ketamine"]
    auc_mg_h_per_l = float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t))) / 3600.0 * 237.73 / 1000.0
    assert auc_mg_h_per_l == pytest.approx(28.0 / expected_l_per_h, rel=0.003)


def test_the_nasal_fraction_varies_on_the_logit_scale():
    person = individual(TYPICAL, {"nasal_fraction": 1.0})
    logit = math.log(0.54 / 0.46) + 1.0
    assert person.first_pass.nasal_fraction == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-12)
    assert 0 < individual(TYPICAL, {"nasal_fraction": -20.0}).first_pass.nasal_fraction < 1e-8


def test_every_parameter_is_mapped():
    # Each parameter of IIV_PARAMETERS that the model can take changes its constants.
    for name in IIV_PARAMETERS:
        if name == "clearance":
            continue  # a model without a liver (below)
        assert individual(TYPICAL, {name: 0.5}) != TYPICAL, name
    kamp = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    assert individual(kamp, {"clearance": 0.5}).k10_per_min == pytest.approx(kamp.k10_per_min * math.exp(0.5))
    # k10 = CL / V1: a larger central volume alone leaves the clearance as it was
    bigger = individual(kamp, {"central_volume": 0.3})
    assert clearance_l_per_min(bigger, BW) == pytest.approx(clearance_l_per_min(kamp, BW), rel=1e-12)


@pytest.mark.parametrize(
    "iiv, message",
    [
        ({"spleen_volume": 0.1}, "iiv.spleen_volume: unknown parameter; allowed: central_volume"),
        ({"clearance": 0.1}, "iiv.clearance: pk=perez_ruixo2021 clears in its liver"),
        ({"central_volume": -0.1}, "iiv.central_volume: must be a finite number >= 0"),
    ],
)
def test_check_iiv_refuses(iiv, message):
    with pytest.raises(ValueError, match=message):
        check_iiv(iiv, TYPICAL)


def test_a_spread_the_model_cannot_take_is_a_config_error():
    from ketamine_sim.experiments.config.compose import check_overrides

    with pytest.raises(ConfigError, match=r"pk.iiv.liver_volume: not a key of the chosen options.*pk=perez_ruixo2021"):
        check_overrides(["pk=kamp2020", "pk.iiv.liver_volume=0.3"], validate=C.validate)
    with pytest.raises(ConfigError, match="pk.iiv.central_volume: must be >= 0"):
        C.pk_variability(C.compose_config(["pk=perez_ruixo2021", "pk.iiv.central_volume=-1"]))
    assert C.pk_variability(C.compose_config(["pk=domino1984"])) == {}
