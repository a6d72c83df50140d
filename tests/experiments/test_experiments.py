"""Integration: the ``ketamine-sim`` command runs both experiments on circuit=small and writes
results that our reader and libsonata accept; the drug disinhibits the circuit and saline
does not; seeds are reproducible; builds are reused; bad overrides fail cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, SPECIES
from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.experiments.results import read_results, spikes_in_window

pytestmark = pytest.mark.compiles

BATH = ("experiment=bath", "circuit=small", "bath.concentrations_uM=[0,1]")


@pytest.fixture(scope="module")
def iv(ketamine_sim):
    return ketamine_sim("circuit=small")


@pytest.fixture(scope="module")
def bath(ketamine_sim):
    return ketamine_sim(*BATH, "seed=1")


@pytest.fixture(scope="module")
def bath_repeat(ketamine_sim, bath):
    return ketamine_sim(*BATH, "seed=1", "output.figure=false")


@pytest.fixture(scope="module")
def bath_saline(ketamine_sim, bath):
    return ketamine_sim(*BATH, "seed=1", "drug=saline", "output.figure=false")


def test_iv_infusion_writes_the_documented_file_and_figure(iv):
    data = iv.read()
    assert (iv.run_dir / "summary.png").stat().st_size > 10_000
    # window times are given from the start of dosing; protocol time starts 15 min before it
    from_dose = np.array([-10, 10, 20, 30, 40, 50, 60, 90, 120, 240]) * 60.0
    np.testing.assert_allclose(data.windows["time_from_dose_s"], from_dose)
    np.testing.assert_allclose(data.windows["start_s"], from_dose + 900)
    np.testing.assert_allclose(data.windows["duration_s"], 2.0)
    for k in SPECIES:
        assert data.timeline_units[f"plasma_{k}_uM"] == "uM"
        assert data.windows[f"brain_{k}_uM"].shape == (10,)
    for pop in POPULATIONS:
        assert data.timeline[f"nmda_blocked_{pop}"].shape == data.timeline["time_s"].shape
        assert data.readouts[pop]["rate"].shape == (10,)
        assert data.readouts[pop]["rate"][0] > 0.5  # the circuit is active at baseline
    assert "iv_infusion" in data.config_yaml and "dose_mg_per_kg: 0.5" in data.config_yaml
    prov = data.provenance
    assert prov["seed"] == 1 and prov["versions"]["brian2"] and "total" in prov["wall_time_s"]
    assert "results:" in iv.stdout + iv.stderr  # progress and the path are printed


def test_iv_plasma_peak_matches_zarate_band(iv):
    """TARGETS P1: 0.5 mg/kg over 40 min gives 100-250 ng/mL at the end of the infusion."""
    data = read_results(iv.results)
    total_ng_ml = (
        sum(data.timeline[f"plasma_{k}_uM"] for k in ("s_ketamine", "r_ketamine")) * MOLAR_MASS_G_PER_MOL["s_ketamine"]
    )
    peak = int(np.argmax(total_ng_ml))
    assert 100 <= total_ng_ml[peak] <= 250
    assert abs(data.timeline["time_from_dose_s"][peak] - 2400) <= 20


def test_block_rises_during_infusion_and_wanes_after(iv):
    data = read_results(iv.results)
    blocked = data.readouts["pyr"]["nmda_blocked"]
    assert blocked[0] == 0  # baseline, no drug
    assert blocked[4] > blocked[1] > 0.05  # 40 min > 10 min
    assert blocked[9] < blocked[4] / 2  # 4 h later


def test_spikes_are_a_sonata_report_in_protocol_time(iv):
    libsonata = pytest.importorskip("libsonata")
    data = read_results(iv.results)
    reader = libsonata.SpikeReader(str(iv.results))
    assert set(reader.get_population_names()) == set(POPULATIONS)
    for pop in POPULATIONS:
        sonata = np.array(reader[pop].get())  # (node_id, timestamp) pairs
        assert reader[pop].sorting == "by_time"
        np.testing.assert_array_equal(sonata[:, 0], data.spikes[pop][1])
        np.testing.assert_allclose(sonata[:, 1], data.spikes[pop][0])
    # the window that starts 1500 s into the protocol (10 min after dosing) has its spikes from 1500000 ms on
    times = data.spikes["pyr"][0]
    assert data.windows["start_s"][1] == 1500
    in_window = times[(times >= 1_500_000) & (times < 1_502_000)]
    assert in_window.size > 0 and times.min() >= 0
    rel, _ = spikes_in_window(data, "pyr", 1)
    np.testing.assert_allclose(np.sort(rel), np.sort(in_window - 1_500_000))


def test_bath_writes_results_and_figure(bath):
    data = bath.read()
    assert (bath.run_dir / "summary.png").stat().st_size > 10_000
    np.testing.assert_allclose(data.windows["bath_total_uM"], [0, 1])
    np.testing.assert_allclose(data.windows["brain_s_ketamine_uM"], [0, 0.5])  # racemic: half S
    np.testing.assert_allclose(data.windows["brain_r_ketamine_uM"], [0, 0.5])
    assert "plasma_s_ketamine_uM" not in data.timeline  # no pharmacokinetics in a bath


def test_subanesthetic_ketamine_disinhibits_pyramidal_cells(bath):
    """TARGETS C1-C3: interneuron (PV and/or SST) firing falls, pyramidal firing rises."""
    data = bath.read()
    rate = {pop: data.readouts[pop]["rate"] for pop in POPULATIONS}
    assert rate["pyr"][1] > 1.1 * rate["pyr"][0]
    assert min(rate["pv"][1] / rate["pv"][0], rate["sst"][1] / rate["sst"][0]) < 0.9
    assert data.readouts["pyr"]["nmda_blocked"][1] > 0.2


def test_saline_changes_nothing(bath_saline):
    """The same protocol with the vehicle: no block and rates within 10% (window-to-window
    noise of this circuit is 1-3%, measured over 4 windows x 3 seeds)."""
    data = bath_saline.read()
    for pop in POPULATIONS:
        rate = data.readouts[pop]["rate"]
        assert abs(rate[1] / rate[0] - 1) < 0.1
        assert np.all(data.timeline[f"nmda_blocked_{pop}"] == 0)


def test_same_seed_gives_identical_spikes_without_recompiling(bath, bath_repeat):
    first, second = bath.read(), bath_repeat.read()
    for pop in POPULATIONS:
        np.testing.assert_array_equal(first.spikes[pop][0], second.spikes[pop][0])
        np.testing.assert_array_equal(first.spikes[pop][1], second.spikes[pop][1])
    assert second.provenance["recompiled"] is False
    assert second.provenance["circuit_digest"] == first.provenance["circuit_digest"]


def test_another_seed_gives_other_spikes(ketamine_sim, bath):
    other = ketamine_sim(*BATH, "seed=2").read()
    assert not np.array_equal(other.spikes["pyr"][0], read_results(bath.results).spikes["pyr"][0])


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (("drug=unobtanium",), ["drug", "esketamine"]),
        (("backend=gpu",), ["backend", "cpp_standalone"]),
        (("dosing.dose_mg_per_kg=-1",), ["dosing.dose_mg_per_kg", ">= 0"]),
        (("drug.name=unobtanium",), ["drug.name", "allowed", "racemic"]),
        (("experiment=bath", "bath.concentrations_uM=[0,'5 mg']"), ["bath.concentrations_uM[1]", "allowed", "nM"]),
        (("experiment=bath", "bath.concentrations_uM=[0,-2]"), ["bath.concentrations_uM[1]", ">= 0"]),
        (("circuit.connection_probability.pyr_pv=1.5",), ["circuit.connection_probability.pyr_pv", "<= 1"]),
        (("dosing.route=rectal",), ["dosing.route", "intranasal"]),
        (("iv_infusion.window_times_min=[10,20]",), ["iv_infusion.window_times_min", "baseline"]),
        (("manipulation=caffeine",), ["manipulation", "dpcpx", "nbqx"]),
        (("neurochemistry.adenosine_tau_min=-5",), ["neurochemistry.adenosine_tau_min", "> 0"]),
        (("manipulation.ampa_block_fraction=1.5",), ["manipulation.ampa_block_fraction", "<= 1"]),
        (("circuit.vesicles.u_release=0",), ["circuit.vesicles.u_release", "> 0"]),
        (("circuit.vesicles.depression=maybe",), ["circuit.vesicles.depression", "true or false"]),
        (
            ("experiment=evoked_release", "evoked_release.concentration_uM='3 furlongs'"),
            ["evoked_release.concentration_uM", "allowed"],
        ),
        (
            ("experiment=dose_response", "dose_response.doses_mg_per_kg=[0.5,-1]"),
            ["dose_response.doses_mg_per_kg.1", ">= 0"],
        ),
    ],
)
def test_bad_overrides_fail_before_simulating_with_one_clear_message(ketamine_sim, overrides, expected):
    run = ketamine_sim(*overrides, "circuit=small")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    for text in expected:
        assert text in output, output
    assert "Traceback" not in output
    assert "compiled" not in output and "window 1" not in output
    assert not run.results.exists()


def test_help_lists_the_config_groups(ketamine_sim):
    run = ketamine_sim("--help")
    assert run.returncode == 0
    for group in (
        "experiment: bath, cohort, course, dose_response, evoked_release, iv_infusion, scorecard, sensitivity",
        "manipulation: dpcpx, nbqx, nbqx_timed, none, rapamycin, spine_block",
        "state: chronic_stress, healthy",
        "hypothesis: adenosine_feedback, combined, default, disinhibition_pv, disinhibition_sst, glun2b_rest, hnk_ampa",
        "circuit: pfc, small",
        "drug: arketamine, esketamine",
        "backend: cpp_standalone, cython, numpy",
        "pk: domino1984, kamp2020, perez_ruixo2021",
    ):
        assert group in run.stdout


def test_multirun_sweeps_in_separate_run_folders(ketamine_sim, tmp_path, bath):
    run = ketamine_sim(
        "-m",
        "experiment=bath",
        "circuit=small",
        "bath.concentrations_uM=[0]",
        "output.figure=false",
        "seed=1,2",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    seeds = sorted(read_results(tmp_path / str(job) / "results.h5").provenance["seed"] for job in (0, 1))
    assert seeds == [1, 2]


def test_ctrl_c_leaves_no_partial_results(build_cache, tmp_path, bath):
    """SIGINT in the middle of a run: the process stops and no results.h5 (nor temp file) is left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, KETAMINE_SIM_CACHE=str(build_cache), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ketamine_sim.experiments.app",
            "experiment=bath",
            "circuit=small",
            "bath.concentrations_uM=[0,1,2,5,10]",
            f"hydra.run.dir={tmp_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output = []
    deadline = time.time() + 300
    for line in proc.stdout:  # wait until the first window has finished
        output.append(line)
        if "window 1/5" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    output.append(proc.communicate(timeout=120)[0])
    assert proc.returncode != 0, "".join(output)
    assert not (tmp_path / "results.h5").exists()
    assert not list(tmp_path.glob(".results.h5*"))
