"""Pharmacokinetics against TARGETS section 2 (P1-P7) and the model's own invariants."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from helpers.pk_models import PK_MODELS

from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, SPECIES, parse_concentration_uM, uM_to_ng_per_ml
from ketamine_sim.circuits.slow.pharmacokinetics import (
    EXTRAVASCULAR,
    FIRST_PASS_ROUTES,
    ROUTES,
    DosingEvent,
    brain_partition_coefficient,
    clearance_l_per_min,
    simulate,
    terminal_half_life_h,
    validate_events,
)
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.app import CONFIG_DIR
from ketamine_sim.experiments.config import compose_config

#: Every drug option as a configured run builds it (configs/drug/*.yaml).
DRUGS = {p.stem: C.drug(compose_config([f"drug={p.stem}"])) for p in sorted(Path(CONFIG_DIR, "drug").glob("*.yaml"))}
#: Plasma tmax (min) of one dose that ka is fitted to per model: IM 15 (5-15 min, as commonly
#: summarised in reviews), intranasal 20 (14-23 min, Pharmacotherapy 2022;42:298), sublingual
#: 45 (0.75 h, Rolan 2014), oral 60 (0.96 h, Chong 2006).
TMAX_TARGET_MIN = {"im": 15.0, "intranasal": 20.0, "sublingual": 45.0, "oral": 60.0}

BODY_WEIGHT_KG = 70.0
M_KETAMINE = MOLAR_MASS_G_PER_MOL["s_ketamine"]
MODELS = sorted(PK_MODELS)
#: Models whose clearance is of racemic ketamine (P1-P5 are racemic findings).
RACEMIC_MODELS = [m for m in MODELS if PK_MODELS[m].disposition_of == "racemate"]
KETAMINES = ("s_ketamine", "r_ketamine")
INFUSION = DosingEvent("iv_infusion", 0.5, start_min=0.0, duration_min=40.0)  # Zarate 2006 protocol, P1
# 1-s steps for the first 2 h (fast distribution phases), then 1 min to 48 h (> 20 half-lives of
# the racemic models), then 10 min to 10 days (> 20 terminal half-lives of perez_ruixo2021, 11-12 h).
AUC_GRID_S = np.concatenate(
    [np.arange(0.0, 7200.0, 1.0), np.arange(7200.0, 48 * 3600.0, 60.0), np.arange(48 * 3600.0, 240 * 3600.0 + 1, 600.0)]
)


def total_ketamine_ng_per_ml(result, where="plasma"):
    c = getattr(result, f"{where}_uM")
    return uM_to_ng_per_ml(c["s_ketamine"] + c["r_ketamine"], M_KETAMINE)


def auc(t_s, c):
    return float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t_s)))


@pytest.mark.parametrize("model", MODELS)
def test_p1_infusion_peak_in_band_at_end_of_infusion(model):
    # Every model, perez_ruixo2021 included (an esketamine model applied to the racemate:
    # out of its sample, so a real check).
    # P1: 0.5 mg/kg over 40 min -> 185 ng/mL, band 100-250 ng/mL (Zarate 2006, Krystal 1994; Zanos 2018).
    t = np.arange(-600.0, 4 * 3600.0, 10.0)
    c = total_ketamine_ng_per_ml(simulate(DRUGS["racemic"], [INFUSION], BODY_WEIGHT_KG, t, PK_MODELS[model]))
    assert 100.0 <= c.max() <= 250.0
    assert t[c.argmax()] == pytest.approx(40 * 60.0)
    assert np.all(c[t <= 0] == 0.0)


def test_p1_reference_values():
    # Numbers of this implementation (brief): domino1984 ~241 ng/mL, kamp2020 ~125 ng/mL at 40 min.
    t = np.array([2400.0])
    peaks = {
        m: total_ketamine_ng_per_ml(simulate(DRUGS["racemic"], [INFUSION], BODY_WEIGHT_KG, t, PK_MODELS[m]))[0]
        for m in MODELS
    }
    assert peaks["domino1984"] == pytest.approx(241.0, rel=0.01)
    # One compartment, analytic per enantiomer: R/(k V) (1 - exp(-k T)), Vd 252 L, CL 79 L/h (Kamp
    # 2020, P3) split around the mean by the R/S clearance ratio rho: S 2/(1+rho), R 2 rho/(1+rho).
    rho = PK_MODELS["kamp2020"].r_ketamine_clearance_ratio
    expected = 0.0
    for factor in (2.0 / (1.0 + rho), 2.0 * rho / (1.0 + rho)):
        k = factor * 79.0 / 252.0 / 60.0
        expected += 1000 * 17.5 / 40.0 / (k * 252.0) * (1 - math.exp(-k * 40.0))
    assert peaks["kamp2020"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(
            "domino1984",
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "Domino 1984's published constants (P4) give a terminal half-life of 1.9 h, below the "
                    "2-2.5 h of P3 (Kamp 2020)"
                ),
            ),
        ),
        "kamp2020",
    ],
)
def test_p3_terminal_half_life(model):
    # P3: terminal half-life about 2-2.5 h (Kamp 2020); the issue accepts 2-3 h.
    assert 2.0 <= terminal_half_life_h(PK_MODELS[model]) <= 3.0


def test_p3_p4_half_life_values():
    # P4 constants (Domino 1984) -> 1.91 h; P3 Vd/CL (Kamp 2020) -> ln2 * 252/79 h = 2.21 h.
    assert terminal_half_life_h(PK_MODELS["domino1984"]) == pytest.approx(1.91, abs=0.01)
    assert terminal_half_life_h(PK_MODELS["kamp2020"]) == pytest.approx(math.log(2) * 252.0 / 79.0, rel=1e-9)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("species", KETAMINES)
def test_p3_simulated_terminal_slope_matches_eigenvalue(model, species):
    # Log-linear slope of each enantiomer 36-48 h after a bolus vs its slowest eigenvalue (P3/P4).
    t = np.arange(36 * 3600.0, 48 * 3600.0 + 1, 600.0)
    r = simulate(DRUGS["racemic"], [DosingEvent("iv_bolus", 0.5, 0.0)], BODY_WEIGHT_KG, t, PK_MODELS[model])
    slope_per_h = np.polyfit(t / 3600.0, np.log(r.plasma_uM[species]), 1)[0]
    assert math.log(2) / -slope_per_h == pytest.approx(terminal_half_life_h(PK_MODELS[model], species), rel=0.02)


@pytest.mark.parametrize("model", MODELS)
def test_r_ketamine_is_cleared_more_slowly_by_the_ratio(model):
    # Persson 2002: R-ketamine's clearance is 0.83 of S-ketamine's (0.020 vs 0.024 L/min/kg);
    # after a bolus of the racemate, the AUC ratio R/S is the inverse clearance ratio.
    p = PK_MODELS[model]
    cl = {e: clearance_l_per_min(p, BODY_WEIGHT_KG, e) for e in KETAMINES}
    assert cl["r_ketamine"] / cl["s_ketamine"] == pytest.approx(p.r_ketamine_clearance_ratio, rel=1e-9)
    r = simulate(DRUGS["racemic"], [DosingEvent("iv_bolus", 0.5, 0.0)], BODY_WEIGHT_KG, AUC_GRID_S, p)
    aucs = {e: auc(AUC_GRID_S, r.plasma_uM[e]) for e in KETAMINES}
    assert aucs["r_ketamine"] / aucs["s_ketamine"] == pytest.approx(1 / p.r_ketamine_clearance_ratio, rel=0.002)
    same = simulate(
        DRUGS["racemic"],
        [DosingEvent("iv_bolus", 0.5, 0.0)],
        BODY_WEIGHT_KG,
        AUC_GRID_S[::600],
        dataclasses.replace(p, r_ketamine_clearance_ratio=1.0),
    )
    np.testing.assert_allclose(same.plasma_uM["r_ketamine"], same.plasma_uM["s_ketamine"], rtol=1e-12)


@pytest.mark.parametrize("model", RACEMIC_MODELS)
def test_a_racemic_models_mean_clearance_is_its_published_one(model):
    # The split keeps the published clearance of the racemate as the enantiomers' mean.
    p = PK_MODELS[model]
    mean = np.mean([clearance_l_per_min(p, BODY_WEIGHT_KG, e) for e in KETAMINES])
    assert mean == pytest.approx(p.k10_per_min * p.v1_l_per_kg * BODY_WEIGHT_KG, rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("route", ROUTES)
def test_p5_auc_ratio_is_bioavailability(model, route):
    # P5: F = IV 1, IM 0.93, oral 0.20, sublingual 0.29, intranasal 0.45 (Clements 1982; Yanagihara 2003; Rolan 2014).
    # A first-pass model's nasal and oral F follow from its liver (test_first_pass_bioavailability).
    expected = {"iv_infusion": 1.0, "iv_bolus": 1.0, "im": 0.93, "oral": 0.20, "sublingual": 0.29, "intranasal": 0.45}
    params = PK_MODELS[model]
    if params.first_pass is not None and route in FIRST_PASS_ROUTES:
        pytest.skip("F follows from the first pass: test_first_pass_bioavailability_is_the_auc_ratio")
    event = DosingEvent(route, 0.5, 0.0, 40.0 if route == "iv_infusion" else 0.0)

    def run(e):
        return auc(
            AUC_GRID_S, total_ketamine_ng_per_ml(simulate(DRUGS["racemic"], [e], BODY_WEIGHT_KG, AUC_GRID_S, params))
        )

    assert run(event) / run(DosingEvent("iv_bolus", 0.5, 0.0)) == pytest.approx(expected[route], rel=0.02)


@pytest.mark.parametrize("model", MODELS)
def test_p5_iv_auc_is_dose_over_clearance(model):
    # Mass balance per enantiomer: AUC = dose / CL, CL = k10 V1 (Domino 1984 P4; Kamp 2020 P3:
    # 79 L/h), or Qh E with first pass (Perez-Ruixo 2021), each enantiomer with its own.
    p = PK_MODELS[model]
    r = simulate(DRUGS["racemic"], [DosingEvent("iv_bolus", 0.5, 0.0)], BODY_WEIGHT_KG, AUC_GRID_S, p)
    for e in KETAMINES:
        c = uM_to_ng_per_ml(r.plasma_uM[e], M_KETAMINE)
        cl = clearance_l_per_min(p, BODY_WEIGHT_KG, e)
        assert auc(AUC_GRID_S / 60.0, c) / 1000.0 == pytest.approx(17.5 / cl, rel=0.002)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("route", EXTRAVASCULAR)
def test_extravascular_tmax_matches_fitted_target(model, route):
    # ka fitted to tmax: IM 15 min, intranasal 20 (Pharmacotherapy 2022), sublingual 45 (Rolan 2014), oral 60 (Chong 2006).
    if PK_MODELS[model].first_pass is not None and route in FIRST_PASS_ROUTES:
        pytest.skip("published absorption, not fitted: test_perez_ruixo_nasal_tmax_is_the_labels")
    t = np.arange(0.0, 4 * 3600.0, 10.0)
    c = total_ketamine_ng_per_ml(
        simulate(DRUGS["racemic"], [DosingEvent(route, 0.5, 0.0)], BODY_WEIGHT_KG, t, PK_MODELS[model])
    )
    assert t[c.argmax()] / 60.0 == pytest.approx(TMAX_TARGET_MIN[route], abs=1.5)


#: The human effect-site equilibration (t1/2ke0 23 s, Sleigh 2019) puts the brain peak after the
#: rat's minute where plasma falls slowly after a bolus (one compartment, or a large central one).
_SLOW_PLASMA = "human t1/2ke0 23 s (Sleigh 2019) and slowly falling plasma: brain peak at 2.5-3.5 min, not rat's 1 min"


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=_SLOW_PLASMA)) if m != "domino1984" else m
        for m in MODELS
    ],
)
def test_p6_brain_peaks_within_a_minute_or_two_of_bolus(model):
    # P6: brain peak within a minute of an IV bolus (Cohen 1973, rat); test bound 2 min.
    t = np.arange(0.0, 600.0, 1.0)
    r = simulate(DRUGS["racemic"], [DosingEvent("iv_bolus", 0.5, 0.0)], BODY_WEIGHT_KG, t, PK_MODELS[model])
    brain = total_ketamine_ng_per_ml(r, "brain")
    assert 0.0 < t[brain.argmax()] <= 120.0


def test_p6_brain_follows_a_plasma_step_with_the_published_half_time():
    # Sleigh 2019: effect-site equilibration half-time 23 s (EEG slow waves; ke0 is shared by
    # every model). With plasma held at C (one compartment, no elimination, after a bolus) the
    # brain reaches Kp C / 2 after 23 s.
    p = dataclasses.replace(PK_MODELS["kamp2020"], k10_per_min=1e-12)
    t = np.array([0.0, 23.0, 1e4])
    r = simulate(DRUGS["esketamine"], [DosingEvent("iv_bolus", 0.5, 0.0)], BODY_WEIGHT_KG, t, p)
    brain = r.brain_uM["s_ketamine"]
    assert brain[1] / brain[2] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("partition, ratio", [("total_tissue", 6.5), ("free", 0.53)])
def test_p6_brain_plasma_ratio(model, partition, ratio):
    # P6: whole brain : plasma 6.5 (Cohen 1973); "free": unbound fraction 0.53 (47% bound, Dayton 1983).
    params = dataclasses.replace(PK_MODELS[model], brain_partition=partition)
    assert brain_partition_coefficient(params) == ratio
    r = simulate(DRUGS["racemic"], [DosingEvent("iv_bolus", 0.5, 0.0)], BODY_WEIGHT_KG, AUC_GRID_S, params)
    ratio_of_aucs = auc(AUC_GRID_S, total_ketamine_ng_per_ml(r, "brain")) / auc(AUC_GRID_S, total_ketamine_ng_per_ml(r))
    assert ratio_of_aucs == pytest.approx(ratio, rel=0.05)


def test_brain_partition_is_validated():
    with pytest.raises(ValueError, match="brain_partition"):
        dataclasses.replace(PK_MODELS["kamp2020"], brain_partition="whole")


@pytest.fixture(scope="module")
def by_drug():
    t = np.arange(-600.0, 12 * 3600.0, 30.0)
    return t, {d: simulate(DRUGS[d], [INFUSION], BODY_WEIGHT_KG, t, PK_MODELS["domino1984"]) for d in DRUGS}


def test_racemate_splits_50_50():
    # Equal doses of the enantiomers: with one clearance (ratio 1) their profiles are equal.
    t = np.arange(-600.0, 12 * 3600.0, 30.0)
    p = dataclasses.replace(PK_MODELS["domino1984"], r_ketamine_clearance_ratio=1.0)
    r = simulate(DRUGS["racemic"], [INFUSION], BODY_WEIGHT_KG, t, p)
    for a, b in (("s_ketamine", "r_ketamine"), ("s_norketamine", "r_norketamine")):
        assert r.plasma_uM[a].max() > 0
        np.testing.assert_allclose(r.plasma_uM[a], r.plasma_uM[b], rtol=1e-12, atol=0)
        np.testing.assert_allclose(r.brain_uM[a], r.brain_uM[b], rtol=1e-12, atol=0)


def test_esketamine_gives_no_r_species(by_drug):
    _, runs = by_drug
    r = runs["esketamine"]
    assert r.plasma_uM["s_ketamine"].max() > 0 and r.plasma_uM["s_norketamine"].max() > 0
    for s in ("r_ketamine", "r_norketamine"):
        assert not r.plasma_uM[s].any() and not r.brain_uM[s].any()
    # Twice the S dose of the racemate: same S profile x2 (linearity).
    np.testing.assert_allclose(r.plasma_uM["s_ketamine"], 2 * runs["racemic"].plasma_uM["s_ketamine"], rtol=1e-10)


def test_saline_gives_zeros(by_drug):
    _, runs = by_drug
    for c in (*runs["saline"].plasma_uM.values(), *runs["saline"].brain_uM.values()):
        assert not c.any()
    assert set(runs["saline"].plasma_uM) == set(SPECIES) == set(runs["saline"].brain_uM)


def test_metabolites_appear_in_order(by_drug):
    t, runs = by_drug
    c = runs["racemic"].plasma_uM
    tmax = {s: t[c[s].argmax()] for s in ("s_ketamine", "s_norketamine", "hnk")}
    assert c["s_norketamine"].max() > 0 and c["hnk"].max() > 0
    assert tmax["s_ketamine"] < tmax["s_norketamine"] < tmax["hnk"]


def test_direct_metabolite_dosing(by_drug):
    _, runs = by_drug
    nk, hnk = runs["norketamine"].plasma_uM, runs["hnk"].plasma_uM
    assert not nk["s_ketamine"].any() and nk["s_norketamine"].max() > 0 and nk["hnk"].max() > 0
    assert not hnk["s_norketamine"].any() and hnk["hnk"].max() > 0


def test_linearity_and_superposition():
    t = np.arange(-300.0, 6 * 3600.0, 20.0)
    p = PK_MODELS["domino1984"]

    def run(events):
        return simulate(DRUGS["racemic"], events, BODY_WEIGHT_KG, t, p)

    one = run([INFUSION])
    double = run([dataclasses.replace(INFUSION, dose_mg_per_kg=1.0)])
    oral = DosingEvent("oral", 1.0, start_min=90.0)
    both, oral_only = run([INFUSION, oral]), run([oral])
    for s in SPECIES:
        np.testing.assert_allclose(double.plasma_uM[s], 2 * one.plasma_uM[s], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(both.plasma_uM[s], one.plasma_uM[s] + oral_only.plasma_uM[s], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(both.brain_uM[s], one.brain_uM[s] + oral_only.brain_uM[s], rtol=1e-9, atol=1e-15)


def test_output_does_not_depend_on_time_grid():
    # Exact solution: sampling a coarse grid equals sub-sampling a fine one.
    p, events = PK_MODELS["kamp2020"], [INFUSION, DosingEvent("im", 0.3, 17.3)]
    fine = np.arange(0.0, 3 * 3600.0, 1.0)
    coarse = fine[::997]
    a = simulate(DRUGS["racemic"], events, BODY_WEIGHT_KG, fine, p)
    b = simulate(DRUGS["racemic"], events, BODY_WEIGHT_KG, coarse, p)
    for s in SPECIES:
        np.testing.assert_allclose(b.plasma_uM[s], a.plasma_uM[s][::997], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(
    "event, field",
    [
        (DosingEvent("iv_bolus", -1.0, 0.0), "dose_mg_per_kg must be >= 0, got -1"),
        (DosingEvent("inhaled", 0.5, 0.0), "route must be one of"),
        (DosingEvent("iv_infusion", 0.5, 0.0, 0.0), "duration_min must be > 0"),
        (DosingEvent("im", 0.5, 0.0, 5.0), "duration_min"),
        (DosingEvent("oral", 0.5, float("nan")), "start_min"),
    ],
)
def test_validate_events(event, field):
    with pytest.raises(ValueError, match=field) as info:
        validate_events([event])
    if "route" in field:
        assert all(r in str(info.value) for r in ROUTES)
    with pytest.raises(ValueError):  # simulate validates too
        simulate(DRUGS["racemic"], [event], BODY_WEIGHT_KG, np.array([0.0]), PK_MODELS["kamp2020"])


def test_validate_accepts_good_events():
    validate_events([INFUSION, DosingEvent("iv_bolus", 0.0, -5.0), DosingEvent("sublingual", 1.0, 30.0)])


def test_p1_p7_unit_conversions():
    # P1/P7: 185 ng/mL / 237.7 g/mol = 0.778 uM (Zanos 2018 table: "about 0.78 uM").
    assert parse_concentration_uM("185 ng/mL", M_KETAMINE) == pytest.approx(0.778, abs=5e-4)
    assert parse_concentration_uM("500 nM", M_KETAMINE) == 0.5
    assert parse_concentration_uM("120 ng/mL", M_KETAMINE) == pytest.approx(120.0 / 237.73)
    with pytest.raises(ValueError, match="allowed: .*nM.*ng/mL"):
        parse_concentration_uM("5 mg", M_KETAMINE)
