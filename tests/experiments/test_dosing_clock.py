"""The dosing clock: every time of an experiment counts from the start of the first dose.

Window times, protocol start and end, course doses and windows, timed manipulations and
``time_from_dose_s`` are minutes (s) from the first dose; ``dosing.start_min`` places that
dose in protocol time and moves all of them with it, so it changes no result. Pure-Python
checks of the protocol builders, plus one cheap compiled run of the reported case.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.analysis.course import excess_at_day
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.protocols import PROTOCOLS

#: The reported case: a window 5 min into the infusion.
REPORTED = ("circuit=small", "iv_infusion.window_times_min=[-10,5,10]", "iv_infusion.end_min=30")
#: dosing.start_min values that must all give the run of 0 (later, earlier than the baseline, fractional).
STARTS = (5, -20, 37.5)


def _protocol(*overrides: str):
    cfg = compose_config(list(overrides))
    C.validate(cfg)
    return PROTOCOLS[cfg.experiment.name](cfg)


def _brain(protocol) -> np.ndarray:
    return sum(protocol.brain_uM[k] for k in SPECIES)


def _at_windows(protocol, trace: np.ndarray) -> np.ndarray:
    return np.array([trace[np.searchsorted(protocol.time_s, w.start_s)] for w in protocol.windows])


@pytest.mark.parametrize("start", STARTS)
def test_iv_windows_see_the_same_drug_for_any_dosing_start(start):
    reference, moved = _protocol(*REPORTED), _protocol(*REPORTED, f"dosing.start_min={start}")
    assert [w.label for w in moved.windows] == ["-10 min", "5 min", "10 min"]
    np.testing.assert_allclose(moved.conditions["time_from_dose_s"], [-600.0, 300.0, 600.0])
    brain = _at_windows(moved, _brain(moved))
    assert brain[0] == 0 and brain[1] > 0.1  # the "5 min" window is 5 min into the infusion
    np.testing.assert_allclose(brain, _at_windows(reference, _brain(reference)), rtol=1e-9)
    np.testing.assert_allclose(moved.time_s, reference.time_s)
    np.testing.assert_allclose(_brain(moved), _brain(reference), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("start", STARTS)
def test_time_from_dose_is_zero_where_the_dose_starts(start):
    p = _protocol(*REPORTED, f"dosing.start_min={start}")
    from_dose, brain = p.extra_timeline["time_from_dose_s"], _brain(p)
    assert np.all(brain[from_dose <= 0] == 0)
    assert brain[from_dose > 0][0] > 0  # the first sample after the dose start sees the drug
    # protocol time starts at iv_infusion.start_min (-15 min) on the dosing clock
    np.testing.assert_allclose(from_dose - p.time_s, -900.0)


def test_an_earlier_dosing_start_is_valid():
    """dosing.start_min=-20 once made the default baseline window (-10 min) 'after dosing'."""
    C.validate(compose_config(["circuit=small", "dosing.start_min=-20"]))


@pytest.mark.parametrize("start", (7, -30))
def test_course_times_and_labels_count_from_the_first_dose(start):
    base = ("experiment=course", "circuit=small", "dosing=six_iv_2wk")
    reference, moved = _protocol(*base), _protocol(*base, f"dosing.start_min={start}")
    labels = [w.label for w in moved.windows]
    assert labels == [w.label for w in reference.windows]
    assert labels[:3] == ["dose 1 -10 min", "dose 1 +20 min", "dose 1 +40 min"] and "dose 2 +20 min" in labels
    from_dose = moved.conditions["time_from_dose_s"]
    assert from_dose[labels.index("dose 2 +20 min")] == 2 * 86400.0 + 1200.0  # dosing.days[1] = 2
    assert from_dose[labels.index("day 14")] == 14 * 86400.0
    np.testing.assert_allclose(from_dose, reference.conditions["time_from_dose_s"])
    np.testing.assert_allclose(moved.extra_timeline["time_from_dose_s"], reference.extra_timeline["time_from_dose_s"])
    np.testing.assert_allclose(_brain(moved), _brain(reference), rtol=1e-9, atol=1e-12)


def test_course_readouts_by_day_do_not_depend_on_the_dosing_start():
    """The scorecard's course observables read the timeline by days from the first dose."""

    def excess_40_min(*extra):
        p = _protocol("experiment=course", "circuit=small", *extra)
        timeline = {"time_from_dose_s": p.extra_timeline["time_from_dose_s"], "brain": _brain(p)}
        return excess_at_day(timeline, "brain", 40.0 / 1440.0)

    assert excess_40_min() > 0.1
    assert excess_40_min("dosing.start_min=7") == pytest.approx(excess_40_min(), rel=1e-9)


def _onset_s(protocol, trace: np.ndarray, below: bool = False) -> float:
    """Protocol time of the first sample where ``trace`` is > 0 (``below``: < 1)."""
    hit = trace < 1.0 if below else trace > 0.0
    return float(protocol.time_s[np.argmax(hit)])


@pytest.mark.parametrize("start", STARTS)
def test_nbqx_timed_starts_five_minutes_before_the_dose(start):
    p = _protocol(*REPORTED, "manipulation=nbqx_timed", f"dosing.start_min={start}")
    from_dose = p.extra_timeline["time_from_dose_s"]
    blocked = from_dose[p.ampa_available < 1.0]
    assert blocked.min() == -300.0  # manipulation.ampa_block_window_min = [-5, 240]
    # the block leads the first rise of the brain concentration by 5 min (one 10 s step after the dose)
    assert _onset_s(p, _brain(p)) - _onset_s(p, p.ampa_available, below=True) == pytest.approx(310.0)


@pytest.mark.parametrize("start", (7, -30))
def test_rapamycin_window_follows_the_dose_in_a_course(start):
    base = ("experiment=course", "circuit=small", "manipulation=rapamycin")
    reference, moved = _protocol(*base), _protocol(*base, f"dosing.start_min={start}")
    np.testing.assert_array_equal(moved.mtor_gate, reference.mtor_gate)
    from_dose = moved.extra_timeline["time_from_dose_s"]
    gated = from_dose[moved.mtor_gate < 1.0]  # manipulation.mtor_block_window_min = [-30, 1440]
    assert gated.min() == -900.0  # from the protocol start (course.start_min = -15) ...
    assert gated.max() < 86400.0 <= from_dose[moved.mtor_gate == 1.0].min()  # ... to one day after the dose


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("experiment=evoked_release",),
        ("experiment=course",),
        ("experiment=dose_response",),
    ],
)
def test_a_manipulation_window_outside_the_protocol_is_refused(overrides):
    cfg = compose_config(
        ["circuit=small", *overrides, "manipulation=nbqx_timed", "manipulation.ampa_block_window_min=[100000,200000]"]
    )
    with pytest.raises(C.ConfigError, match="outside the protocol") as error:
        C.validate(cfg)
    assert error.value.field == "manipulation.ampa_block_window_min"


@pytest.mark.parametrize("block", ["iv_infusion", "evoked_release"])
def test_overlapping_windows_are_refused_before_any_build(block):
    cfg = compose_config(["circuit=small", f"experiment={block}", f"{block}.window_times_min=[-10,-9.99,20]"])
    with pytest.raises(C.ConfigError, match="overlap") as error:
        C.validate(cfg)
    assert error.value.field == f"{block}.window_times_min"


@pytest.mark.compiles
def test_reported_case_runs_the_5_min_window_with_the_drug(ketamine_sim):
    """The reported command: the "5 min" window sees the same drug as with dosing.start_min=0."""
    run = ketamine_sim(*REPORTED, "dosing.start_min=5", "backend.threads=1", "output.figure=false")
    data = run.read()
    np.testing.assert_allclose(data.windows["time_from_dose_s"], [-600.0, 300.0, 600.0])
    reference = _protocol(*REPORTED)
    for k in SPECIES:
        np.testing.assert_allclose(
            data.windows[f"brain_{k}_uM"], _at_windows(reference, reference.brain_uM[k]), rtol=1e-9
        )
    blocked = data.readouts["pyr"]["nmda_blocked"]
    assert blocked[0] == 0 and blocked[1] > 0.01
