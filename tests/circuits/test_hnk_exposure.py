"""HNK exposure relative to ketamine after IV and oral ketamine (seeds P12, P13; Hasan 2021).

Hasan et al. 2021 (Anesthesiology 135:326; 15 healthy volunteers, non-compartmental) report the
AUC ratio of 2,6-hydroxynorketamine to ketamine, per enantiomer, mean +/- SD: after a 5-mg IV
infusion of racemic ketamine 1.7 +/- 0.8 (S) and 3.1 +/- 1.4 (R); after 40-mg prolonged-release
tablets 18 +/- 11 (S) and 30 +/- 16 (R). Their metabolic clearances of S- and R-ketamine were
1620 and 1530 mL/min and the tablets' bioavailability 15% (S) and 19% (R).

The model has one HNK species formed from both norketamines, so the tests compare the ratio of
total HNK to total ketamine: the per-enantiomer ratios weighted by each enantiomer's ketamine
AUC (proportional to F / CL for equal doses of each enantiomer). The IV ratio set the HNK volume
(`pk.hnk_v_l_per_kg`, P12, calibration); the oral ratio is validation, and the model misses it
(P13, `xfail(strict=True)`): its first pass forms norketamine, while Hasan's tablets show that
the gut wall and liver form HNK itself before ketamine reaches the circulation.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.pk_models import PK_MODELS

from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, Drug
from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent, simulate

RACEMIC = Drug("racemic", {"s_ketamine": 0.5, "r_ketamine": 0.5})
BODY_WEIGHT_KG = 70.0
#: Hasan 2021: metabolic clearance (mL/min) and the 40-mg tablets' bioavailability per enantiomer.
CLEARANCE_ML_PER_MIN = {"s": 1620.0, "r": 1530.0}
TABLET_F = {"s": 0.15, "r": 0.19}
#: Hasan 2021: 2,6-HNK / ketamine AUC ratio per enantiomer, (mean, SD).
IV_RATIO = {"s": (1.7, 0.8), "r": (3.1, 1.4)}
ORAL_RATIO = {"s": (18.0, 11.0), "r": (30.0, 16.0)}
# 30-s steps to 2 days, then 10 min to 10 days (> 20 half-lives of HNK and of every ketamine model).
GRID_S = np.concatenate([np.arange(0.0, 48 * 3600.0, 30.0), np.arange(48 * 3600.0, 240 * 3600.0 + 1, 600.0)])


def combined(ratios: dict, weights: dict) -> tuple[float, float]:
    """Total-HNK / total-ketamine ratio (and SD) from per-enantiomer ratios and ketamine AUC weights."""
    w = sum(weights.values())
    mean = sum(ratios[e][0] * weights[e] for e in weights) / w
    sd = sum(ratios[e][1] * weights[e] for e in weights) / w
    return mean, sd


IV_TARGET = combined(IV_RATIO, {e: 1.0 / CLEARANCE_ML_PER_MIN[e] for e in "sr"})
ORAL_TARGET = combined(ORAL_RATIO, {e: TABLET_F[e] / CLEARANCE_ML_PER_MIN[e] for e in "sr"})


def hnk_over_ketamine_auc(model: str, route: str) -> float:
    """The model's AUC ratio of HNK to total ketamine (ng/mL based) for Hasan's doses."""
    event = (
        DosingEvent("iv_infusion", 5.0 / BODY_WEIGHT_KG, 0.0, 30.0)
        if route == "iv"
        else DosingEvent("oral", 40.0 / BODY_WEIGHT_KG, 0.0)
    )
    result = simulate(RACEMIC, [event], BODY_WEIGHT_KG, GRID_S, PK_MODELS[model])

    def auc(species):
        c = result.plasma_uM[species] * MOLAR_MASS_G_PER_MOL[species]
        return float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(GRID_S)))

    return auc("hnk") / (auc("s_ketamine") + auc("r_ketamine"))


def test_the_combined_targets_are_the_seeds():
    # The seeds' P12/P13 values are these weighted means of the per-enantiomer numbers.
    assert IV_TARGET == pytest.approx((2.42, 1.11), abs=0.005)
    assert ORAL_TARGET == pytest.approx((24.9, 13.9), abs=0.05)


@pytest.mark.parametrize("model", sorted(PK_MODELS))
def test_p12_hnk_over_ketamine_after_iv_is_hasans(model):
    mean, sd = IV_TARGET
    assert hnk_over_ketamine_auc(model, "iv") == pytest.approx(mean, abs=sd)


def test_p12_the_default_model_was_calibrated_to_the_mean():
    # pk.hnk_v_l_per_kg was set so the default disposition model gives the mean ratio.
    assert hnk_over_ketamine_auc("domino1984", "iv") == pytest.approx(IV_TARGET[0], rel=0.01)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "Hasan 2021 (P13): oral tablets give 10 times the IV HNK/ketamine ratio; the model's first pass forms "
        "norketamine, not HNK (perez_ruixo2021: 2.9 times; no first pass: the same ratio as IV)"
    ),
)
@pytest.mark.parametrize("model", sorted(PK_MODELS))
def test_p13_hnk_over_ketamine_after_oral_tablets_is_hasans(model):
    mean, sd = ORAL_TARGET
    assert hnk_over_ketamine_auc(model, "oral") == pytest.approx(mean, abs=sd)


def test_p13_only_a_first_pass_raises_the_oral_ratio():
    # What the model does get: a swallowed dose gives more HNK per ketamine only through a first pass.
    for model, params in PK_MODELS.items():
        oral_over_iv = hnk_over_ketamine_auc(model, "oral") / hnk_over_ketamine_auc(model, "iv")
        if params.first_pass is None:
            assert oral_over_iv == pytest.approx(1.0, rel=1e-3)
        else:
            assert 2.0 < oral_over_iv < ORAL_TARGET[0] / IV_TARGET[0]
