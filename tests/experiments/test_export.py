"""experiments/export.py: NWB and Neo round trips equal the spikes of results.h5."""

import numpy as np
import pytest

pytest.importorskip("pynwb")
pytest.importorskip("neo")

import quantities as pq  # noqa: E402
from helpers.analysis_data import N, make_data  # noqa: E402
from pynwb import NWBHDF5IO  # noqa: E402

from ketamine_sim.experiments import export  # noqa: E402
from ketamine_sim.experiments.analysis import load_run  # noqa: E402
from ketamine_sim.experiments.results import write_results  # noqa: E402


@pytest.fixture
def synthetic(tmp_path):
    """The synthetic run of test_analysis: windows [0, 1), [1, 3), [3, 3.5) s; a spike at exactly 1 s."""
    data = make_data()
    data.provenance["start_time"] = "2024-05-01T12:00:00+00:00"
    return load_run(write_results(tmp_path / "run" / "results.h5", data)), data


def read_nwb_units(path):
    """(units DataFrame, epochs DataFrame, session start) read back with pynwb."""
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        return nwb.units.to_dataframe(), nwb.epochs.to_dataframe(), nwb.session_start_time


def check_nwb_matches(path, run):
    """Every unit's spike times (s) are its cell's spikes of results.h5 (ms); obs_intervals the windows."""
    units, epochs, start = read_nwb_units(path)
    windows = np.column_stack(
        [run.data.windows["start_s"], run.data.windows["start_s"] + run.data.windows["duration_s"]]
    )
    assert len(units) == sum(run.n_neurons(p) for p in run.populations)
    for pop in run.populations:
        sub = units[units.population == pop]
        assert list(sub.node_id) == list(range(run.n_neurons(pop)))
        t_ms, ids = run.spikes(pop)
        for _, unit in sub.iterrows():
            expected = np.sort(t_ms[ids == unit.node_id]) * 1e-3
            np.testing.assert_allclose(np.asarray(unit.spike_times), expected, rtol=0, atol=1e-12)
            np.testing.assert_allclose(np.asarray(unit.obs_intervals), windows)
    np.testing.assert_allclose(epochs[["start_time", "stop_time"]].to_numpy(), windows)
    return units, epochs, start


def test_nwb_round_trip_synthetic(synthetic, tmp_path):
    run, data = synthetic
    path = export.to_nwb(run, tmp_path / "run.nwb")
    units, epochs, start = check_nwb_matches(path, run)
    assert len(units) == N["pyr"] + N["pv"]
    # pyr 1 fires first at exactly the start of window 1; pyr 2 is silent but present
    pyr = units[units.population == "pyr"].set_index("node_id")
    assert pyr.loc[1, "spike_times"][0] == 1.0 and len(pyr.loc[2, "spike_times"]) == 0
    assert sum(len(s) for s in units.spike_times) == sum(len(data.spikes[p][0]) for p in data.spikes)
    assert [list(t) for t in epochs.tags] == [["baseline"], ["10 min"], ["24 h"]]
    assert start.isoformat() == "2024-05-01T12:00:00+00:00"
    only_pv = read_nwb_units(export.to_nwb(run.path.parent, tmp_path / "pv.nwb", populations=["pv"]))[0]
    assert set(only_pv.population) == {"pv"} and len(only_pv) == N["pv"]
    with pytest.raises(KeyError, match="sst"):
        export.to_nwb(run, tmp_path / "x.nwb", populations=["sst"])


def test_neo_trains_equal_hdf5_spikes(synthetic):
    run, data = synthetic
    block = export.to_neo(run)
    assert [s.name for s in block.segments] == ["baseline", "10 min", "24 h"]
    for w, seg in enumerate(block.segments):
        start, stop = run.window_bounds_ms(w)
        for pop in run.populations:
            trains = seg.filter(population=pop, objects="SpikeTrain")
            assert [st.annotations["node_id"] for st in trains] == list(range(N[pop]))
            t_rel, ids = run.spikes(pop, w)
            for st in trains:
                assert st.t_start == start * pq.ms and st.t_stop == stop * pq.ms
                expected = np.sort(t_rel[ids == st.annotations["node_id"]]) + start
                np.testing.assert_array_equal(st.rescale(pq.ms).magnitude, expected)
    # all spikes of the file, once each
    total = sum(len(st) for seg in block.segments for st in seg.spiketrains)
    assert total == sum(len(data.spikes[p][0]) for p in data.spikes)
    # the spike at exactly 1000 ms opens window 1 (half-open windows), in seconds too
    st = export.spiketrains(run, "pyr", 1)[1]
    assert st[0].rescale(pq.s) == 1.0 * pq.s
    with pytest.raises(IndexError, match="window 5"):
        export.spiketrains(run, "pyr", 5)
    with pytest.raises(ValueError, match="n_neurons"):
        export.spiketrains(run, "pyr", 1, n_neurons=1)


def test_exports_of_a_simulated_run(small_run, tmp_path):
    """The shared small run: NWB and Neo hold exactly the spikes of its results.h5."""
    run = small_run
    assert all(run.spikes(p)[0].size > 0 for p in run.populations)
    check_nwb_matches(export.to_nwb(run, tmp_path / "small.nwb"), run)
    block = export.to_neo(run)
    for pop in run.populations:
        t_ms, ids = run.spikes(pop)
        got = np.concatenate(
            [st.magnitude for seg in block.segments for st in seg.filter(population=pop, objects="SpikeTrain")]
        )
        got_ids = np.concatenate(
            [
                np.full(len(st), st.annotations["node_id"])
                for seg in block.segments
                for st in seg.filter(population=pop, objects="SpikeTrain")
            ]
        )
        order, expected = np.lexsort((got, got_ids)), np.lexsort((t_ms, ids))
        np.testing.assert_array_equal(got[order], t_ms[expected])
        np.testing.assert_array_equal(got_ids[order], ids[expected])


def test_nwb_session_description_names_experiment_and_drug(synthetic, tmp_path):
    run, _ = synthetic
    with NWBHDF5IO(str(export.to_nwb(run, tmp_path / "a.nwb")), "r") as io:
        nwb = io.read()
        assert nwb.session_description == "ketamine-sim simulation: experiment iv_infusion, drug esketamine"
        assert "drug:\n  name: esketamine" in nwb.notes


# --- NWB best practice: nwbinspector, the slow layer and the readouts -----------------------
@pytest.fixture(scope="module")
def full_runs(tmp_path_factory):
    """A course with plasticity and an infusion with every neurochemical track (stand-in windows)."""
    from helpers.fake_engine import fake_run

    return {
        "course": fake_run(
            tmp_path_factory.mktemp("course"),
            ["experiment=course", "dosing=single_iv", "dosing.follow_days=1", "course.window_days_after_last_dose=[1]"],
        ),
        "iv_infusion": fake_run(tmp_path_factory.mktemp("infusion"), ["hypothesis=combined"]),
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["course", "iv_infusion"])
def test_nwb_export_passes_nwbinspector(full_runs, kind, tmp_path):
    """No CRITICAL finding and no best-practice violation; with an experimenter and an
    institution given, no finding at all."""
    nwbinspector = pytest.importorskip("nwbinspector")
    path = export.to_nwb(full_runs[kind], tmp_path / "run.nwb")
    findings = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path)))
    serious = [f for f in findings if f.importance.name in ("CRITICAL", "BEST_PRACTICE_VIOLATION", "PYNWB_VALIDATION")]
    assert not serious, [f"{f.importance.name} {f.check_function_name}: {f.message}" for f in serious]
    assert {f.check_function_name for f in findings} <= {"check_experimenter_exists", "check_institution"}
    named = export.to_nwb(full_runs[kind], tmp_path / "named.nwb", experimenter="Doe, Jane", institution="A University")
    assert list(nwbinspector.inspect_nwbfile(nwbfile_path=str(named))) == []


def test_nwb_holds_the_timeline_and_the_window_readouts(full_runs, tmp_path):
    """Every /timeline trace is a TimeSeries (values, timestamps, unit); so are the field proxy and
    its currents; every readout a column of the window table; the subject, keywords and
    resolution are set."""
    from ketamine_sim.experiments.results import read_results, split_units

    data = read_results(full_runs["course"])
    with NWBHDF5IO(str(export.to_nwb(full_runs["course"], tmp_path / "c.nwb")), "r") as io:
        nwb = io.read()
        module = nwb.processing["misc"]
        traces = [name for name in data.timeline if name != "time_s"]
        assert {"spine_density", "plasma_s_ketamine_uM"} <= set(traces)
        for name in traces:
            series = module[name]
            np.testing.assert_array_equal(series.data[:], data.timeline[name])
            np.testing.assert_array_equal(series.timestamps[:], data.timeline["time_s"])
            assert series.unit == (split_units(data.timeline_units[name])[0] or "1")
        assert module["spine_density"].description == "relative to the healthy steady state"
        table = module["window_readouts"].to_dataframe()
        assert list(table.label) == [str(x) for x in data.windows["label"]]
        for pop, readouts in data.readouts.items():
            for name, values in readouts.items():
                if f"{pop}_{name}" in table:
                    np.testing.assert_array_equal(np.stack(table[f"{pop}_{name}"].to_numpy()), values)
                else:  # left out: never measured for this population
                    assert np.all(np.isnan(values)) and (pop != "pyr" or name.startswith("field_")), (pop, name)
        # the field potential: every window's samples in time order, on protocol time (s)
        proxy = module["field_potential_proxy"]
        starts, time_ms = data.windows["start_s"], data.field_potential["time_ms"]
        np.testing.assert_allclose(proxy.timestamps[:], (starts[:, None] + 1e-3 * time_ms[None, :]).ravel())
        np.testing.assert_array_equal(proxy.data[:], data.field_potential["proxy"].astype(np.float32).ravel())
        assert proxy.unit == "nA" and "Mazzoni" in proxy.description
        assert module["field_i_glu"].data.shape == module["field_i_gaba"].data.shape == proxy.data.shape
        assert "pyr_rate" in table and "pyr_release_rate" in table and "pv_release_rate" not in table
        assert nwb.subject.species == "Homo sapiens" and "not an animal" in nwb.subject.description
        assert "ketamine" in list(nwb.keywords[:]) and nwb.units.resolution == pytest.approx(1e-4)
        assert "commit" in nwb.data_collection
