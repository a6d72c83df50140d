"""Treatment courses on circuit=small against TARGETS S1-S5 and K2-K4 (experiment=course).

Tolerances: the spine findings are signs and durations (Li 2010; Phoumthipphavong 2016;
Moda-Sava 2019), the clinical ones orderings (Murrough 2013; Fava 2020), so the tests
check signs, orderings and the time course's shape, never a magnitude tuned to them.
"""

import numpy as np
import pytest

from ketamine_sim.circuits.units import SECONDS_PER_DAY
from ketamine_sim.experiments.analysis.course import excess_at_day, response_summary, value_at_day
from ketamine_sim.experiments.analysis.course import peak_excess as course_peak_excess

pytestmark = pytest.mark.compiles

SMALL = ("experiment=course", "circuit=small", "backend.threads=1")


@pytest.fixture(scope="module")
def course(ketamine_sim):
    """Run (and remember) one course per set of overrides; returns its results."""
    done = {}

    def get(*overrides: str):
        if overrides not in done:
            done[overrides] = ketamine_sim(*SMALL, *overrides).read()
        return done[overrides]

    return get


def excess(data, name: str, day: float) -> float:
    return excess_at_day(data.timeline, name, day)


def peak_excess(data, name: str) -> float:
    return course_peak_excess(data.timeline, name)


def window(data, label: str) -> int:
    return int(np.flatnonzero(data.windows["label"] == label)[0])


FOLLOW_4WK = ("dosing.follow_days=28",)


def test_one_infusion_raises_spines_for_one_to_two_weeks_then_they_return(course):
    """S1, S2, K2: up after one infusion in chronic stress, still up at a week, back by four."""
    data = course(*FOLLOW_4WK)
    peak = peak_excess(data, "spine_density")
    assert peak > 0.005  # relative to healthy; the stress baseline is 0.875
    assert excess(data, "spine_density", 1.0) > 0
    assert excess(data, "spine_density", 7.0) >= 0.3 * peak
    assert excess(data, "spine_density", 28.0) <= 0.25 * peak


def test_formation_rises_and_elimination_does_not(course):
    """S2: sites gained between the 4 h and the day-1 window exceed saline's; sites lost match
    saline's within binomial noise."""
    ketamine, saline = course(*FOLLOW_4WK), course(*FOLLOW_4WK, "drug=saline")
    i = window(ketamine, "day 1")
    assert window(saline, "day 1") == i
    formed_k, formed_s = ketamine.windows["spines_formed"][i], saline.windows["spines_formed"][i]
    lost_k, lost_s = ketamine.windows["spines_eliminated"][i], saline.windows["spines_eliminated"][i]
    assert formed_k > formed_s + 4 * np.sqrt(2 * formed_s)
    assert abs(lost_k - lost_s) < 4 * np.sqrt(2 * max(lost_s, 1))


def test_saline_changes_nothing(course):
    """drug=saline: no drive, so BDNF, mTOR, protein, spine density and the proxy stay at rest."""
    data = course(*FOLLOW_4WK, "drug=saline")
    assert np.all(data.windows["ampa_drive"] == 0)
    for name in ("bdnf", "mtor", "potentiation", "spine_density", "outcome"):
        assert np.ptp(data.timeline[name]) < 1e-9, name
    # the drawn sites fluctuate around the expected occupancy (binomial)
    sites = data.synapses["present"]
    expected = data.timeline["spine_density"][0] * 0.8
    assert np.all(np.abs(sites.mean(axis=1) - expected) < 5 * np.sqrt(expected * (1 - expected) / sites.shape[1]))


def test_rapamycin_abolishes_and_nbqx_attenuates_the_spine_increase(course):
    """S1 (Li 2010) and S4 (Maeng 2008)."""
    ketamine = peak_excess(course(), "spine_density")
    rapamycin = peak_excess(course("manipulation=rapamycin"), "spine_density")
    nbqx = peak_excess(course("manipulation=nbqx_timed"), "spine_density")
    assert ketamine > 0.005
    assert rapamycin < 0.1 * ketamine
    assert nbqx < 0.8 * ketamine
    assert peak_excess(course("manipulation=rapamycin"), "potentiation") < 0.1 * peak_excess(course(), "potentiation")


def test_early_outcome_survives_spine_blockade_the_sustained_one_does_not(course):
    """S3 (Moda-Sava 2019): new spines sustain the effect but do not start it."""
    free, blocked = course(), course("manipulation=spine_block")
    assert excess(free, "outcome", 1.0) > 0 and excess(free, "outcome", 7.0) > 0
    assert excess(blocked, "outcome", 1.0) > 0.5 * excess(free, "outcome", 1.0)
    assert excess(blocked, "outcome", 7.0) < 0.2 * excess(free, "outcome", 7.0)
    assert peak_excess(blocked, "spine_density") < 1e-9


def test_six_infusions_sustain_the_outcome_longer_than_one(course):
    """K3 (Murrough 2013): the proxy stays above half of one infusion's peak gain for longer."""
    single, six = course(*FOLLOW_4WK), course("dosing=six_iv_2wk")
    line = value_at_day(single.timeline, "outcome", 0.0) + 0.5 * peak_excess(single, "outcome")

    def last_day_above(data):
        days = data.timeline["time_from_dose_s"] / SECONDS_PER_DAY
        above = np.flatnonzero(data.timeline["outcome"] >= line)
        return float(days[above[-1]]) if above.size else 0.0

    assert last_day_above(six) > last_day_above(single) + 7
    summary = response_summary(six.timeline, [0, 2, 4, 7, 9, 11])
    assert summary["outcome_peak"] > response_summary(single.timeline, [0])["outcome_peak"]


def test_usual_doses_beat_low_doses(course):
    """K4 (Fava 2020): 0.5 and 1.0 mg/kg work, 0.1 and 0.2 mg/kg not clearly."""
    short = ("dosing.follow_days=3", "course.window_days_after_last_dose=[3]")
    gain = {
        dose: peak_excess(course(*short, f"dosing.dose_mg_per_kg={dose}"), "outcome") for dose in (0.1, 0.2, 0.5, 1.0)
    }
    assert min(gain[0.5], gain[1.0]) > max(gain[0.1], gain[0.2])


def test_course_writes_the_synaptic_state_per_window(course):
    data = course()
    syn = data.synapses
    n_windows, n_sites = syn["present"].shape
    assert n_windows == len(data.windows["start_s"]) and n_sites == len(syn["source_ids"]) == len(syn["target_ids"])
    assert syn["target_ids"].max() < 320 and syn["weight_scale"].shape == (n_windows, 320)
    # the window table's occupancy is the snapshot's
    np.testing.assert_allclose(syn["present"].mean(axis=1), data.windows["spine_sites_present"])
    # chronic stress: weaker E->E synapses at baseline (state.ee_weight_scale)
    np.testing.assert_allclose(syn["weight_scale"][0], 0.75)
    for name in ("bdnf", "mtor", "potentiation", "spine_density", "outcome"):
        assert name in data.timeline_units
