"""experiments/analysis/runs.py: tidy tables from results.h5 and the spike-train readouts (synthetic data)."""

import numpy as np
import pytest
from helpers.analysis_data import POPS, make_data

from ketamine_sim.experiments import analysis as A
from ketamine_sim.experiments.results import write_results


@pytest.fixture
def run_and_data(tmp_path):
    data = make_data()
    return A.load_run(write_results(tmp_path / "run" / "results.h5", data)), data


def test_readouts_frame_matches_rundata(run_and_data):
    run, data = run_and_data
    df = run.readouts_frame()
    assert df.shape == (3 * len(POPS), 9)
    assert list(df.columns) == [
        "window",
        "label",
        "start_s",
        "duration_s",
        "brain_s_ketamine_uM",
        "population",
        "rate",
        "cv_isi",
        "release_rate",
    ]
    assert "train_release" not in df.columns
    for _, row in df.iterrows():
        w, pop = int(row["window"]), row["population"]
        assert row["label"] == data.windows["label"][w]
        assert row["start_s"] == data.windows["start_s"][w]
        assert row["brain_s_ketamine_uM"] == data.windows["brain_s_ketamine_uM"][w]
        assert row["rate"] == data.readouts[pop]["rate"][w]
        assert row["cv_isi"] == data.readouts[pop]["cv_isi"][w]
        if pop == "pyr":
            assert row["release_rate"] == data.readouts["pyr"]["release_rate"][w]
        else:
            assert np.isnan(row["release_rate"])
    assert sorted(zip(df["window"], df["population"])) == sorted((w, p) for w in range(3) for p in POPS)
    assert df.attrs["units"]["rate"] == "Hz" and df.attrs["units"]["start_s"] == "s"


def test_timeline_frame_units_and_values(run_and_data):
    run, data = run_and_data
    df = run.timeline_frame()
    assert df.index.name == "time_s"
    np.testing.assert_array_equal(df.index.to_numpy(), data.timeline["time_s"])
    assert list(df.columns) == ["plasma_s_ketamine_uM", "nmda_blocked_pyr"]
    np.testing.assert_array_equal(df["plasma_s_ketamine_uM"].to_numpy(), data.timeline["plasma_s_ketamine_uM"])
    assert df.attrs["units"] == {"time_s": "s", "plasma_s_ketamine_uM": "uM", "nmda_blocked_pyr": ""}


def test_run_spikes_config_overrides(run_and_data):
    run, _ = run_and_data
    t, ids = run.spikes("pv")
    np.testing.assert_array_equal(t, [50.0, 1050.0, 3050.0])
    t, ids = run.spikes("pv", window=1)
    np.testing.assert_allclose(t, [50.0])
    np.testing.assert_array_equal(ids, [1])
    assert run.config["drug"]["name"] == "esketamine"
    assert run.overrides["circuit.counts.pyr"] == 3
    assert run.overrides["manipulation.a1_antagonist"] is False
    assert run.seed == 1 and run.n_neurons("pyr") == 3


def test_load_sweep_nested(tmp_path):
    root = tmp_path / "multirun" / "iv_infusion" / "2024-05-01_12-00-00"
    write_results(root / "0" / "results.h5", make_data(seed=7, drug="esketamine"))
    write_results(root / "1" / "results.h5", make_data(seed=8, drug="saline", a1=True))
    df = A.load_sweep(tmp_path / "multirun")
    assert len(df) == 2 * 3 * len(POPS)
    prefix = "iv_infusion/2024-05-01_12-00-00/"
    runs = df.groupby("run").first()
    assert list(runs.index) == [prefix + "0", prefix + "1"]
    assert runs.loc[prefix + "0", "seed"] == 7 and runs.loc[prefix + "1", "seed"] == 8
    assert runs.loc[prefix + "0", "drug"] == "esketamine" and runs.loc[prefix + "1", "drug"] == "saline"
    assert (df["experiment"] == "iv_infusion").all() and (df["circuit"] == "small").all()
    assert runs.loc[prefix + "0", "manipulation"] == "none"
    assert runs.loc[prefix + "1", "manipulation"] == "a1_antagonist"
    assert bool(runs.loc[prefix + "1", "manipulation.a1_antagonist"]) is True
    # the readouts are each run's own
    sub = df[(df["run"] == prefix + "1") & (df["population"] == "pv")]
    np.testing.assert_array_equal(sub["rate"].to_numpy(), make_data(seed=8).readouts["pv"]["rate"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        A.load_sweep(tmp_path / "empty")


def test_population_rate_regular_train():
    # 10 neurons at 10 Hz, neuron i firing at 100 k + i + 0.5 ms: one spike in each of bins 100 k + i
    times = np.array([100.0 * k + i + 0.5 for k in range(10) for i in range(10)])
    t, r = A.population_rate(times, 10, 0.0, 1000.0, bin_ms=1.0)
    assert len(t) == 1000 and t[0] == 0.5 and t[-1] == 999.5
    expected = np.zeros(1000)
    expected[[100 * k + i for k in range(10) for i in range(10)]] = 1 / (10 * 1e-3)  # 100 Hz
    np.testing.assert_allclose(r, expected)
    assert r.mean() == pytest.approx(10.0)
    _, r100 = A.population_rate(times, 10, 0.0, 1000.0, bin_ms=100.0)
    np.testing.assert_allclose(r100, 10.0)  # each 100 ms bin: 10 spikes / (10 cells x 0.1 s)


def poisson_population(rng, n, rate_hz, duration_ms, mod_hz=None, depth=0.0):
    """Spikes of n neurons, rate(t) = rate (1 + depth sin(2 pi f t)), by thinning."""
    lam_max = rate_hz * (1 + depth)
    k = rng.poisson(lam_max * n * duration_ms * 1e-3)
    t = rng.uniform(0, duration_ms, k)
    ids = rng.integers(0, n, k)
    if mod_hz is not None:
        keep = rng.uniform(0, 1, k) < (1 + depth * np.sin(2 * np.pi * mod_hz * t * 1e-3)) / (1 + depth)
        t, ids = t[keep], ids[keep]
    order = np.argsort(t)
    return t[order], ids[order]


def test_power_spectrum_gamma_peak():
    # 100 cells at 10 Hz, 4 s. The 40 Hz modulation (depth 0.8) puts variance 0.5 (8 Hz)^2 = 32 Hz^2
    # into the population rate; Poisson noise is flat, var 10 / (100 x 1 ms) = 100 Hz^2 over 0-500 Hz,
    # i.e. ~10 Hz^2 in 30-80 Hz: the modulated train's gamma power should be ~4x the homogeneous one's.
    rng = np.random.default_rng(12345)
    tm, _ = poisson_population(rng, 100, 10.0, 4000.0, mod_hz=40.0, depth=0.8)
    th, _ = poisson_population(rng, 100, 10.0, 4000.0)
    f, p = A.power_spectrum(tm, 100, 0.0, 4000.0)
    assert f[1] == pytest.approx(1000 / 256)  # 256 ms segments
    above = f > 5
    assert abs(f[above][np.argmax(p[above])] - 40.0) < 4.0  # within one frequency bin (3.9 Hz)
    fh, ph = A.power_spectrum(th, 100, 0.0, 4000.0)
    gm, gh = A.gamma_power(f, p), A.gamma_power(fh, ph)
    assert gm > 2.5 * gh
    assert gh == pytest.approx(10.0, rel=0.3)  # the flat Poisson floor predicted above
    # Parseval: the whole spectrum integrates to the variance of the rate
    _, r = A.population_rate(th, 100, 0.0, 4000.0)
    assert A.band_power(fh, ph, 0, 500) == pytest.approx(r.var(), rel=0.15)


def test_band_power_trapezoid():
    f = np.arange(0.0, 101.0, 1.0)
    psd = np.where((f >= 30) & (f <= 80), 2.0, 0.0)
    assert A.band_power(f, psd, 30, 80) == pytest.approx(100.0)  # 2 x (80 - 30)
    assert A.gamma_power(f, psd) == pytest.approx(100.0)
    assert A.band_power(f, psd, 0, 20) == 0.0
    assert np.isnan(A.band_power(f, psd, 20.2, 20.8))  # no frequency in the band: not resolved


def test_synchrony_limits():
    rng = np.random.default_rng(3)
    # identical trains: 50 cells all firing at the same 20 Hz Poisson times -> chi = 1
    shared = np.sort(rng.uniform(0, 2000.0, 40))
    t = np.repeat(shared, 50)
    ids = np.tile(np.arange(50), len(shared))
    assert A.synchrony(t, ids, 50, 0.0, 2000.0) == pytest.approx(1.0, abs=1e-9)
    # independent Poisson cells: Var[V] = mean Var[n_i] / N, so chi^2 ~ 1/N -> chi ~ 1/sqrt(400) = 0.05;
    # with 400 bins the estimate of chi^2 has a relative error ~ sqrt(2/400) = 7 %, hence the bounds
    n = 400
    t, ids = poisson_population(rng, n, 10.0, 2000.0)
    chi = A.synchrony(t, ids, n, 0.0, 2000.0)
    assert 0.7 / np.sqrt(n) < chi < 1.4 / np.sqrt(n)
    # half the cells synchronous, half silent: chi^2 = k / N = 0.5
    t = np.repeat(shared, 25)
    ids = np.tile(np.arange(25), len(shared))
    assert A.synchrony(t, ids, 50, 0.0, 2000.0) == pytest.approx(np.sqrt(0.5))


def test_rate_change_constructed(run_and_data):
    run, _ = run_and_data
    # pyr 0: 5 spikes / 1 s -> 4 spikes / 2 s: -3 Hz; pyr 1: 0 -> 6 / 2 s: +3 Hz; pyr 2: silent
    np.testing.assert_allclose(A.rate_change(run, "pyr", 0, 1), [-3.0, 3.0, 0.0])
    np.testing.assert_allclose(A.rate_change(run, "pyr", 1, 0), [3.0, -3.0, 0.0])
    # pv 0: 1 -> 0 spikes; pv 1: 0 -> 1 spike in 2 s
    np.testing.assert_allclose(A.rate_change(run, "pv", 0, 1), [-1.0, 0.5])
    with pytest.raises(ValueError):
        A.rate_change(run, "pyr", 0, 1, n_neurons=1)


def test_spikes_frame_every_spike_once(run_and_data):
    run, data = run_and_data
    df = run.spikes_frame()
    assert list(df.columns) == ["population", "window", "label", "node_id", "t_ms", "time_s"]
    # every spike of the file lies in exactly one window: the frame holds them all, in protocol time
    for pop in POPS:
        sub = df[df.population == pop]
        np.testing.assert_allclose(np.sort(sub["time_s"].to_numpy() * 1e3), np.sort(data.spikes[pop][0]))
    # pyr 1's spike at exactly 1000 ms opens window 1 ([1, 3) s), at t_ms = 0
    first = df[(df.population == "pyr") & (df.node_id == 1)].iloc[0]
    assert first["window"] == 1 and first["t_ms"] == 0.0 and first["label"] == "10 min"
    assert (df[df.window == 2].label == "24 h").all()
    assert df.attrs["units"]["t_ms"] == "ms" and df.attrs["units"]["time_s"] == "s"
    assert len(run.spikes_frame(["pv"])) == 3
    with pytest.raises(KeyError, match="sst"):
        run.spikes_frame(["sst"])


def test_cv_isi_regular_poisson_and_readout():
    # cell 0 regular (CV 0), cell 1 intervals 10, 30 (mean 20, std 10: CV 0.5), cell 2 two spikes only
    t = np.array([0.0, 10.0, 20.0, 30.0, 100.0, 110.0, 140.0, 5.0, 50.0])
    ids = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    cv = A.cv_isi(t, ids, 4, 0.0, 200.0)
    np.testing.assert_allclose(cv[:2], [0.0, 0.5])
    assert np.isnan(cv[2]) and np.isnan(cv[3])  # too few spikes; silent
    assert A.cv_isi(t, ids, 4, 0.0, 200.0, min_spikes=2)[2] == 0.0
    # the window cuts cell 0 to 3 spikes in [0, 25)
    np.testing.assert_allclose(A.cv_isi(t, ids, 4, 0.0, 25.0)[0], 0.0)
    assert np.isnan(A.cv_isi(t, ids, 4, 0.0, 15.0)[0])
    # Poisson cells: CV ~ 1 (exponential ISIs); nanmean agrees with the results.h5 readout
    from ketamine_sim.experiments.simulation.readouts import mean_cv_isi

    rng = np.random.default_rng(5)
    tp, idp = poisson_population(rng, 50, 20.0, 20_000.0)
    cvp = A.cv_isi(tp, idp, 50, 0.0, 20_000.0)
    assert np.nanmean(cvp) == pytest.approx(1.0, abs=0.05)
    assert np.nanmean(cvp) == pytest.approx(mean_cv_isi(tp * 1e-3, idp, 0.0, 20.0))
    with pytest.raises(ValueError, match="node ids"):
        A.cv_isi(t, ids, 2, 0.0, 200.0)
    # one computation: the readout is the mean of the per-cell values, bit for bit (same time unit)
    defined = cvp[~np.isnan(cvp)]
    assert float(np.mean(defined)) == mean_cv_isi(tp, idp, 0.0, 20_000.0)


def test_window_slicing_has_one_convention(run_and_data):
    from ketamine_sim.experiments.results import spikes_in_window, window_bounds_ms
    from ketamine_sim.experiments.simulation.readouts import in_window

    run, data = run_and_data
    for w in range(run.n_windows):
        start, stop = window_bounds_ms(data, w)
        assert run.window_bounds_ms(w) == (start, stop)
        t, ids = data.spikes["pyr"]
        keep = in_window(np.asarray(t), start, stop)
        rel, got = spikes_in_window(data, "pyr", w)
        np.testing.assert_array_equal(rel, np.asarray(t)[keep] - start)
        np.testing.assert_array_equal(got, np.asarray(ids)[keep])
    assert in_window(np.array([0.0, 1.0, 2.0]), 1.0, 2.0).tolist() == [False, True, False]  # [start, stop)


def test_shared_constants_have_one_home():
    from ketamine_sim.circuits import units
    from ketamine_sim.circuits.slow import plasticity
    from ketamine_sim.experiments import figures
    from ketamine_sim.experiments.analysis import course, dose_response
    from ketamine_sim.experiments.scoring import observables

    for module in (course, figures, observables, plasticity):
        assert module.SECONDS_PER_DAY is units.SECONDS_PER_DAY
    assert figures.DOSE_RESPONSE_COLUMNS is dose_response.CHANGE_COLUMNS
    assert dose_response.COLUMNS[: len(dose_response.CHANGE_COLUMNS)] == dose_response.CHANGE_COLUMNS


def test_synaptic_charge_from_conductance_readouts(tmp_path):
    data = make_data()
    data.readouts["pyr"] |= {"g_ampa_mean": np.array([2.0, 1.0, 0.0]), "g_nmda_mean": np.array([1.0, 3.0, 0.5])}
    data.readouts["pv"] |= {"g_ampa_mean": np.array([4.0, 4.0, 4.0]), "g_nmda_mean": np.array([2.0, 2.0, 2.0])}
    data.readout_units |= {"g_ampa_mean": "nS", "g_nmda_mean": "nS"}
    run = A.load_run(write_results(tmp_path / "results.h5", data))
    df = A.synaptic_charge(run)
    assert list(df["population"][:2]) == ["pyr", "pv"] and list(df["window"]) == [0, 0, 1, 1, 2, 2]
    pyr = df[df.population == "pyr"]
    # durations 1, 2, 0.5 s: Q = g_mean x T (nS s = pC/mV)
    np.testing.assert_allclose(pyr["q_ampa"], [2.0, 2.0, 0.0])
    np.testing.assert_allclose(pyr["q_nmda"], [1.0, 6.0, 0.25])
    np.testing.assert_allclose(pyr["nmda_ampa_ratio"][:2], [0.5, 3.0])
    assert np.isnan(pyr["nmda_ampa_ratio"].iloc[2])  # no AMPA charge
    np.testing.assert_allclose(df[df.population == "pv"]["nmda_ampa_ratio"], 0.5)
    assert df.attrs["units"]["q_nmda"] == "pC/mV"
    with pytest.raises(KeyError, match="g_ampa_mean"):
        A.synaptic_charge(A.load_run(write_results(tmp_path / "b.h5", make_data())))


def test_load_sweep_units_cover_the_run_columns(tmp_path):
    write_results(tmp_path / "0" / "results.h5", make_data(seed=7))
    df = A.load_sweep(tmp_path)
    assert set(df.columns) <= set(df.attrs["units"])
    assert df.attrs["units"]["rate"] == "Hz" and df.attrs["units"]["seed"] == ""
