"""Bulk glutamate, adenosine and the A1 effect on release (:mod:`ketamine_sim.circuits.slow.neurochemistry`), and the
release readouts of a window (:func:`ketamine_sim.experiments.simulation.readouts.release_readouts`).

Model (relative to the drug-free baseline):

    tau_glu dG/dt = R - G                        R: release rate relative to the baseline window
    tau_ado dA/dt = 1 + gain a (G - 1) - A       a: AMPA receptors available (1 - NBQX block)
    U(A) = U_0 (1 - i_max occ(A)) / (1 - i_max occ(1)),   occ(A) = A^n / (A^n + K^n)

Targets (/work/shared/science/TARGETS.md): A2 (Lazarevic 2021 Mol Psychiatry: the fall in
evoked release needs AMPA and A1 receptors), A4 (Brambilla 2005 Neuron: adenosine feedback
builds with tau 10-30 min), A5 (A1 activation lowers release probability, raises the
paired-pulse ratio), A3 (slower vesicle recycling under ketamine). Expected values are
written out here from the equations above, not taken from the module.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.slow.neurochemistry import Neurochemistry, NeurochemistryParameters, release_fraction
from ketamine_sim.circuits.spiking.vesicles import train_release
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.simulation.readouts import PAIRED_PULSE_INTERVAL_MS, release_readouts

#: What a configured run uses (configs/config.yaml, neurochemistry group); the tests below
#: write the expected values out from the equations.
DEFAULTS = C.neurochemistry(compose_config([]))


def params(**changes) -> NeurochemistryParameters:
    return dataclasses.replace(DEFAULTS, **changes)


def hold(release_relative, p, minutes, step_s=10.0, ampa_available=1.0, state=None):
    """Step the slow state with R held; returns (state, times s, G trace, A trace), traces from t = 0."""
    chem = state or Neurochemistry()
    n = int(round(60.0 * minutes / step_s))
    g, a = [chem.glutamate], [chem.adenosine]
    for _ in range(n):
        chem.advance(release_relative, ampa_available, p, step_s)
        g.append(chem.glutamate)
        a.append(chem.adenosine)
    return chem, step_s * np.arange(n + 1), np.array(g), np.array(a)


# ---------------------------------------------------------------------------------------------
# A1 receptors and the release fraction U
# ---------------------------------------------------------------------------------------------


def test_default_tonic_inhibition_is_a_quarter():
    """Chosen: at baseline adenosine A1 receptors suppress 25% of release, 0.8 x 1 / (1 + 2.2),
    the order of the rise of evoked release that A1 antagonists reveal in slices (tens of
    percent; Dunwiddie & Masino 2001 Annu Rev Neurosci). DPCPX then raises U by 1 / 0.75."""
    assert DEFAULTS.tonic_inhibition == pytest.approx(0.25, rel=1e-12)
    assert DEFAULTS.a1_occupancy(1.0) == pytest.approx(1.0 / 3.2, rel=1e-12)


@pytest.mark.parametrize("u0", [0.2, 0.5, 0.7])
def test_release_fraction_is_baseline_at_baseline_adenosine(u0):
    assert release_fraction(u0, 1.0, DEFAULTS, a1_antagonist=False) == pytest.approx(u0, rel=1e-12)


def test_release_fraction_falls_with_adenosine_a5_sign():
    """A1 activation lowers release probability (A5): U(A) strictly decreasing, = formula."""
    adenosine = np.linspace(0.0, 20.0, 81)
    u = np.array([release_fraction(0.5, a, DEFAULTS, a1_antagonist=False) for a in adenosine])
    assert np.all(np.diff(u) < 0)
    expected = 0.5 * (1 - 0.8 * adenosine / (adenosine + 2.2)) / (1 - 0.25)
    np.testing.assert_allclose(u, expected, rtol=1e-12)
    # at most i_max of the release is suppressed: U stays above U0 (1 - 0.8) / 0.75
    assert u[-1] > 0.5 * 0.2 / 0.75
    # a steeper Hill coefficient keeps U at baseline at A = 1 and still lowers it above
    steep = params(a1_hill=2.0)
    assert release_fraction(0.5, 1.0, steep, False) == pytest.approx(0.5)
    assert release_fraction(0.5, 2.0, steep, False) < 0.5


def test_lower_release_fraction_raises_paired_pulse_ratio():
    """A5 end to end: more adenosine -> lower U -> higher PPR (1 - U e^{-dt/tau})."""
    ppr = []
    for a in (1.0, 1.5, 3.0):
        pair = train_release(release_fraction(0.5, a, DEFAULTS, False), 800.0, 2, 50.0)
        ppr.append(pair[1] / pair[0])
    assert ppr[0] < ppr[1] < ppr[2]


@pytest.mark.parametrize("adenosine", [0.0, 0.5, 1.0, 2.0, 10.0])
def test_a1_antagonist_removes_tonic_and_phasic_inhibition(adenosine):
    """DPCPX: U = U0 / (1 - tonic inhibition), whatever the adenosine level (A2)."""
    u = release_fraction(0.5, adenosine, DEFAULTS, a1_antagonist=True)
    assert u == pytest.approx(0.5 / 0.75, rel=1e-12)
    # also with the feedback switched off (the tonic A1 tone is still there to block)
    assert release_fraction(0.5, adenosine, params(adenosine_feedback=False), True) == pytest.approx(0.5 / 0.75)


def test_release_fraction_is_capped_at_one():
    assert release_fraction(0.9, 1.0, DEFAULTS, a1_antagonist=True) == 1.0  # 0.9 / 0.75 > 1


@pytest.mark.parametrize("adenosine", [0.0, 1.0, 3.0, 50.0])
def test_no_adenosine_feedback_keeps_baseline_release_fraction(adenosine):
    assert release_fraction(0.5, adenosine, params(adenosine_feedback=False), False) == pytest.approx(0.5, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Neurochemistry.advance: the bulk glutamate pool and adenosine
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("r, gain, ampa", [(1.5, 1.0, 1.0), (2.0, 0.7, 0.4), (0.6, 1.3, 1.0)])
def test_steady_state_with_release_held(r, gain, ampa):
    """After many time constants: G -> R, A -> 1 + gain a (R - 1)."""
    chem, *_ = hold(r, params(adenosine_gain=gain), minutes=400, step_s=60.0, ampa_available=ampa)
    assert chem.glutamate == pytest.approx(r, rel=1e-9)
    assert chem.adenosine == pytest.approx(1.0 + gain * ampa * (r - 1.0), rel=1e-9)


def test_adenosine_target_is_not_negative():
    chem, *_ = hold(0.0, params(adenosine_gain=2.0), minutes=400, step_s=60.0)
    assert chem.adenosine == pytest.approx(0.0, abs=1e-9)


def test_nbqx_full_block_keeps_adenosine_at_baseline():
    """A2: with no AMPA receptors available (a = 0) glutamate rises but adenosine does not."""
    _, _, g, a = hold(2.0, DEFAULTS, minutes=120, ampa_available=0.0)
    assert g[-1] == pytest.approx(2.0, rel=1e-6)
    np.testing.assert_array_equal(a, 1.0)
    # partial block (NBQX preset 0.9): a tenth of the rise
    chem, *_ = hold(2.0, DEFAULTS, minutes=400, step_s=60.0, ampa_available=0.1)
    assert chem.adenosine == pytest.approx(1.1, rel=1e-9)


@pytest.mark.parametrize("tau_min", [2.0, 5.0, 12.0])
def test_glutamate_relaxes_with_tau_glu(tau_min):
    """After tau_glu the pool has gone 1 - 1/e of the way to R (within 1%)."""
    r = 1.4
    _, t, g, _ = hold(r, params(glutamate_tau_min=tau_min), minutes=tau_min)
    assert t[-1] == pytest.approx(60.0 * tau_min)
    assert (g[-1] - 1.0) / (r - 1.0) == pytest.approx(1.0 - math.exp(-1.0), rel=0.01)
    assert np.all(np.diff(g) > 0)


def t63_minutes(t_s, trace, target):
    """First time (min) at which the trace has gone 1 - 1/e of the way from its start to target."""
    fraction = (trace - trace[0]) / (target - trace[0])
    return t_s[np.argmax(fraction >= 1.0 - math.exp(-1.0))] / 60.0


def test_adenosine_builds_within_a4_band():
    """A4 (Brambilla 2005): adenosine feedback builds with tau 10-30 min. Measured from the
    simulated trace (10 s steps) after a step of release to R = 1.5 (target A = 1.5):

    - without the bulk pool (G = R at once) the 63% time is tau_ado itself: 15 min;
    - with the pool (default) A follows G (tau_glu 5 min), which delays it: 63% after
      ~20.8 min, i.e. ~tau_ado + tau_glu. Both lie in the band.
    """
    direct = params(glutamate_pool=False)
    _, t, _, a = hold(1.5, direct, minutes=90)
    t63 = t63_minutes(t, a, 1.5)
    assert 10.0 <= t63 <= 30.0
    assert t63 == pytest.approx(15.0, abs=10.0 / 60.0)  # within one step
    _, t, _, a = hold(1.5, DEFAULTS, minutes=90)
    t63_pool = t63_minutes(t, a, 1.5)
    assert 10.0 <= t63_pool <= 30.0
    assert t63_pool == pytest.approx(20.83, abs=0.2)
    assert np.all(np.diff(a) > 0)
    # the build-up time follows tau_ado (it is not fixed by the step size or the pool)
    _, t, _, a = hold(1.5, params(glutamate_pool=False, adenosine_tau_min=25.0), minutes=150)
    assert t63_minutes(t, a, 1.5) == pytest.approx(25.0, abs=10.0 / 60.0)


def test_advance_matches_analytic_solution_of_the_coupled_pair():
    """For a step to R at t = 0 (G, A = 1):
    G = R + (1 - R) e^{-t/tg};  A = 1 + g a (R - 1) [1 - (ta e^{-t/ta} - tg e^{-t/tg}) / (ta - tg)]."""
    r, gain, ampa = 1.8, 0.7, 0.6
    tg, ta = 300.0, 900.0
    _, t, g, a = hold(r, params(adenosine_gain=gain), minutes=60, ampa_available=ampa)
    np.testing.assert_allclose(g, r + (1 - r) * np.exp(-t / tg), rtol=1e-12)
    exact = 1 + gain * ampa * (r - 1) * (1 - (ta * np.exp(-t / ta) - tg * np.exp(-t / tg)) / (ta - tg))
    np.testing.assert_allclose(a, exact, atol=1e-5)  # measured 1e-6 (midpoint G per 10 s step)


def test_glutamate_pool_off_follows_release_at_once():
    p = params(glutamate_pool=False)
    chem = Neurochemistry()
    chem.advance(1.7, 1.0, p, 10.0)
    assert chem.glutamate == 1.7
    chem.advance(0.9, 1.0, p, 0.5)
    assert chem.glutamate == 0.9


def test_adenosine_feedback_off_keeps_adenosine_at_one():
    _, _, g, a = hold(2.0, params(adenosine_feedback=False), minutes=120)
    np.testing.assert_array_equal(a, 1.0)
    assert g[-1] == pytest.approx(2.0, rel=1e-6)  # the glutamate pool still rises


@pytest.mark.parametrize("r", [0.5, 1.5, 2.0])
def test_step_size_independence(r):
    """600 s in one step vs 60 x 10 s: G exact (the pool is solved exactly for constant R),
    A within 1% (A uses G at the step's midpoint; measured 0.4-0.8%)."""
    one = Neurochemistry()
    one.advance(r, 1.0, DEFAULTS, 600.0)
    many, *_ = hold(r, DEFAULTS, minutes=10, step_s=10.0)
    assert one.glutamate == pytest.approx(many.glutamate, rel=1e-12)
    assert one.adenosine == pytest.approx(many.adenosine, rel=0.01)
    assert one.adenosine != 1.0  # it did move


def test_zero_step_changes_nothing_and_negative_step_is_refused():
    chem = Neurochemistry(glutamate=1.3, adenosine=1.1)
    chem.advance(2.0, 1.0, DEFAULTS, 0.0)
    assert (chem.glutamate, chem.adenosine) == (1.3, 1.1)
    with pytest.raises(ValueError, match="step"):
        chem.advance(2.0, 1.0, DEFAULTS, -1.0)


# ---------------------------------------------------------------------------------------------
# Parameter validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("glutamate_tau_min", 0.0),
        ("glutamate_tau_min", -5.0),
        ("adenosine_tau_min", 0.0),
        ("adenosine_tau_min", -1.0),
        ("a1_half_effect", 0.0),
        ("a1_hill", 0.0),
        ("adenosine_gain", -0.1),
        ("a1_max_inhibition", -0.1),
        ("a1_max_inhibition", 1.0),
        ("a1_max_inhibition", 1.5),
    ],
)
def test_parameter_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        params(**{field: value})


def test_parameter_edges_are_accepted():
    params(adenosine_gain=0.0, a1_max_inhibition=0.0)
    params(a1_max_inhibition=0.99)


# ---------------------------------------------------------------------------------------------
# release_readouts (ketamine_sim.experiments.simulation.readouts)
# ---------------------------------------------------------------------------------------------

#: the configured pool (configs/circuit/pfc.yaml: U 0.5, tau_rec 800 ms, slowing 1)
VESICLES = C.vesicles(compose_config([]))


def pyr_state(blocked, released=None, x_ves=None):
    """A pyramidal state dict: the block all on S-ketamine, the rest of the species 0."""
    blocked = np.asarray(blocked, dtype=float)
    state = {f"b_{k}": np.zeros_like(blocked) for k in SPECIES}
    state[f"b_{SPECIES[0]}"] = blocked.copy()
    state["released"] = np.full_like(blocked, 3.5) if released is None else np.asarray(released, dtype=float)
    state["x_ves"] = np.full_like(blocked, 0.8) if x_ves is None else np.asarray(x_ves, dtype=float)
    return state


@pytest.mark.parametrize("u", [0.2, 0.375, 0.5, 0.667])
def test_evoked_release_is_the_window_release_fraction(u):
    out = release_readouts(pyr_state([0.0, 0.3, 0.6]), u, VESICLES, duration_s=2.0, transient_s=0.25)
    assert out["evoked_release"] == pytest.approx(u, rel=1e-12)


def test_paired_pulse_ratio_formula_and_rises_when_u_falls():
    state = pyr_state([0.0, 0.0])
    ppr = [release_readouts(state, u, VESICLES, 2.0, 0.25)["paired_pulse_ratio"] for u in (0.6, 0.5, 0.4, 0.3)]
    assert np.all(np.diff(ppr) > 0)
    assert ppr[1] == pytest.approx(1 - 0.5 * math.exp(-PAIRED_PULSE_INTERVAL_MS / 800.0), rel=1e-12)


def test_vesicle_recovery_tau_grows_with_block():
    """A3: tau_rec (1 + slowing B), B summed over species, mean over cells."""
    taus = [
        release_readouts(pyr_state([b, b]), 0.5, VESICLES, 2.0, 0.25)["vesicle_recovery_tau"] for b in (0.0, 0.2, 0.5)
    ]
    np.testing.assert_allclose(taus, [800.0, 960.0, 1200.0], rtol=1e-12)
    state = pyr_state([0.1, 0.3])
    state[f"b_{SPECIES[1]}"] = np.array([0.1, 0.1])  # a second species adds to the block
    assert release_readouts(state, 0.5, VESICLES, 2.0, 0.25)["vesicle_recovery_tau"] == pytest.approx(800.0 * 1.3)


def test_release_rate_and_pool_are_window_means():
    out = release_readouts(pyr_state([0.0, 0.0], released=[3.0, 4.0], x_ves=[0.7, 0.9]), 0.5, VESICLES, 2.0, 0.25)
    assert out["release_rate"] == pytest.approx(3.5 / 1.75)
    assert out["vesicle_available"] == pytest.approx(0.8)


def test_train_readouts_shape_and_slower_recycling():
    """train_release: one value per pulse (mean over cells; cells alike here, so = train_release);
    pool_after_train_1s lower, and late pulses weaker, when recycling is slower (A3)."""
    train = (10, 50.0)
    rest = release_readouts(pyr_state([0.0, 0.0, 0.0]), 0.5, VESICLES, 2.0, 0.25, train=train)
    blocked = release_readouts(pyr_state([0.6, 0.6, 0.6]), 0.5, VESICLES, 2.0, 0.25, train=train)
    assert rest["train_release"].shape == (10,)
    np.testing.assert_allclose(rest["train_release"], train_release(0.5, 800.0, 10, 50.0), rtol=1e-12)
    assert rest["train_release"][0] == pytest.approx(0.5)
    assert blocked["pool_after_train_1s"] < rest["pool_after_train_1s"]
    assert blocked["train_release"][-1] < rest["train_release"][-1]
    # the pool 1 s after the train, written out: (1 - U) x_9 recovered for 1000 ms at tau_rec
    x, e = 1.0, math.exp(-50.0 / 800.0)
    for _ in range(9):
        x = 1 - (1 - (1 - 0.5) * x) * e
    assert rest["pool_after_train_1s"] == pytest.approx(1 - (1 - 0.5 * x) * math.exp(-1000.0 / 800.0), rel=1e-12)
    # switch off the slowing: the block no longer matters
    off = dataclasses.replace(VESICLES, recycling_slowing=0.0)
    assert release_readouts(pyr_state([0.6] * 3), 0.5, off, 2.0, 0.25, train=train)[
        "pool_after_train_1s"
    ] == pytest.approx(rest["pool_after_train_1s"], rel=1e-12)


def test_no_depression_readouts():
    """circuit.vesicles.depression=false: every pulse releases U, PPR 1, pool back at 1."""
    off = dataclasses.replace(VESICLES, depression=False)
    out = release_readouts(pyr_state([0.0, 0.5]), 0.4, off, 2.0, 0.25, train=(5, 50.0))
    assert out["evoked_release"] == pytest.approx(0.4)
    assert out["paired_pulse_ratio"] == pytest.approx(1.0)
    np.testing.assert_allclose(out["train_release"], 0.4)
    assert out["pool_after_train_1s"] == 1.0
