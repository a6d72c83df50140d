"""Onset after a dose: half-times of rate and block changes, the table and the figure."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.experiments.analysis.onset import half_time_s, onset_table, running_mean


def test_half_time_of_a_known_rise_and_fall():
    t = np.arange(0.0, 1200.0, 2.0)
    rise = 3.0 + 4.0 * (1 - np.exp(-t * np.log(2) / 60.0))
    assert half_time_s(t, rise, 3.0, smooth_s=0.0, end_fraction=0.05) == pytest.approx(60.0, abs=2.0)
    fall = 9.0 - 2.0 * (1 - np.exp(-t * np.log(2) / 200.0))
    # six half-lives in the span: the end value is 98 % of the full change, so half of it is reached 4 s early
    assert half_time_s(t, fall, 9.0, smooth_s=0.0, end_fraction=0.05) == pytest.approx(196.0, abs=2.0)
    # noise around a step at 100 s: the running mean still finds it within half its width
    rng = np.random.default_rng(0)
    step = np.where(t >= 100.0, 5.0, 3.0) + rng.normal(0.0, 0.5, t.size)
    assert half_time_s(t, step, 3.0, smooth_s=30.0) == pytest.approx(100.0, abs=16.0)
    assert np.isnan(half_time_s(t, np.full(t.size, 3.0), 3.0))  # no change, no half-time


def test_half_time_refuses_bad_arguments():
    with pytest.raises(ValueError, match="one length"):
        half_time_s([0.0, 1.0], [1.0], 1.0)
    with pytest.raises(ValueError, match="end_fraction"):
        half_time_s([0.0, 1.0], [1.0, 2.0], 1.0, end_fraction=0.0)


def test_running_mean_is_centred():
    np.testing.assert_allclose(running_mean([0.0, 2.0, 4.0, 6.0], [0.0, 3.0, 6.0, 3.0], 4.0), [1.5, 3.0, 4.0, 4.5])


@pytest.mark.slow
def test_onset_of_a_back_to_back_run_with_the_stand_in_engine(tmp_path):
    """Back-to-back windows after the dose (stand-in engine, which fires more with more drug):
    one row per population, the pyramidal rate's half-time inside the span, the block's too, and
    the figure draws every population's smoothed rate and block."""
    from helpers.fake_engine import fake_run

    from ketamine_sim.experiments import figures as F
    from ketamine_sim.experiments.results import read_results

    path = fake_run(
        tmp_path,
        [
            "experiment=iv_infusion",
            "circuit.carry_state=true",
            "iv_infusion.window_times_min=[-10]",
            "iv_infusion.back_to_back_min=[0,3]",
            "iv_infusion.end_min=10",
        ],
    )
    data = read_results(path)
    assert len(data.windows["start_s"]) == 1 + 90
    np.testing.assert_array_equal(data.windows["network_state_carried"], np.r_[0.0, np.ones(90)])
    table = onset_table(data)
    assert sorted(table.population) == ["pv", "pyr", "sst"]
    pyr = table.set_index("population").loc["pyr"]
    assert pyr.rate_end_hz > pyr.rate_baseline_hz and 0.0 < pyr.rate_half_time_s < 180.0
    assert 0.0 < pyr.block_half_time_s < 180.0 and pyr.block_end > 0
    fig = F.onset(data, path=tmp_path / "onset")
    gids = {line.get_gid() for ax in fig.axes for line in ax.lines}
    assert {"brain_drug", "rate_pyr", "rate_pv", "rate_sst", "block_pyr", "block_pv", "block_sst"} <= gids
    assert (tmp_path / "onset.png").stat().st_size > 2000
    written = {p.stem for p in F.figure_set(data, tmp_path / "set")}
    assert {"onset", "field_spectra"} <= written


def test_a_run_without_a_baseline_or_a_dose_has_no_onset():
    from helpers.analysis_data import make_data

    data = make_data()
    with pytest.raises(ValueError, match="no dosing clock"):  # a bath
        onset_table(data)
    data.windows["time_from_dose_s"] = np.array([10.0, 20.0, 30.0])
    with pytest.raises(ValueError, match="before the dose"):
        onset_table(data)
