"""One home per number: the model's tunable numbers live in configs/ and nowhere else.

- No dataclass of ``circuits/`` gives a field a default, except the few listed below with
  the reason why the value is not a parameter; every object the config layer builds comes
  from a config node through the generic builder, which refuses a field without a key.
- The objects a configured run uses hold exactly the values of the files, for the default
  config and every option of the groups that hold parameters.
- A number at module level in ``circuits/`` is a physical or definitional constant, a unit
  conversion or a validity bound, each listed below: anything else belongs in configs/.
- The builder's errors are one line naming the override path.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from ketamine_sim import circuits
from ketamine_sim.circuits.slow.pharmacokinetics import EXTRAVASCULAR, INTRAVASCULAR_BIOAVAILABILITY
from ketamine_sim.circuits.spiking.vesicles import VesicleParameters
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config, settings
from ketamine_sim.experiments.paths import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[2]

#: Dataclass fields of circuits/ that keep a default, and why the value is not a parameter.
ALLOWED_DEFAULTS = {
    ("DosingEvent", "duration_min"): "0 is the only valid duration of every route but iv_infusion",
    ("Neurochemistry", "glutamate"): "the state variables are relative to baseline: 1 by definition",
    ("Neurochemistry", "adenosine"): "the state variables are relative to baseline: 1 by definition",
    ("Circuit", "objects"): "Brian2 objects of a built circuit, not numbers",
    ("Circuit", "synapses"): "Brian2 objects of a built circuit, not numbers",
    ("Circuit", "pathways"): "Brian2 objects of a built circuit, not numbers",
    ("Circuit", "field_monitor"): "Brian2 objects of a built circuit, not numbers",
    (
        "ChannelActivity",
        "access_fraction",
    ): "a measurement, not a parameter: None is the open fraction itself (binding without Mg competition)",
}

#: Module-level numbers of circuits/ and why each stays in code.
CODE_CONSTANTS = {
    "MOLAR_MASS_G_PER_MOL": "chemistry: molar masses of the free bases",
    "_MOLAR_TO_UM": "unit conversion",
    "_MASS_TO_NG_PER_ML": "unit conversion",
    "BOLTZMANN_J_PER_K": "exact SI constant",
    "ELEMENTARY_CHARGE_C": "exact SI constant",
    "MAX_CONCENTRATION_UM": "validity bound of the model (what is checked), not a parameter",
    "INTRAVASCULAR_BIOAVAILABILITY": "1 by definition",
    "SECONDS_PER_DAY": "unit conversion",
    "SECONDS_PER_HOUR": "unit conversion",
    "SEED_MAX": "the range of a 32-bit seed",
    "MG_HALF_BLOCK_MM": "constant of the published Mg-block equation (Jahr & Stevens 1990), part of its form",
    "MG_VOLTAGE_SLOPE_PER_MV": "constant of the published Mg-block equation (Jahr & Stevens 1990), part of its form",
    "MAZZONI_DELAY_MS": "constant of the published field-potential proxy (Mazzoni 2015, RWS), part of its form",
    "FIELD_STEP_MS": "the recording interval of the field proxy's currents (a measurement choice, not a model parameter)",
    "MAZZONI_GABA_WEIGHT": "constant of the published field-potential proxy (Mazzoni 2015, RWS), part of its form",
    "V_REF_MV": "the holding potential at which the published block constants were measured (their reference), not a parameter",
}

#: Groups whose options hold model parameters (each option is built and compared with its file).
PARAMETER_GROUPS = ("circuit", "drug", "pk", "state", "hypothesis", "manipulation")


def _circuits_modules():
    for info in pkgutil.walk_packages(circuits.__path__, "ketamine_sim.circuits."):
        yield importlib.import_module(info.name)


def _circuits_dataclasses():
    seen = {}
    for module in _circuits_modules():
        for _, obj in inspect.getmembers(module, dataclasses.is_dataclass):
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                seen[obj.__qualname__] = obj
    return seen


def test_no_dataclass_of_the_model_has_a_default_that_competes_with_the_configs():
    classes = _circuits_dataclasses()
    assert {"PlasticityParameters", "PKParameters", "BlockConstants", "VesicleParameters"} <= set(classes)
    defaults = {
        (name, f.name)
        for name, cls in classes.items()
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
    assert defaults == set(ALLOWED_DEFAULTS), (
        "a dataclass field of circuits/ has a default: move the value to configs/ (or, if it is no "
        f"parameter, list it here with the reason): {sorted(defaults ^ set(ALLOWED_DEFAULTS))}"
    )


def test_numbers_at_module_level_in_the_model_are_constants_not_parameters():
    found = {}
    for path in sorted((ROOT / "circuits").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            numbers = [
                n
                for n in ast.walk(node.value)
                if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)
            ]
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if numbers:
                    found[ast.unparse(target)] = str(path.relative_to(ROOT))
    unlisted = {name: where for name, where in found.items() if name not in CODE_CONSTANTS}
    assert not unlisted, f"numbers in circuits/ that belong in configs/ (or in CODE_CONSTANTS, with why): {unlisted}"


def _option_overrides() -> list[list[str]]:
    cases = [[]]
    for group in PARAMETER_GROUPS:
        cases += [[f"{group}={p.stem}"] for p in sorted((Path(CONFIG_DIR) / group).glob("*.yaml"))]
    return cases


def _built(cfg, monkeypatch) -> list[tuple[type, str, object, set]]:
    """Every object the config layer builds for ``cfg``: (class, config path, object, given fields)."""
    calls = []
    build = settings._build

    def recording(cls, cfg_, path, specs, given=None, skip=()):
        obj = build(cls, cfg_, path, specs, given=given, skip=skip)
        calls.append((cls, path, obj, set(given or ())))
        return obj

    monkeypatch.setattr(settings, "_build", recording)
    structure = C.circuit_structure(cfg)
    C.circuit_drive(cfg)
    C.neurochemistry(cfg)
    C.plasticity(cfg, structure)
    C.drug(cfg)
    C.pk_parameters(cfg)
    return calls


@pytest.mark.parametrize("overrides", _option_overrides(), ids=lambda o: " ".join(o) or "default")
def test_the_objects_a_run_uses_hold_the_values_of_the_files(overrides, monkeypatch):
    cfg = compose_config(["circuit=small", *overrides])
    calls = _built(cfg, monkeypatch)
    built = {cls.__name__ for cls, *_ in calls}
    assert {
        "CellParameters",
        "SynapseParameters",
        "BackgroundInput",
        "VesicleParameters",
        "BlockConstants",
        "NeurochemistryParameters",
        "PlasticityParameters",
        "BrainState",
        "Drug",
        "PKParameters",
    } <= built
    for cls, path, obj, given in calls:
        for field in dataclasses.fields(cls):
            if field.name in given:
                continue
            expected = OmegaConf.to_container(cfg, resolve=True)
            for part in f"{path}.{field.name}".split("."):
                expected = expected[part]
            value = getattr(obj, field.name)
            if isinstance(expected, dict) and cls.__name__ == "Drug":  # species absent from a preparation: 0
                expected = {k: v for k, v in expected.items() if v != 0}
            assert value == expected and type(value) is type(expected), f"{path}.{field.name}"


def test_given_fields_come_from_their_own_keys():
    cfg = compose_config(["circuit=small"])
    pk = C.pk_parameters(cfg)
    assert pk.bioavailability == {
        **INTRAVASCULAR_BIOAVAILABILITY,
        **{r: cfg.pk.bioavailability[r] for r in EXTRAVASCULAR},
    }
    assert C.plasticity(cfg).params.occupancy == cfg.circuit.spine_sites.occupancy
    assert C.circuit_structure(cfg).spine_occupancy == cfg.circuit.spine_sites.occupancy
    block = C.circuit_structure(cfg).block
    assert (block.fit, block.koff_per_s) == (cfg.block.fit, cfg.block.koff_per_s)


# --------------------------------------------------------------------------- the builder's errors
VESICLES = {"u_release": 0.5, "tau_rec_ms": 800.0, "recycling_slowing": 1.0, "depression": True, "initial_rate_hz": 2.0}


def _vesicles(**changes):
    node = {k: v for k, v in (VESICLES | changes).items() if v is not None}
    return settings._build(
        VesicleParameters, {"circuit": {"vesicles": node}}, "circuit.vesicles", settings._VESICLE_SPECS
    )


def test_the_builder_maps_a_node_onto_the_dataclass():
    assert _vesicles() == VesicleParameters(**VESICLES)


@pytest.mark.parametrize(
    "changes, path, message",
    [
        ({"initial_rate_hz": None}, "circuit.vesicles.initial_rate_hz", "missing"),
        ({"spare": 1.0}, "circuit.vesicles.spare", "unknown key"),
        ({"u_release": 0.0}, "circuit.vesicles.u_release", "must be > 0"),
        ({"tau_rec_ms": "slow"}, "circuit.vesicles.tau_rec_ms", "must be a number"),
        ({"depression": 1}, "circuit.vesicles.depression", "must be true or false"),
    ],
)
def test_the_builder_names_the_override_path_in_one_line(changes, path, message):
    with pytest.raises(C.ConfigError) as error:
        _vesicles(**changes)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "override, path, message",
    [
        ("drug.composition.s_ketamine=0.7", "drug", "sum to 1.2"),
        ("block.ki_uM.r_ketamine=0", "block.ki_uM.r_ketamine", "must be > 0"),
        ("pk.bioavailability.oral=1.5", "pk.bioavailability.oral", "must be <= 1"),
        ("pk.norketamine_half_life_min=0", "pk.norketamine_half_life_min", "must be > 0"),
        ("block.trapped_fraction=0", "block.trapped_fraction", "must be > 0"),
    ],
)
def test_moved_numbers_are_checked_like_every_other(override, path, message):
    with pytest.raises(C.ConfigError) as error:
        C.validate(compose_config(["circuit=small", override]))
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("override, group", [("drug.name=esketamine", "drug"), ("pk.name=kamp2020", "pk")])
def test_a_name_alone_does_not_relabel_the_chosen_options_numbers(override, group):
    """The numbers come with the group option (drug=esketamine brings its composition); renaming
    the option's name key would run one option's numbers under another's name."""
    from ketamine_sim.experiments import app

    with pytest.raises(C.ConfigError) as error:
        app.check_overrides(["circuit=small", override])
    assert str(error.value).startswith(f"{group}.name: choose the") and f"{group}=<name>" in str(error.value)
