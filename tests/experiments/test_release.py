"""Integration: glutamate up, evoked release down (TARGETS C4, A1-A5), the manipulations that
test it (DPCPX, NBQX), saline, the mechanism switches, and the dose-response sweep, all on
circuit=small through the ``ketamine-sim`` command."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ketamine_sim.experiments.results import read_results

pytestmark = pytest.mark.compiles

EVOKED = ("experiment=evoked_release", "circuit=small", "output.figure=false")


@pytest.fixture(scope="module")
def evoked(ketamine_sim):
    """Evoked-release protocol (1 uM racemic from time 0) under each condition."""
    conditions = {
        "ketamine": (),
        "dpcpx": ("manipulation=dpcpx",),
        "nbqx": ("manipulation=nbqx",),
        "saline": ("drug=saline",),
        "no_adenosine": ("neurochemistry.adenosine_feedback=false",),
        "no_pool": ("neurochemistry.glutamate_pool=false",),
        "no_slowing": ("circuit.vesicles.recycling_slowing=0",),
        "no_depression": ("circuit.vesicles.depression=false",),
    }
    return {name: ketamine_sim(*EVOKED, *extra).read() for name, extra in conditions.items()}


def _change(data, readout: str) -> float:
    """Last window relative to the baseline (first) window."""
    values = data.readouts["pyr"][readout]
    return values[-1] / values[0] - 1.0


def test_bulk_glutamate_rises_during_infusion_and_returns(ketamine_sim):
    """TARGETS C4 (Milak 2016): Glx +37.8 +/- 7.5% peaking ~26 min into a 40-min 0.5 mg/kg
    infusion, back to baseline hours later. Held to the issue's band +20 to +60%, a peak
    during or within 20 min after the infusion, no rise before dosing, and less than a third
    of the rise left at 4 h."""
    data = ketamine_sim("circuit=small", "output.figure=false").read()
    t_min = data.timeline["time_from_dose_s"] / 60
    glutamate = data.timeline["glutamate"]
    peak = int(np.argmax(glutamate))
    assert 0.20 <= glutamate[peak] - 1 <= 0.60
    assert 0 < t_min[peak] <= 60
    assert glutamate[np.searchsorted(t_min, 240)] - 1 < (glutamate[peak] - 1) / 3
    assert np.all(glutamate[t_min < 0] == 1)
    assert data.timeline_units["glutamate"].startswith("1")


def test_ketamine_lowers_evoked_release_through_adenosine(evoked):
    """TARGETS A1 (Lazarevic 2021): evoked release falls (sign; magnitude unverified); A4:
    adenosine has risen by then; A5: lower release probability, higher paired-pulse ratio."""
    data = evoked["ketamine"]
    assert _change(data, "evoked_release") < -0.02
    assert data.timeline["adenosine"].max() > 1.05
    assert _change(data, "paired_pulse_ratio") > 0.01
    assert np.all(np.diff(data.windows["release_fraction"][1:]) <= 1e-12)  # falls as adenosine builds


@pytest.mark.parametrize("manipulation", ["dpcpx", "nbqx"])
def test_a1_or_ampa_antagonist_abolishes_the_fall(evoked, manipulation):
    """TARGETS A2: the fall needs A1 receptors (DPCPX) and AMPA receptors (NBQX)."""
    fall = -_change(evoked["ketamine"], "evoked_release")
    assert abs(_change(evoked[manipulation], "evoked_release")) < fall / 4


def test_dpcpx_removes_the_tonic_a1_inhibition(evoked):
    baseline = evoked["dpcpx"].readouts["pyr"]["evoked_release"][0]
    assert baseline > evoked["ketamine"].readouts["pyr"]["evoked_release"][0] * 1.2


def test_ketamine_slows_vesicle_recycling(evoked):
    """TARGETS A3: slower pool recovery under ketamine (tau_rec grows with the NMDA block)."""
    data = evoked["ketamine"]
    assert _change(data, "vesicle_recovery_tau") > 0.1
    assert _change(data, "pool_after_train_1s") < -0.05
    assert abs(_change(evoked["no_slowing"], "vesicle_recovery_tau")) < 1e-9


def test_saline_changes_no_release_readout(evoked):
    """No block, so recycling is unchanged; the release rate fluctuates from window to window,
    which moves glutamate, adenosine and so U by far less than ketamine does (adenosine: at
    most a tenth of ketamine's rise, +32% here; over seeds 1-9 of saline it moved 0.2-2.3%)."""
    data = evoked["saline"]
    assert abs(_change(data, "vesicle_recovery_tau")) < 1e-12
    fall = -_change(evoked["ketamine"], "evoked_release")
    for readout in ("evoked_release", "paired_pulse_ratio"):
        assert abs(_change(data, readout)) < min(0.01, fall / 4)
    rise = evoked["ketamine"].timeline["adenosine"].max() - 1
    assert rise > 0.1 and np.abs(data.timeline["adenosine"] - 1).max() < rise / 10
    assert np.allclose(data.timeline["glutamate"], 1, atol=0.1)


def test_mechanism_switches(evoked):
    """Each switch removes what it says: adenosine feedback (no fall of evoked release, glutamate
    still rises), the glutamate pool (no bulk trace; adenosine follows release directly, the fall
    remains), slowed recycling, and depression (the pool never empties)."""
    no_ado = evoked["no_adenosine"]
    assert abs(_change(no_ado, "evoked_release")) < 1e-9
    assert np.all(no_ado.timeline["adenosine"] == 1) and no_ado.timeline["glutamate"].max() > 1.05
    no_pool = evoked["no_pool"]
    assert "glutamate" not in no_pool.timeline
    assert _change(no_pool, "evoked_release") < -0.02
    no_depression = evoked["no_depression"]
    np.testing.assert_allclose(no_depression.readouts["pyr"]["vesicle_available"], 1.0)
    # without depression every pulse of the train releases U (which adenosine still lowers)
    train = no_depression.readouts["pyr"]["train_release"]
    np.testing.assert_allclose(
        train, np.repeat(no_depression.windows["release_fraction"][:, None], train.shape[1], axis=1)
    )


def test_train_probe_shapes(evoked):
    data = evoked["ketamine"]
    train = data.readouts["pyr"]["train_release"]
    assert train.shape == (5, 10)
    assert np.all(np.diff(train, axis=1) < 0)  # a 20 Hz train depresses


def test_dose_response_table_and_figure(ketamine_sim):
    run = ketamine_sim("experiment=dose_response", "circuit=small", "dose_response.doses_mg_per_kg=[0.1,0.5]")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(run.run_dir / "dose_response.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["dose_mg_per_kg"]) for r in rows] == [0.1, 0.5]
    assert float(rows[1]["peak_glutamate_change_pct"]) > float(rows[0]["peak_glutamate_change_pct"]) > 0
    assert float(rows[1]["pyr_rate_change_pct"]) > 0
    assert (run.run_dir / "dose_response.png").stat().st_size > 10_000
    for dose in ("0.1", "0.5"):
        data = read_results(run.run_dir / f"dose_{dose}_mg_per_kg" / "results.h5")
        assert f"dose_mg_per_kg: {dose}" in data.config_yaml
        assert data.provenance["recompiled"] is False or dose == "0.1"
