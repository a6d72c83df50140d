"""The hypothesis config group: each file composes, sets the switches it documents, and the
switches change the mechanisms they name in a run on circuit=small."""

from pathlib import Path

import numpy as np
import pytest
from helpers.cli import merged

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config

HYPOTHESES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "configs" / "hypothesis").glob("*.yaml"))
BATH = (
    "experiment=bath",
    "circuit=small",
    "backend.threads=1",
    "bath.concentrations_uM=[0,2]",
    "bath.equilibration_s=30",
    "output.figure=false",
)


def test_the_six_hypotheses_and_the_default_exist():
    assert set(HYPOTHESES) == {
        "default",
        "disinhibition_pv",
        "disinhibition_sst",
        "glun2b_rest",
        "adenosine_feedback",
        "hnk_ampa",
        "combined",
    }


@pytest.mark.parametrize("name", HYPOTHESES)
def test_each_hypothesis_composes_validates_and_names_itself(name):
    cfg = compose_config([f"hypothesis={name}", "circuit=small"])
    C.validate(cfg)
    assert cfg.hypothesis.name == name
    assert cfg.hypothesis.summary


def drive(name: str):
    return C.circuit_drive(compose_config([f"hypothesis={name}"]))


def test_switches_are_what_each_file_says():
    assert drive("default").drug_targets == ("pyr", "pv", "sst")
    assert drive("disinhibition_pv").drug_targets == ("pv",) and drive("disinhibition_pv").nmda_ratio["pv"] == 2.0
    assert drive("disinhibition_sst").drug_targets == ("sst",) and drive("disinhibition_sst").nmda_ratio["sst"] == 2.0
    assert drive("glun2b_rest").drug_targets == ("pyr",)
    assert drive("hnk_ampa").drug_targets == () and drive("hnk_ampa").hnk_ampa_gain > 0
    combined = compose_config(["hypothesis=combined"])
    assert C.plasticity(combined).params.glun2b_rest_gain > 0 and C.circuit_drive(combined).hnk_ampa_gain > 0
    assert C.neurochemistry(combined).adenosine_feedback
    for name in ("disinhibition_pv", "disinhibition_sst", "glun2b_rest", "hnk_ampa"):
        cfg = compose_config([f"hypothesis={name}"])
        assert not C.neurochemistry(cfg).adenosine_feedback and C.vesicles(cfg).recycling_slowing == 0


def test_a_bad_target_names_the_field():
    cfg = compose_config(["block.targets=[pyr,vip]"])
    with pytest.raises(C.ConfigError, match="block.targets"):
        C.validate(cfg)


def test_hnk_raises_ampa_transmission_by_its_hill_curve():
    d = drive("hnk_ampa")
    assert d.ampa_scale(0.0) == 1.0
    assert d.ampa_scale(d.hnk_ampa_ec50_uM) == pytest.approx(1.0 + 0.5 * d.hnk_ampa_gain)
    assert drive("default").ampa_scale(100.0) == 1.0


@pytest.fixture(scope="module")
def bath(ketamine_sim):
    done = {}

    def get(*overrides):
        if overrides not in done:
            done[overrides] = ketamine_sim(*merged(*BATH, *overrides)).read()
        return done[overrides]

    return get


def change(data, pop: str, name: str = "rate") -> float:
    values = data.readouts[pop][name]
    return float(values[1] - values[0])


@pytest.mark.compiles
@pytest.mark.parametrize("name,target", [("disinhibition_pv", "pv"), ("disinhibition_sst", "sst")])
def test_disinhibition_routes_block_their_interneurons_and_release_pyramidal_cells(bath, name, target):
    data = bath(f"hypothesis={name}")
    others = [p for p in ("pyr", "pv", "sst") if p != target]
    assert data.readouts[target]["nmda_blocked"][1] > 0.2
    for pop in others:
        assert data.readouts[pop]["nmda_blocked"][1] == 0.0
    assert change(data, target) < 0
    assert change(data, "pyr") > 0


@pytest.mark.compiles
def test_glun2b_rest_blocks_pyramidal_cells_only_without_disinhibition(bath):
    data = bath("hypothesis=glun2b_rest")
    assert data.readouts["pyr"]["nmda_blocked"][1] > 0.2
    assert data.readouts["pv"]["nmda_blocked"][1] == data.readouts["sst"]["nmda_blocked"][1] == 0.0
    assert change(data, "pyr") <= 0  # pyramidal cells lose NMDA drive and nothing releases them
    assert np.all(data.timeline["adenosine"] == 1.0)


@pytest.mark.compiles
def test_glun2b_rest_raises_bdnf_without_any_ampa_drive(ketamine_sim):
    data = ketamine_sim(
        "experiment=course",
        "circuit=small",
        "backend.threads=1",
        "hypothesis=glun2b_rest",
        "dosing.follow_days=3",
        "course.window_days_after_last_dose=[3]",
        "output.figure=false",
    ).read()
    assert np.all(data.windows["ampa_drive"] == 0)
    assert data.timeline["bdnf"].max() > data.timeline["bdnf"][0] + 0.1
    assert data.timeline["spine_density"].max() > data.timeline["spine_density"][0]


@pytest.mark.compiles
def test_hnk_ampa_acts_without_nmda_block(bath):
    racemic = bath("hypothesis=hnk_ampa")
    for pop in ("pyr", "pv", "sst"):
        assert np.all(racemic.readouts[pop]["nmda_blocked"] == 0.0)
    hnk = bath("hypothesis=hnk_ampa", "drug=hnk", "bath.concentrations_uM=[0,10]")
    switched_off = bath("hypothesis=hnk_ampa", "hnk_ampa.gain=0", "drug=hnk", "bath.concentrations_uM=[0,10]")
    # the switch: HNK raises the AMPA conductance of pyramidal cells only when hnk_ampa.gain > 0
    assert change(hnk, "pyr", "g_ampa_mean") > change(switched_off, "pyr", "g_ampa_mean") + 0.03


@pytest.mark.compiles
def test_adenosine_feedback_switch_moves_adenosine(bath):
    long = "bath.equilibration_s=600"  # adenosine builds up over 10-30 min
    on, off = bath("hypothesis=adenosine_feedback", long), bath("hypothesis=disinhibition_pv", long)
    assert np.ptp(on.timeline["adenosine"]) > 0.005
    assert np.all(off.timeline["adenosine"] == 1.0)
