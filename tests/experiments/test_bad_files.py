"""Bad results files: every reader gives one project error naming the file and the fault.

Each case starts from a valid ``results.h5`` (written by ``write_results`` from a hand-made
RunData, no simulation) and damages it the way files get damaged: emptied, truncated,
overwritten, replaced by another tool's HDF5 file, partly deleted (a group, a dataset, an
attribute), a wrong dtype, a newer format, a ``/config`` that is not YAML, a folder or a
dangling link in its place, no permission to read it. The readers are ``read_results``,
``load_run`` and ``load_sweep`` (which skips the bad run with a warning, or raises on request),
plus the other readers of ``results.h5``: ``observables.find_runs`` and the sweep index and
resume checks of ``ketamine_sim.experiments.sweep`` and ``ketamine_sim.experiments.kinds.jobs``.
"""

import os
import re
import warnings

import h5py
import numpy as np
import pytest
from helpers.results_data import make_data

from ketamine_sim.experiments import analysis, results, sweep
from ketamine_sim.experiments.kinds import jobs
from ketamine_sim.experiments.results import read_results, write_results
from ketamine_sim.experiments.scoring import observables


def valid_data():
    """make_data() plus pyr->pyr spine sites (2 sites, 3 windows, 20 pyramidal cells)."""
    data = make_data()
    data.synapses = {
        "source_ids": np.array([0, 1]),
        "target_ids": np.array([1, 0]),
        "present": np.array([[1, 0], [1, 1], [0, 1]], bool),
        "weight_scale": np.ones((3, 20)),
    }
    return data


# --------------------------------------------------------------------------- damage


def truncate_to(size):
    def damage(path):
        n = size(os.path.getsize(path)) if callable(size) else size
        with open(path, "r+b") as fh:
            fh.truncate(n)

    return damage


def overwrite_bytes(content):
    def damage(path):
        path.write_bytes(content)

    return damage


def foreign_hdf5(path):
    """An HDF5 file another tool wrote (NWB-like layout, no ketamine-sim attributes)."""
    path.unlink()
    with h5py.File(path, "w") as f:
        f.attrs["neurodata_type"] = "NWBFile"
        f.create_group("acquisition").create_dataset("data", data=np.arange(10.0))
        f.create_group("spikes")


def edit(change):
    def damage(path):
        with h5py.File(path, "r+") as f:
            change(f)

    return damage


def delete(name):
    return edit(lambda f: f.__delitem__(name))


def delete_attr(name, attr):
    return edit(lambda f: f[name].attrs.__delitem__(attr))


def set_root_attr(attr, value):
    return edit(lambda f: f.attrs.__setitem__(attr, value))


def replace(name, data, dtype=None, units="s"):
    def change(f):
        del f[name]
        ds = f.create_dataset(name, data=data, dtype=dtype)
        if units is not None:
            ds.attrs["units"] = units

    return edit(change)


def text_column(name, values):
    return replace(name, np.array(values, dtype=object), h5py.string_dtype())


def config_text(yaml_text):
    return replace("config", yaml_text, h5py.string_dtype(), units=None)


def to_directory(path):
    path.unlink()
    path.mkdir()


def dangling_link(path):
    path.unlink()
    path.symlink_to(path.parent / "moved_away.h5")


#: case -> (damage(path), pattern the reason must match, whether load_sweep finds the file)
CASES = {
    "empty": (truncate_to(0), r"empty file \(0 bytes\)", True),
    "truncated_8_bytes": (truncate_to(8), r"truncated or damaged HDF5", True),
    "truncated_512_bytes": (truncate_to(512), r"truncated or damaged HDF5", True),
    "truncated_to_half": (truncate_to(lambda n: n // 2), r"truncated or damaged HDF5", True),
    "truncated_by_1_byte": (truncate_to(lambda n: n - 1), r"truncated or damaged HDF5", True),
    "random_bytes": (overwrite_bytes(np.random.default_rng(1).bytes(4096)), r"not an HDF5 file", True),
    "text_file": (overwrite_bytes(b"seed: 1\ndrug: esketamine\n"), r"not an HDF5 file", True),
    "hdf5_of_another_tool": (foreign_hdf5, r"not a ketamine-sim results file: no 'format' attribute", True),
    "other_format_attr": (
        set_root_attr("format", "NWB"),
        r"not a ketamine-sim results file: its 'format' attribute is 'NWB'",
        True,
    ),
    "no_format_attr": (delete_attr("/", "format"), r"no 'format' attribute", True),
    "no_format_version": (delete_attr("/", "format_version"), r"no 'format_version' attribute", True),
    "format_version_text": (
        set_root_attr("format_version", "one"),
        r"'format_version' is 'one', expected an integer",
        True,
    ),
    "newer_format_version": (
        set_root_attr("format_version", np.int64(2)),
        r"written by a newer ketamine-sim \(format 2, this reader knows <= 1\): upgrade",
        True,
    ),
    **{
        f"no_group_{g}": (delete(g), rf"missing group /{g}\b", True)
        for g in ("spikes", "windows", "timeline", "readouts", "provenance")
    },
    "no_config": (delete("config"), r"missing dataset /config", True),
    "no_spike_timestamps": (delete("spikes/pyr/timestamps"), r"missing dataset /spikes/pyr/timestamps", True),
    "no_spike_node_ids": (delete("spikes/pv/node_ids"), r"missing dataset /spikes/pv/node_ids", True),
    "no_window_start": (delete("windows/start_s"), r"missing dataset /windows/start_s", True),
    "no_window_duration": (delete("windows/duration_s"), r"missing dataset /windows/duration_s", True),
    "no_timeline_time": (delete("timeline/time_s"), r"missing dataset /timeline/time_s", True),
    "no_synapse_present": (
        delete("synapses/pyr_to_pyr/present"),
        r"missing dataset /synapses/pyr_to_pyr/present",
        True,
    ),
    "no_readout_units": (
        delete_attr("readouts/pyr/rate", "units"),
        r"/readouts/pyr/rate has no 'units' attribute",
        True,
    ),
    "no_window_units": (
        delete_attr("windows/brain_s_ketamine_uM", "units"),
        r"/windows/brain_s_ketamine_uM has no 'units'",
        True,
    ),
    "readout_rows_missing": (
        replace("readouts/sst/rate", np.ones(2), units="Hz"),
        r"inconsistent content: readouts/sst/rate: expected 3 rows",
        True,
    ),
    "window_rows_missing": (
        text_column("windows/label", ["baseline"]),
        r"inconsistent content: windows/label: expected 3 rows",
        True,
    ),
    "timeline_rows_missing": (
        replace("timeline/plasma_s_ketamine_uM", np.ones(4), units="uM"),
        r"inconsistent content: timeline/plasma_s_ketamine_uM: expected 11 rows",
        True,
    ),
    "spike_ids_shorter": (
        replace("spikes/pyr/node_ids", np.arange(3, dtype=np.uint64), units=None),
        r"inconsistent content: spikes/pyr: timestamps",
        True,
    ),
    "spike_times_as_text": (
        text_column("spikes/pyr/timestamps", ["a", "b"]),
        r"/spikes/pyr/timestamps has dtype .*expected numbers",
        True,
    ),
    "node_ids_as_float": (
        replace("spikes/pyr/node_ids", np.ones(50) * 0.5, units=None),
        r"/spikes/pyr/node_ids has dtype float64",
        True,
    ),
    "window_start_as_text": (
        text_column("windows/start_s", ["0", "1", "2"]),
        r"/windows/start_s has dtype .*expected numbers",
        True,
    ),
    "readout_compound_dtype": (
        replace("readouts/pyr/rate", np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]), units="Hz"),
        r"/readouts/pyr/rate has dtype .*expected numbers or text",
        True,
    ),
    "spikes_a_dataset": (
        replace("spikes", np.arange(3.0), units=None),
        r"/spikes is a dataset, expected a group",
        True,
    ),
    "config_a_number": (
        replace("config", np.arange(3), units=None),
        r"/config has dtype int64 and shape \(3,\), expected one YAML text",
        True,
    ),
    "config_not_yaml": (config_text("circuit: [small\ndrug: {name: esketamine"), r"/config is not valid YAML", True),
    "config_not_a_mapping": (config_text("- circuit\n- drug\n"), r"/config is YAML but not a mapping .*list", True),
    "a_directory": (to_directory, r"(a directory|a folder without a results.h5)", True),
    "missing_file": (lambda path: path.unlink(), r"no such file|a folder without a results.h5", False),
    "dangling_link": (dangling_link, r"a broken symbolic link", True),
    "no_read_permission": (lambda path: path.chmod(0), r"no permission to read it", True),
}


def damaged(tmp_path, case, run="run"):
    """Write a valid run folder, damage its results.h5 as ``case`` says; return the file's path."""
    path = write_results(tmp_path / run / "results.h5", valid_data())
    CASES[case][0](path)
    return path


def reason_of(case):
    return CASES[case][1]


@pytest.fixture(autouse=True)
def _restore_permissions(tmp_path):
    yield
    for p in tmp_path.rglob("*"):
        if not p.is_symlink():
            p.chmod(0o755)


def check_error(error, path, case):
    """One project error: a ResultsFileError (a ValueError), one line, naming the file and the fault."""
    message = str(error)
    assert str(path) in message, f"the message does not name the file: {message!r}"
    assert re.search(reason_of(case), message), f"{message!r} does not say {reason_of(case)!r}"
    assert "\n" not in message
    assert isinstance(error, results.ResultsFileError) and isinstance(error, ValueError)
    assert error.path == path and error.reason in message


def skip_if_root(case):
    if case == "no_read_permission" and os.geteuid() == 0:
        pytest.skip("root reads files without read permission")


# --------------------------------------------------------------------------- the readers


def test_valid_file_reads(tmp_path):
    path = write_results(tmp_path / "run" / "results.h5", valid_data())
    assert read_results(path).synapses["present"].shape == (3, 2)
    assert analysis.load_run(path.parent).config["drug"]["name"] == "s_ketamine"


@pytest.mark.parametrize("case", CASES)
def test_read_results(tmp_path, case):
    skip_if_root(case)
    path = damaged(tmp_path, case)
    with pytest.raises(Exception) as info:
        read_results(path)
    check_error(info.value, path, case)


@pytest.mark.parametrize("case", CASES)
def test_load_run(tmp_path, case):
    skip_if_root(case)
    path = damaged(tmp_path, case)
    with pytest.raises(Exception) as info:
        analysis.load_run(path.parent)  # the run folder
    check_error(info.value, path.parent if case == "missing_file" else path, case)


@pytest.mark.parametrize("case", [c for c, (_, _, found) in CASES.items() if found])
def test_load_sweep_skips_the_bad_run(tmp_path, case):
    skip_if_root(case)
    write_results(tmp_path / "sweep" / "0" / "results.h5", valid_data())
    path = damaged(tmp_path / "sweep", case, run="1")
    with pytest.warns(analysis.SkippedRunWarning) as record:
        df = analysis.load_sweep(tmp_path / "sweep")
    assert set(df["run"]) == {"0"}
    messages = [str(w.message) for w in record if issubclass(w.category, analysis.SkippedRunWarning)]
    assert len(messages) == 1 and "'1'" in messages[0] and str(path) in messages[0]
    assert re.search(reason_of(case), messages[0])
    assert list(df.attrs["skipped"]) == ["1/results.h5"]
    with pytest.raises(Exception) as info:
        analysis.load_sweep(tmp_path / "sweep", on_error="raise")
    check_error(info.value, path, case)


def test_load_sweep_all_bad_and_bad_option(tmp_path):
    damaged(tmp_path / "sweep", "empty", run="0")
    damaged(tmp_path / "sweep", "newer_format_version", run="1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.SkippedRunWarning)
        with pytest.raises(
            results.ResultsFileError,
            match=r"none of the 2 results.h5 files .* can be read: "
            r"0/results.h5: an empty file.*1/results.h5: written by a newer",
        ):
            analysis.load_sweep(tmp_path / "sweep")
    with pytest.raises(ValueError, match="on_error: must be 'skip' or 'raise', got 'ignore'"):
        analysis.load_sweep(tmp_path / "sweep", on_error="ignore")


def test_error_pickles():
    import pickle

    error = pickle.loads(pickle.dumps(results.ResultsFileError("a/results.h5", "an empty file")))
    assert str(error) == "a/results.h5: an empty file" and error.reason == "an empty file"


# --------------------------------------------------------------------------- other readers of results.h5

LAYOUT_CASES = [
    "empty",
    "truncated_to_half",
    "random_bytes",
    "hdf5_of_another_tool",
    "newer_format_version",
    "no_group_readouts",
    "no_window_start",
    "spikes_a_dataset",
    "no_readout_units",
    "dangling_link",
]


@pytest.mark.parametrize("case", [*LAYOUT_CASES, "config_not_yaml", "config_not_a_mapping"])
def test_find_runs_skips_the_bad_run(tmp_path, case):
    write_results(tmp_path / "0" / "results.h5", valid_data())
    path = damaged(tmp_path, case, run="1")
    with pytest.warns(UserWarning) as record:
        found = observables.find_runs(tmp_path)
    assert [p for _, p in found] == [tmp_path / "0" / "results.h5"]
    assert found[0][0]["drug"]["name"] == "s_ketamine"
    assert any(str(path) in str(w.message) and re.search(reason_of(case), str(w.message)) for w in record)


@pytest.mark.parametrize("case", LAYOUT_CASES)
def test_sweep_key_readouts(tmp_path, case):
    path = damaged(tmp_path, case)
    with pytest.raises(Exception) as info:
        sweep.key_readouts(path)
    check_error(info.value, path, case)


@pytest.mark.parametrize("case", [*LAYOUT_CASES, "config_not_yaml", "config_not_a_mapping"])
def test_sweep_stored_config(tmp_path, case):
    """The resume check (check_finished) reads the stored config through the checked reader."""
    path = damaged(tmp_path, case)
    with pytest.raises(Exception) as info:
        jobs._stored_config(path)
    check_error(info.value, path, case)


def test_scorecard_reruns_a_damaged_result(tmp_path):
    """A planned scorecard run whose results.h5 is damaged counts as not finished."""
    from ketamine_sim.experiments.scoring.scorecard import PlannedRun, _finished

    run = PlannedRun("default", 1, ("experiment=iv_infusion",), tmp_path)
    assert not _finished(run)
    (tmp_path / "results.h5").write_bytes(b"")
    assert not _finished(run)


def test_scorecard_check_names_a_damaged_file(tmp_path, capsys):
    """``python -m ketamine_sim.experiments.scoring.scorecard check`` skips a damaged file with a warning naming it and
    ends in one line (exit 2), not a traceback."""
    from ketamine_sim.experiments.scoring.scorecard import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "results.h5").write_bytes(b"not hdf5")
    with pytest.warns(UserWarning, match="results.h5"):
        code = main(["check", "C1", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("scorecard: record C1"), err
