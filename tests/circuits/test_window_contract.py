"""The declared window contract (ketamine_sim.circuits.spiking.window) matches what the code sets and reads."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.network import initial_values, neuron_equations
from ketamine_sim.circuits.spiking.window import CARRIED_VARIABLES, INIT_VARIABLES, OUTPUT_VARIABLES, variables
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config


@pytest.fixture(scope="module")
def small():
    cfg = compose_config(["circuit=small"])
    return C.circuit_structure(cfg), C.circuit_drive(cfg)


@pytest.mark.parametrize("pop", POPULATIONS)
def test_initial_values_set_exactly_the_init_variables(small, pop):
    structure, drive = small
    values = initial_values(structure, drive, {}, None, np.random.default_rng(1))
    assert sorted(values[pop]) == sorted(variables(INIT_VARIABLES, pop))


def test_carried_sites_are_a_synapse_init_variable(small):
    structure, drive = small
    spines = np.ones(3)
    values = initial_values(structure, drive, {}, None, np.random.default_rng(1), spines=spines)
    assert sorted(values["pyr_to_pyr"]) == sorted(variables(INIT_VARIABLES, "pyr_to_pyr"))


@pytest.mark.parametrize("pop", POPULATIONS)
def test_every_declared_variable_is_in_the_equations(pop):
    from brian2 import Equations

    names = Equations(neuron_equations(excitatory=pop == "pyr")).names
    for table in (INIT_VARIABLES, OUTPUT_VARIABLES, CARRIED_VARIABLES):
        missing = set(variables(table, pop)) - set(names)
        assert not missing, f"{pop}: {sorted(missing)} declared but not in the equations"


def test_what_is_carried_is_returned_and_taken():
    for target in ("pyr", "pv", "sst", "pyr_to_pyr"):
        carried = set(variables(CARRIED_VARIABLES, target))
        assert carried <= set(variables(OUTPUT_VARIABLES, target))
        assert carried <= set(variables(INIT_VARIABLES, target))
