"""Every ``units`` attribute of a ``results.h5`` parses with a units library (pint), for every
experiment kind with every slow track on; explanations live in ``description``, and the reader
gives back the model's own unit text."""

from __future__ import annotations

import h5py
import pytest
from helpers.fake_engine import fake_run

from ketamine_sim.experiments.results import read_results, split_units

pint = pytest.importorskip("pint")
UNITS = pint.UnitRegistry()

#: One short run of each experiment kind that writes a results.h5 (the course with plasticity,
#: the glutamate/adenosine tracks through the hypothesis that enables them).
KINDS = {
    "iv_infusion": ["experiment=iv_infusion", "hypothesis=combined"],
    "bath": ["experiment=bath", "bath.concentrations_uM=[0,1]"],
    "evoked_release": ["experiment=evoked_release"],
    "course": [
        "experiment=course",
        "dosing=single_iv",
        "dosing.follow_days=1",
        "course.window_days_after_last_dose=[1]",
    ],
}


def _unit_attributes(path):
    out = {}

    def visit(name, obj):
        if "units" in obj.attrs:
            value = obj.attrs["units"]
            out[name] = (value.decode() if isinstance(value, bytes) else str(value), obj.attrs.get("description"))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return {kind: fake_run(tmp_path_factory.mktemp(kind), overrides) for kind, overrides in KINDS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_every_units_attribute_parses_with_pint(runs, kind):
    attributes = _unit_attributes(runs[kind])
    assert len(attributes) > 20
    for name, (unit, _) in attributes.items():
        try:
            UNITS.parse_units(unit)
        except Exception as error:  # pint raises several kinds
            pytest.fail(f"{name}: units {unit!r} does not parse with pint ({error})")


@pytest.mark.slow
def test_explanations_are_kept_in_description_and_read_back(runs):
    attributes = _unit_attributes(runs["course"])
    unit, description = attributes["timeline/spine_density"]
    assert unit == "1" and description == "relative to the healthy steady state"
    data = read_results(runs["course"])
    assert data.timeline_units["spine_density"] == "1 (relative to the healthy steady state)"
    assert data.readout_units["rate"] == "Hz"


@pytest.mark.parametrize(
    "text, unit, description",
    [("Hz", "Hz", ""), ("1 (relative to baseline)", "1", "relative to baseline"), ("pC/mV", "pC/mV", "")],
)
def test_split_units(text, unit, description):
    assert split_units(text) == (unit, description)


@pytest.mark.slow
def test_total_plasma_ketamine_is_given_in_ng_per_ml_as_clinical_studies_report_it(tmp_path):
    """``/timeline/plasma_ketamine_ng_per_ml`` is S + R ketamine (an achiral assay of the
    racemate) converted with the molar mass; pint converts it back to the per-species uM."""
    from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL

    data = read_results(fake_run(tmp_path / "iv", ["experiment=iv_infusion"]))
    total = data.timeline["plasma_ketamine_ng_per_ml"]
    assert data.timeline_units["plasma_ketamine_ng_per_ml"] == "ng/mL" and total.max() > 0
    molar = (data.timeline["plasma_s_ketamine_uM"] + data.timeline["plasma_r_ketamine_uM"]) * UNITS("umol/L")
    as_mass = (molar * MOLAR_MASS_G_PER_MOL["s_ketamine"] * UNITS("g/mol")).to("ng/mL").magnitude
    assert as_mass == pytest.approx(total, rel=1e-12)
    nk = data.timeline["plasma_s_norketamine_uM"] + data.timeline["plasma_r_norketamine_uM"]
    assert data.timeline["plasma_norketamine_ng_per_ml"] == pytest.approx(nk * MOLAR_MASS_G_PER_MOL["s_norketamine"])
