"""Round trip, SONATA compatibility, atomicity and validation of results.h5."""

import os

import h5py
import numpy as np
import pytest
from helpers.results_data import POPS, make_data

from ketamine_sim.experiments import results
from ketamine_sim.experiments.results import RunData, read_results, spikes_in_window, write_results


def assert_same(a: RunData, b: RunData) -> None:
    assert a.spikes.keys() == b.spikes.keys()
    for pop in a.spikes:
        for x, y in zip(a.spikes[pop], b.spikes[pop]):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    for name in ("windows", "timeline"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert list(ta) == list(tb)  # order kept, too
        for k in ta:
            assert ta[k].dtype == tb[k].dtype
            np.testing.assert_array_equal(ta[k], tb[k])
    assert a.readouts.keys() == b.readouts.keys()
    for pop in a.readouts:
        assert a.readouts[pop].keys() == b.readouts[pop].keys()
        for k in a.readouts[pop]:
            np.testing.assert_array_equal(a.readouts[pop][k], b.readouts[pop][k])
    assert (a.window_units, a.timeline_units, a.readout_units) == (b.window_units, b.timeline_units, b.readout_units)
    assert a.field_potential.keys() == b.field_potential.keys()
    for k in a.field_potential:  # stored as float32 (time_ms as float64)
        np.testing.assert_allclose(a.field_potential[k], b.field_potential[k], rtol=1e-6)
    assert a.config_yaml == b.config_yaml
    assert a.provenance == b.provenance
    assert {k: type(v) for k, v in a.provenance.items()} == {k: type(v) for k, v in b.provenance.items()}


def test_round_trip(tmp_path):
    data = make_data()
    out = write_results(tmp_path / "run" / "results.h5", data)
    assert out == tmp_path / "run" / "results.h5"
    back = read_results(out)
    assert_same(data, back)
    assert_same(data, read_results(tmp_path / "run"))  # a run folder works too
    assert os.listdir(tmp_path / "run") == ["results.h5"]


def test_spikes_sorted_by_time_then_id(tmp_path):
    data = make_data()
    data.spikes = {"pyr": (np.array([5.0, 1.0, 5.0, 1.0]), np.array([3, 9, 1, 2]))}
    back = read_results(write_results(tmp_path / "results.h5", data))
    t, ids = back.spikes["pyr"]
    np.testing.assert_array_equal(t, [1.0, 1.0, 5.0, 5.0])
    np.testing.assert_array_equal(ids, [2, 9, 1, 3])
    assert t.dtype == np.float64 and ids.dtype == np.uint64


def test_libsonata_reads_spikes(tmp_path):
    libsonata = pytest.importorskip("libsonata")
    data = make_data()
    path = write_results(tmp_path / "results.h5", data)
    reader = libsonata.SpikeReader(str(path))
    assert set(reader.get_population_names()) == set(POPS) | {"empty"}
    for pop in POPS:
        r = reader[pop]
        assert r.sorting == "by_time"
        t, ids = data.spikes[pop]
        got = r.get()  # list of (node_id, time)
        assert [g[0] for g in got] == ids.tolist()
        np.testing.assert_allclose([g[1] for g in got], t, rtol=0, atol=0)
    assert reader["empty"].get() == []


def test_layout_enum_and_units(tmp_path):
    path = write_results(tmp_path / "results.h5", make_data())
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "ketamine-sim results"
        assert f.attrs["format_version"] == 1
        for pop in POPS:
            g = f[f"spikes/{pop}"]
            mapping = h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype)
            assert mapping == {"none": 0, "by_id": 1, "by_time": 2}
            assert g.attrs["sorting"] == 2
            assert g["timestamps"].attrs["units"] == "ms"
            assert g["timestamps"].dtype == np.float64 and g["node_ids"].dtype == np.uint64
            assert f[f"readouts/{pop}/rate"].attrs["units"] == "Hz"
        assert f["windows/start_s"].attrs["units"] == "s"
        assert f["windows/label"].attrs["units"] == ""
        assert h5py.check_string_dtype(f["windows/label"].dtype).encoding == "utf-8"
        assert f["timeline/plasma_s_ketamine_uM"].attrs["units"] == "uM"
        assert f["config"].shape == () and "n_pyr" in f["config"].asstr()[()]
        assert f["provenance"].attrs["seed"] == 42
        assert f["provenance/wall_time_s"].attrs["build"] == 3.1


def test_read_summary_without_spikes(tmp_path):
    data = make_data()
    data.provenance["recompiled"] = True
    path = write_results(tmp_path / "results.h5", data)
    summary = results.read_summary(tmp_path)  # a run folder works too
    assert summary.n_windows == 3
    assert summary.readouts.keys() == data.readouts.keys()
    for pop in data.readouts:
        for name, values in data.readouts[pop].items():
            np.testing.assert_array_equal(summary.readouts[pop][name], values)
    assert summary.readout_units == data.readout_units
    assert summary.provenance == read_results(path).provenance


def test_sweep_key_readouts_from_the_summary(tmp_path):
    from ketamine_sim.experiments import sweep

    data = make_data()
    data.provenance["recompiled"] = False
    data.provenance["wall_time_s"] = {"build": 3.14159, "windows": 7.0001, "total": 12.3456}
    row = sweep.key_readouts(write_results(tmp_path / "results.h5", data))
    rate = data.readouts["pv"]["rate"]
    assert row["n_windows"] == 3
    assert row["pv_rate_baseline_hz"] == round(float(rate[0]), 4)
    assert (row["pv_rate_max_hz"], row["pv_rate_min_hz"]) == (round(rate.max(), 4), round(rate.min(), 4))
    assert (row["wall_time_s"], row["build_s"], row["windows_s"], row["recompiled"]) == (12.346, 3.142, 7.0, False)


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_atomic_write(tmp_path, monkeypatch, exc):
    path = tmp_path / "results.h5"
    seen = []
    original = h5py.Group.create_dataset

    def failing(self, *args, **kwargs):
        seen.append(sorted(os.listdir(tmp_path)))
        if len(seen) == 5:  # fail mid-write, after some datasets were written
            raise exc
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(type(exc)):
        write_results(path, make_data())
    assert any(name.endswith(".tmp") for name in seen[-1])  # it did fail mid-write
    assert os.listdir(tmp_path) == []

    # An earlier complete file survives a failed rewrite.
    monkeypatch.setattr(h5py.Group, "create_dataset", original)
    old = make_data(seed=1)
    write_results(path, old)
    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    seen.clear()
    with pytest.raises(type(exc)):
        write_results(path, make_data(seed=2))
    assert os.listdir(tmp_path) == ["results.h5"]
    assert_same(old, read_results(path))


@pytest.mark.parametrize(
    "field, edit",
    [
        ("start_s", lambda d: d.windows.pop("start_s")),
        ("duration_s", lambda d: d.windows.pop("duration_s")),
        ("time_s", lambda d: d.timeline.pop("time_s")),
        ("readouts/pv/rate", lambda d: d.readouts["pv"].__setitem__("rate", np.zeros(4))),
        ("spikes/sst", lambda d: d.spikes.__setitem__("sst", (np.zeros(3), np.zeros(2, np.uint64)))),
        ("windows/label", lambda d: d.windows.__setitem__("label", np.array(["a", "b"]))),
        ("timeline/nmda_blocked_pyr", lambda d: d.timeline.__setitem__("nmda_blocked_pyr", np.zeros(3))),
        ("brain_s_ketamine_uM", lambda d: d.window_units.pop("brain_s_ketamine_uM")),
        ("provenance/wall_time_s/run", lambda d: d.provenance["wall_time_s"].__setitem__("run", [1, 2])),
        ("field_potential/proxy", lambda d: d.field_potential.__setitem__("proxy", np.zeros((2, 40)))),
        ("field_potential: needs exactly", lambda d: d.field_potential.pop("i_gaba")),
    ],
)
def test_validation_names_field(tmp_path, field, edit):
    data = make_data()
    edit(data)
    with pytest.raises(ValueError, match=field):
        write_results(tmp_path / "results.h5", data)
    assert os.listdir(tmp_path) == []


def test_field_potential_units_and_a_damaged_shape(tmp_path):
    path = write_results(tmp_path / "results.h5", make_data())
    with h5py.File(path, "r") as f:
        g = f["field_potential"]
        assert {name: g[name].attrs["units"] for name in g} == {
            "time_ms": "ms",
            "i_glu": "nA",
            "i_gaba": "nA",
            "proxy": "nA",
        }
        assert "Mazzoni" in g["proxy"].attrs["description"] and g["proxy"].dtype == np.float32
    with h5py.File(path, "a") as f:
        del f["field_potential/i_glu"]
        f["field_potential"].create_dataset("i_glu", data=np.zeros((2, 40), np.float32))
    with pytest.raises(results.ResultsFileError, match=r"/field_potential/i_glu has shape \(2, 40\)"):
        read_results(path)
    data = make_data()
    data.field_potential = {}  # a run whose engine records none: no group, read back empty
    assert read_results(write_results(tmp_path / "none.h5", data)).field_potential == {}


def test_spikes_in_window_relative_times():
    data = make_data()
    data.spikes["pyr"] = (np.array([999.0, 1000.0, 1200.5, 1499.9, 1500.0, 2100.0]), np.arange(6, dtype=np.uint64))
    t, ids = spikes_in_window(data, "pyr", 1)  # window 1: [1000, 1500) ms
    np.testing.assert_allclose(t, [0.0, 200.5, 499.9])
    np.testing.assert_array_equal(ids, [1, 2, 3])
    t, ids = spikes_in_window(data, "pyr", 2)  # window 2: [2000, 3000) ms
    np.testing.assert_allclose(t, [100.0])
    assert spikes_in_window(data, "empty", 0)[0].size == 0


def test_reader_rejects_foreign_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_group("spikes")
    with pytest.raises(ValueError, match="ketamine-sim results"):
        read_results(path)
    assert results.FORMAT_VERSION == 1
