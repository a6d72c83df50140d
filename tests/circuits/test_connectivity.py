"""The two connectivity rules of circuits/spiking/network.py: fixed probability (the default)
and fixed in-degree (every cell gets round(p x reference count) distinct inputs per pathway,
weights unscaled; Brunel 2000)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ketamine_sim.circuits.spiking.network import initial_values
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.errors import ConfigError

#: A circuit of 120 cells at its own reference size, one short window on Brian2's numpy runtime.
TINY = [
    "circuit=small",
    "circuit.counts={pyr: 80, pv: 20, sst: 20}",
    "circuit.window_s=0.02",
    "circuit.transient_s=0.005",
    "backend=numpy",
]


def _structure(*overrides):
    cfg = compose_config([*TINY, *overrides])
    return C.circuit_structure(cfg), C.circuit_drive(cfg)


@pytest.mark.slow
def test_fixed_indegree_gives_every_cell_k_distinct_inputs():
    from ketamine_sim.experiments.simulation.engine import RuntimeEngine

    structure, drive = _structure(
        "circuit.connectivity=fixed_indegree", "circuit.reference_counts={pyr: 80, pv: 20, sst: 20}"
    )
    k = structure.in_degree("pyr", "pyr")
    assert k == round(structure.connection_probability["pyr", "pyr"] / structure.spine_occupancy * 80)
    values = initial_values(structure, drive, {}, None, np.random.default_rng(1))
    sites = RuntimeEngine(structure, "numpy").run_window(values, connect_seed=3, noise_seed=4).sites
    assert np.array_equal(np.bincount(sites["post"], minlength=80), np.full(80, k))
    for cell in range(80):
        inputs = sites["pre"][sites["post"] == cell]
        assert len(np.unique(inputs)) == k  # distinct presynaptic cells


def test_the_weights_scale_only_with_fixed_probability():
    base, drive = _structure("circuit.reference_counts={pyr: 80, pv: 20, sst: 20}")
    bigger = replace(base, counts={pop: 2 * n for pop, n in base.counts.items()})
    assert bigger.weight_scale("pv") == pytest.approx(base.weight_scale("pv") / 2)
    indegree = replace(bigger, connectivity="fixed_indegree")
    assert indegree.weight_scale("pv") == 1.0
    values = initial_values(indegree, drive, {}, None, np.random.default_rng(1))
    assert values["pyr"]["w_from_pv"] == pytest.approx(1e-9 * drive.weight_nS["pv", "pyr"])


def test_an_in_degree_larger_than_the_population_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"circuit.connectivity: fixed_indegree: pyr->pyr needs 400 distinct pyr cells per pyr cell, the circuit has 80",
    ):
        C.validate(compose_config([*TINY, "circuit.connectivity=fixed_indegree"]))  # reference counts of small


def test_an_unknown_rule_is_refused_naming_the_rules():
    with pytest.raises(
        ConfigError,
        match="circuit.connectivity: unknown value 'fixed_outdegree'; allowed: fixed_probability, fixed_indegree",
    ):
        C.validate(compose_config([*TINY, "circuit.connectivity=fixed_outdegree"]))
