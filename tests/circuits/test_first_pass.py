"""The first-pass model (``pk=perez_ruixo2021``) against its source and the esketamine label.

Perez-Ruixo 2021 (Clin Pharmacokinet 60:501) Table 3 sets the model's constants; its Table 4
gives the exposure they imply for typical people (Caucasian, 18-60 years) after 28, 56 and 84 mg
of nasal esketamine, and its abstract the absolute bioavailability, clearance and volume. The
label of the nasal spray (SPRAVATO prescribing information, section 12.3) gives the time of
the plasma peak and the terminal half-life.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, Drug
from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent, clearance_l_per_min, simulate, terminal_half_life_h
from ketamine_sim.experiments import config as C

PARAMS = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"]))
ESKETAMINE = Drug("esketamine", {"s_ketamine": 1.0})
BODY_WEIGHT_KG = 74.0  # the source's median: its volumes do not scale with weight
T_24H_S = np.arange(0.0, 24 * 3600.0 + 1, 10.0)
#: Perez-Ruixo 2021 Table 4, Caucasian 18-60 years: Cmax (ng/mL) and AUC0-24 (ng h/mL).
TABLE_4 = {
    28: {"esketamine": (43.8, 147.3), "noresketamine": (59.1, 274.4)},
    56: {"esketamine": (72.5, 254.7), "noresketamine": (119.7, 516.3)},
    84: {"esketamine": (101.0, 362.2), "noresketamine": (180.0, 758.0)},
}


def nasal(dose_mg: float, t_s: np.ndarray = T_24H_S, params=PARAMS):
    event = DosingEvent("intranasal", dose_mg / BODY_WEIGHT_KG, 0.0)
    return simulate(ESKETAMINE, [event], BODY_WEIGHT_KG, t_s, params)


def ng_per_ml(result, species: str) -> np.ndarray:
    return result.plasma_uM[species] * MOLAR_MASS_G_PER_MOL[species]


def auc_h(t_s: np.ndarray, c: np.ndarray) -> float:
    return float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t_s)) / 3600.0)


@pytest.mark.parametrize("dose_mg", sorted(TABLE_4))
def test_esketamine_exposure_is_table_4s(dose_mg):
    cmax, auc = TABLE_4[dose_mg]["esketamine"]
    c = ng_per_ml(nasal(dose_mg), "s_ketamine")
    assert c.max() == pytest.approx(cmax, rel=0.03)
    assert auc_h(T_24H_S, c) == pytest.approx(auc, rel=0.03)


@pytest.mark.parametrize("dose_mg", sorted(TABLE_4))
def test_noresketamine_peak_is_table_4s(dose_mg):
    # The apparent noresketamine volumes of Table 3 read literally give its Cmax within 10%.
    cmax, _ = TABLE_4[dose_mg]["noresketamine"]
    assert ng_per_ml(nasal(dose_mg), "s_norketamine").max() == pytest.approx(cmax, rel=0.10)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "Table 3's apparent noresketamine volumes, read literally, over-predict Table 4's noresketamine "
        "AUC0-24 by 1.33-1.36 (the fraction of esketamine metabolism that forms circulating noresketamine "
        "is not identified in the source)"
    ),
)
@pytest.mark.parametrize("dose_mg", sorted(TABLE_4))
def test_noresketamine_auc_is_table_4s(dose_mg):
    _, auc = TABLE_4[dose_mg]["noresketamine"]
    assert auc_h(T_24H_S, ng_per_ml(nasal(dose_mg), "s_norketamine")) == pytest.approx(auc, rel=0.10)


@pytest.mark.parametrize("dose_mg, published", [(56, 0.54), (84, 0.51)])
def test_nasal_bioavailability_is_the_abstracts(dose_mg, published):
    assert PARAMS.first_pass.bioavailability("intranasal", dose_mg) == pytest.approx(published, abs=0.006)


@pytest.mark.parametrize("route, dose_mg", [("intranasal", 28), ("intranasal", 84), ("oral", 84)])
def test_first_pass_bioavailability_is_the_auc_ratio(route, dose_mg):
    # Mass balance: the AUC of a route over that of the same dose IV is its analytic F.
    t = np.concatenate([np.arange(0.0, 7200.0, 5.0), np.arange(7200.0, 240 * 3600.0 + 1, 300.0)])

    def auc_of(event):
        return auc_h(t, ng_per_ml(simulate(ESKETAMINE, [event], BODY_WEIGHT_KG, t, PARAMS), "s_ketamine"))

    dose = dose_mg / BODY_WEIGHT_KG
    ratio = auc_of(DosingEvent(route, dose, 0.0)) / auc_of(DosingEvent("iv_bolus", dose, 0.0))
    assert ratio == pytest.approx(PARAMS.first_pass.bioavailability(route, dose_mg), rel=0.005)


def test_clearance_and_volume_are_the_abstracts():
    # Abstract: esketamine volume at steady state 752 L and clearance 114 L/h; the well-stirred
    # liver of Table 3 gives Qh E = 151 L/h x 0.722 = 109 L/h.
    assert 60.0 * clearance_l_per_min(PARAMS, BODY_WEIGHT_KG) == pytest.approx(114.0, rel=0.05)
    v1 = PARAMS.volume_l(PARAMS.v1_l_per_kg, BODY_WEIGHT_KG)
    vss = v1 * (1 + PARAMS.k12_per_min / PARAMS.k21_per_min + PARAMS.k13_per_min / PARAMS.k31_per_min)
    assert vss == pytest.approx(752.0, rel=0.005)


def test_volumes_do_not_scale_with_weight():
    # Perez-Ruixo 2021 found no effect of weight: the same flat dose gives the same levels.
    t = np.array([0.0, 1800.0, 7200.0])
    light = simulate(ESKETAMINE, [DosingEvent("intranasal", 56 / 50.0, 0.0)], 50.0, t, PARAMS)
    heavy = simulate(ESKETAMINE, [DosingEvent("intranasal", 56 / 120.0, 0.0)], 120.0, t, PARAMS)
    np.testing.assert_allclose(light.plasma_uM["s_ketamine"], heavy.plasma_uM["s_ketamine"], rtol=1e-12)


@pytest.mark.parametrize("dose_mg", [56, 84])
def test_nasal_peak_time_is_the_labels(dose_mg):
    # SPRAVATO label (12.3): plasma esketamine peaks 20-40 min after the last spray.
    c = ng_per_ml(nasal(dose_mg), "s_ketamine")
    assert 20.0 <= T_24H_S[c.argmax()] / 60.0 <= 40.0


def test_terminal_half_life_is_the_labels():
    # SPRAVATO label (12.3): mean terminal half-life 7-12 h after 56 or 84 mg.
    assert 7.0 <= terminal_half_life_h(PARAMS, "s_ketamine") <= 12.0


def test_metabolite_exposure_follows_the_first_pass():
    # Swallowed drug passes the liver first: norketamine/ketamine exposure oral > nasal > IV.
    t = np.concatenate([np.arange(0.0, 7200.0, 5.0), np.arange(7200.0, 96 * 3600.0 + 1, 300.0)])
    ratios = {}
    for route in ("iv_bolus", "intranasal", "oral"):
        r = simulate(ESKETAMINE, [DosingEvent(route, 56 / BODY_WEIGHT_KG, 0.0)], BODY_WEIGHT_KG, t, PARAMS)
        ratios[route] = auc_h(t, ng_per_ml(r, "s_norketamine")) / auc_h(t, ng_per_ml(r, "s_ketamine"))
    assert ratios["oral"] > 2 * ratios["intranasal"] > 2 * ratios["iv_bolus"]


def test_a_clearance_ratio_beyond_the_liver_is_refused():
    with pytest.raises(ValueError, match="hepatic blood flow"):
        dataclasses.replace(PARAMS, r_ketamine_clearance_ratio=1.5)


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        (
            ["pk.first_pass.liver_k_other_per_min=0", "pk.first_pass.liver_k_norketamine_per_min=0"],
            "pk.first_pass.liver_k_other_per_min",
            "must sum to > 0",
        ),
        (["pk.first_pass.k_central_liver_per_min=0"], "pk.first_pass.k_central_liver_per_min", "must be > 0"),
        (["pk.first_pass=null"], "pk.bioavailability.intranasal", "is null, which only a model with pk.first_pass"),
        (["pk.bioavailability.oral=0.2"], "pk.bioavailability.oral", "must be null: pk.first_pass describes"),
    ],
)
def test_a_bad_first_pass_is_one_error_naming_its_key(overrides, field, message):
    from ketamine_sim.experiments.errors import ConfigError

    with pytest.raises(ConfigError, match=message) as error:
        C.validate(C.compose_config(["pk=perez_ruixo2021", *overrides]))
    assert error.value.field == field


def test_a_first_pass_key_of_another_model_names_the_model_that_has_it():
    from ketamine_sim.experiments.config.compose import check_overrides
    from ketamine_sim.experiments.errors import ConfigError

    for experiment in ("iv_infusion", "course"):
        with pytest.raises(ConfigError, match="not a key of the chosen options; the options that have it: pk=perez"):
            check_overrides([f"experiment={experiment}", "pk.first_pass.gut_fraction=0.5"], validate=C.validate)


def test_only_doses_given_by_a_first_pass_route_are_refused_for_a_metabolite():
    hnk = Drug("hnk", {"hnk": 1.0})
    t = np.array([0.0, 600.0])
    events = [DosingEvent("oral", 0.0, 0.0), DosingEvent("iv_bolus", 1.0, 0.0)]
    assert simulate(hnk, events, BODY_WEIGHT_KG, t, PARAMS).plasma_uM["hnk"][1] > 0
    with pytest.raises(ValueError, match="nasal and oral doses of ketamine only, not of hnk"):
        simulate(hnk, [DosingEvent("oral", 1.0, 0.0)], BODY_WEIGHT_KG, t, PARAMS)


def test_body_weight_must_be_finite():
    with pytest.raises(ValueError, match="body_weight_kg must be a finite number > 0"):
        simulate(ESKETAMINE, [DosingEvent("iv_bolus", 1.0, 0.0)], float("inf"), np.array([0.0]), PARAMS)
