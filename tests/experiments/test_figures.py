"""experiments/figures.py: each figure of the set writes PNG and SVG and plots the run's own numbers."""

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from helpers.analysis_data import make_data

from ketamine_sim.experiments import figures as F
from ketamine_sim.experiments.analysis import dose_response as DR
from ketamine_sim.experiments.results import write_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_files(stem):
    """<stem>.png is a PNG and <stem>.svg an SVG document, neither empty."""
    png, svg = stem.parent / (stem.name + ".png"), stem.parent / (stem.name + ".svg")
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 2000
    assert ET.parse(svg).getroot().tag.endswith("svg")


def lines(fig, gid):
    return [line for ax in fig.axes for line in ax.lines if line.get_gid() == gid]


def test_raster_plots_the_window_spikes(small_run, tmp_path):
    fig = F.raster(small_run, max_neurons=30, path=tmp_path / "raster.png")
    check_files(tmp_path / "raster")
    pops, n_win = small_run.populations, small_run.n_windows
    spikes = lines(fig, "spikes")
    assert len(spikes) == len(pops) * n_win  # one panel per population x window
    for k, line in enumerate(spikes):  # rows = populations, columns = windows
        pop, w = pops[k // n_win], k % n_win
        t_ms, ids = small_run.spikes(pop, w)
        keep = ids < 30
        assert keep.any()
        np.testing.assert_allclose(line.get_xdata(), t_ms[keep] * 1e-3)
        np.testing.assert_array_equal(line.get_ydata(), ids[keep])
    with pytest.raises(IndexError, match="windows \\[7\\]"):
        F.raster(small_run, windows=[7])


def test_population_rates_are_the_rate_readouts(small_run, tmp_path):
    fig = F.population_rates(small_run, path=tmp_path / "rates")
    check_files(tmp_path / "rates")
    for pop in small_run.populations:
        (line,) = lines(fig, f"rate_{pop}")
        np.testing.assert_allclose(line.get_ydata(), small_run.data.readouts[pop]["rate"])
        np.testing.assert_allclose(line.get_xdata(), small_run.data.windows["time_from_dose_s"] / 60)


def test_pk_curve_marks_every_window(small_run, tmp_path):
    fig = F.pk_curve(small_run, path=tmp_path / "pk")
    check_files(tmp_path / "pk")
    tl = small_run.data.timeline
    (brain,) = lines(fig, "brain_s_ketamine")
    np.testing.assert_allclose(brain.get_ydata(), tl["brain_s_ketamine_uM"])
    np.testing.assert_allclose(brain.get_xdata(), tl["time_from_dose_s"] / 60)
    assert lines(fig, "plasma_r_ketamine")
    marks = lines(fig, "window")
    np.testing.assert_allclose([m.get_xdata()[0] for m in marks], small_run.data.windows["time_from_dose_s"] / 60)
    with pytest.raises(KeyError, match="ketamine_x"):
        F.pk_curve(small_run, species=["ketamine_x"])


def test_neurochemistry_traces(small_run, tmp_path):
    fig = F.neurochemistry(small_run, path=tmp_path / "chem")
    check_files(tmp_path / "chem")
    for name in ("glutamate", "adenosine"):
        (line,) = lines(fig, name)
        np.testing.assert_allclose(line.get_ydata(), small_run.data.timeline[name])
    assert len(lines(fig, "window")) == small_run.n_windows
    with pytest.raises(ValueError, match="glutamate"):
        F.neurochemistry(make_data())


def test_figure_set_of_a_run(small_run, tmp_path):
    written = F.figure_set(small_run, tmp_path / "set")
    assert sorted(p.name for p in written) == sorted(
        f"{n}.{ext}"
        for n in ("raster", "population_rates", "pk_curve", "neurochemistry", "field_spectra")
        for ext in ("png", "svg")
    )
    assert all(p.stat().st_size > 2000 for p in written)


def test_dose_response_table(small_run, tmp_path):
    rows = [
        DR.summarize(0.5, small_run.data),
        {**DR.summarize(0.5, small_run.data), "dose_mg_per_kg": 0.1, "pyr_rate_change_pct": 3.0},
    ]
    csv = DR.write_table(rows, tmp_path / "dose_response.csv")
    fig = F.dose_response(csv, path=tmp_path / "dose")
    check_files(tmp_path / "dose")
    (pyr,) = lines(fig, "rate_pyr")
    np.testing.assert_allclose(pyr.get_xdata(), [0.1, 0.5])  # sorted by dose
    np.testing.assert_allclose(pyr.get_ydata(), [3.0, rows[0]["pyr_rate_change_pct"]])
    # the command line's dose_response.png goes through the same function
    assert F.dose_response_png(rows, tmp_path / "dose_response.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="sst_rate_change_pct"):
        F.dose_response(pd.DataFrame(rows).drop(columns="sst_rate_change_pct"))


def synthetic_scorecard():
    return pd.DataFrame(
        {
            "finding": ["C1", "C1", "C2", "C3", "C3"],
            "hypothesis": ["disinhibition", "direct_pyr", "disinhibition", "direct_pyr", "disinhibition"],
            "passed": [True, False, np.nan, True, False],
            "value": [2.4, -0.3, np.nan, "up", 0.1],
            "target": ["> 0", "> 0", "< 0", "up", "> 1"],
        }
    )


def test_scorecard_heat_map(tmp_path):
    table = synthetic_scorecard()
    fig = F.scorecard(table, path=tmp_path / "scorecard.svg")
    check_files(tmp_path / "scorecard")
    (image,) = fig.axes[0].images
    codes = image.get_array()
    # rows C1, C2, C3; columns disinhibition, direct_pyr; 1 passed, 0 failed, masked not evaluated
    np.testing.assert_array_equal(codes.filled(-1), [[1, 0], [-1, -1], [0, 1]])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["C1", "C2", "C3"]
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "2.4\n(> 0)" in texts and "up\n(up)" in texts and "-\n(< 0)" in texts
    assert "3/4 passed" not in fig.axes[0].get_title() and "2/4 passed" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="target"):
        F.scorecard(table.drop(columns="target"))
    with pytest.raises(ValueError, match="C1"):
        F.scorecard(pd.concat([table, table.iloc[:1]]))


@pytest.mark.slow
def test_spine_density_over_days(tmp_path):
    with pytest.raises(ValueError, match="spine_density"):
        F.spine_density(make_data())
    data = make_data()
    days = np.array([0.0, 1.0, 7.0, 14.0])
    data.timeline = {"time_s": days * 86400.0, "spine_density": np.array([1.0, 1.1, 1.25, 1.2])}
    data.timeline_units = {"time_s": "s", "spine_density": "1 (relative to baseline)"}
    run = write_results(tmp_path / "run" / "results.h5", data)
    fig = F.spine_density(run.parent, path=tmp_path / "spines")
    check_files(tmp_path / "spines")
    (line,) = lines(fig, "spine_density")
    np.testing.assert_allclose(line.get_xdata(), days)
    np.testing.assert_allclose(line.get_ydata(), data.timeline["spine_density"])
    assert "days" in fig.axes[0].get_xlabel() and "relative to baseline" in fig.axes[0].get_ylabel()
    assert {p.name for p in F.figure_set(run.parent, tmp_path / "set")} >= {"spine_density.png", "spine_density.svg"}


def test_summary_figure_leaves_the_backend_alone(small_run, tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    path = F.summary_figure(small_run.data, tmp_path / "summary.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert matplotlib.get_backend() == before


# --- self-explanatory figures: conditions, natural time units, doses, µM -----------------------
@pytest.fixture(scope="module")
def stand_in_runs(tmp_path_factory):
    """An infusion, a six-dose course and a bath with stand-in windows (no compiler)."""
    from helpers.fake_engine import fake_run

    from ketamine_sim.experiments.results import read_results

    cases = {
        "iv_infusion": [],
        "course": ["experiment=course", "dosing=six_iv_2wk"],
        "bath": ["experiment=bath"],
    }
    return {name: read_results(fake_run(tmp_path_factory.mktemp(name), o)) for name, o in cases.items()}


def _summary(data, tmp_path, save=False):
    """The summary figure of ``data``; written to a PNG (and checked) only with ``save``, as
    rendering it is most of its cost and the other tests read the figure's artists."""
    captured = {}
    original = F._save_atomic

    def keep(fig, path, **kwargs):
        captured["fig"] = fig
        return original(fig, path, **kwargs) if save else path

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(F, "_save_atomic", keep)
        path = F.summary_figure(data, tmp_path / "summary.png")
    if save:
        assert path.read_bytes()[:8] == PNG_MAGIC
    return captured["fig"]


@pytest.mark.slow
def test_the_summary_title_names_drug_dose_circuit_and_seed(stand_in_runs, tmp_path):
    fig = _summary(stand_in_runs["iv_infusion"], tmp_path, save=True)
    title = fig.get_suptitle()
    assert "racemic 0.5 mg/kg iv infusion over 40 min" in title and "circuit small" in title and "seed 1" in title
    assert "bath [0, 0.5, 1, 2, 5, 10] µM" in _summary(stand_in_runs["bath"], tmp_path).get_suptitle()


@pytest.mark.slow
def test_a_course_is_drawn_in_days_with_every_dose_marked(stand_in_runs, tmp_path):
    fig = _summary(stand_in_runs["course"], tmp_path)
    drug = fig.axes[0]
    assert drug.get_xlabel() == "time from start of dosing (days)" and drug.get_ylabel() == "concentration (µM)"
    (doses,) = lines(fig.axes[0].figure, "dose")[:1]
    np.testing.assert_allclose(doses.get_xdata(), [0, 2, 4, 7, 9, 11])  # six_iv_2wk: days 0, 2, 4, 7, 9, 11
    assert max(line.get_xdata().max() for line in drug.lines if line.get_label() == "brain, all species") < 60
    infusion = _summary(stand_in_runs["iv_infusion"], tmp_path)
    assert infusion.axes[0].get_xlabel() == "time from start of dosing (min)"


@pytest.mark.slow
def test_the_rasters_have_a_time_axis(stand_in_runs, tmp_path):
    fig = _summary(stand_in_runs["iv_infusion"], tmp_path)
    rasters = [ax for ax in fig.axes if ax.get_xlabel() == "time in window (s)"]
    assert len(rasters) == 2
    assert rasters[0].get_title().startswith("'-10 min', brain drug 0 µM") and "nM" in rasters[1].get_title()
    assert rasters[0].get_xlim() == (0.0, 2.0)


@pytest.mark.slow
def test_spine_density_axis_is_labelled_and_scaled_honestly(stand_in_runs):
    fig = F.spine_density(stand_in_runs["course"])
    ax = fig.axes[0]
    assert ax.get_ylabel() == "spine density\n(relative to the healthy steady state)"
    low, high = ax.get_ylim()
    assert low <= 0.9 and high >= 1.1  # a change of a few per cent does not fill the axis
    assert len(lines(fig, "dose")[0].get_xdata()) == 6
    assert "course: racemic" in fig.get_suptitle()


@pytest.mark.parametrize(
    "span_s, unit", [(3600.0, "min"), (6 * 3600.0, "min"), (30 * 3600.0, "h"), (14 * 86400.0, "days")]
)
def test_natural_time_unit(span_s, unit):
    assert F.natural_time_unit(span_s)[0] == unit


@pytest.mark.slow
def test_an_experiment_without_a_dose_marks_none(tmp_path):
    from helpers.fake_engine import fake_run

    from ketamine_sim.experiments.results import read_results

    data = read_results(fake_run(tmp_path / "evoked", ["experiment=evoked_release"]))
    assert F._dose_spans_s(data) == [] and not lines(_summary(data, tmp_path), "dose")


@pytest.mark.slow
def test_doses_after_the_protocol_are_neither_marked_nor_counted(tmp_path):
    """An iv_infusion run of a course's schedule (esketamine twice weekly) simulates 5 h: only
    the first dose is marked and the title does not promise eight."""
    from helpers.fake_engine import fake_run

    from ketamine_sim.experiments.results import read_results

    data = read_results(fake_run(tmp_path / "nasal", ["experiment=iv_infusion", "dosing=esketamine_nasal"]))
    assert len(F._dose_spans_s(data)) == 1
    fig = _summary(data, tmp_path)
    (doses,) = lines(fig, "dose")[:1]
    np.testing.assert_allclose(doses.get_xdata(), [0.0])
    assert "esketamine 56 mg intranasal;" in fig.get_suptitle()


@pytest.mark.slow
def test_an_infusion_running_past_the_protocol_is_shaded_to_its_end(tmp_path):
    """A 40-min infusion in a protocol that ends at 10 min: shaded from 0 to 10 min, so the time
    axis does not run on past the simulated protocol."""
    from helpers.fake_engine import fake_run

    from ketamine_sim.experiments.results import read_results

    data = read_results(
        fake_run(
            tmp_path / "short",
            ["experiment=iv_infusion", "iv_infusion.window_times_min=[-10,5]", "iv_infusion.end_min=10"],
        )
    )
    ((start, duration),) = F._dose_spans_s(data)
    assert start == 0.0 and duration == pytest.approx(600.0)


def test_field_spectra_draws_every_window_and_the_gamma_ratio(small_run, tmp_path):
    fig = F.field_spectra(small_run, published=(2.0, 5.0), path=tmp_path / "field_spectra")
    check_files(tmp_path / "field_spectra")
    spectra = [line for line in fig.axes[0].lines if (line.get_gid() or "").startswith("spectrum_")]
    assert len(spectra) == small_run.n_windows
    gamma = small_run.data.readouts["pyr"]["field_power_gamma"]
    np.testing.assert_allclose(lines(fig, "gamma_ratio")[0].get_ydata(), gamma / gamma[0])
    np.testing.assert_allclose(
        lines(fig, "rhythmicity_pyr")[0].get_ydata(), small_run.data.readouts["pyr"]["gamma_rhythmicity"]
    )


def test_field_spectra_of_a_run_without_a_field_is_one_error():
    data = make_data()
    data.field_potential = {}
    with pytest.raises(ValueError, match="no /field_potential"):
        F.field_spectra(data)
