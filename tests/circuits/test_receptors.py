"""Mg block (TARGETS R9, Jahr & Stevens 1990) and the NMDA conductance, in Python and in the
real Brian2 expressions of :data:`ketamine_sim.circuits.spiking.receptors.SYNAPTIC_EQUATIONS`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.pharmacology import block_parameters as derive_block
from ketamine_sim.circuits.spiking.receptors import (
    MG_HALF_BLOCK_MM,
    MG_VOLTAGE_SLOPE_PER_MV,
    SYNAPTIC_EQUATIONS,
    block_equations,
    mg_unblocked_fraction,
    namespace,
)
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.config.settings import block_constants

#: The block's published constants as a configured run takes them (configs/config.yaml, block.*).
_DEFAULT = compose_config([])
BLOCK_CONSTANTS = block_constants(_DEFAULT)


def block_parameters(fit: str = _DEFAULT.block.fit, escape: bool = _DEFAULT.block.trapping_escape):
    """The block scheme as a configured run derives it (``block.fit``, ``block.trapping_escape``)."""
    return derive_block(BLOCK_CONSTANTS, fit, escape, mg_competition=_DEFAULT.block.mg_competition)


VOLTAGES_MV = np.array([-100.0, -80.0, -70.0, -55.0, -40.0, -20.0, 0.0, 20.0, 40.0])
#: Half-block voltage in 1 mM Mg: 1 = (1/3.57) exp(-0.062 V)  =>  V = ln(1/3.57)/0.062 = -20.5 mV.
V_HALF_1MM_MV = math.log(1.0 / 3.57) / 0.062


def jahr_stevens(v_mV, mg_mM):
    """TARGETS R9 written out from the source (Jahr & Stevens 1990), independent of circuits/."""
    return 1.0 / (1.0 + mg_mM / 3.57 * np.exp(-0.062 * np.asarray(v_mV)))


def equation_line(equations: str, name: str) -> str:
    """The line of ``equations`` that defines ``name`` (so the test follows the real string)."""
    lines = [line for line in equations.splitlines() if line.split("=")[0].strip() == name]
    assert len(lines) == 1, f"{name} must be defined once in the equations"
    return lines[0]


def mg_block_in_brian2(b2, syn, v_mV):
    """Evaluate the ``mg_block`` line of SYNAPTIC_EQUATIONS in a Brian2 group at clamped voltages."""
    eqs = "v : volt (constant)\n" + equation_line(SYNAPTIC_EQUATIONS, "mg_block") + "\n"
    group = b2.NeuronGroup(len(v_mV), eqs, namespace=namespace(syn, block_parameters()))
    group.v = np.asarray(v_mV) * b2.mV
    b2.Network(group).run(0 * b2.ms)  # nothing changes; only marks the group as used (no Brian2 warning)
    return np.array(group.mg_block[:])


def test_published_constants():
    # R9: [Mg] half-block at 0 mV 3.57 mM, slope 0.062 /mV (Jahr & Stevens 1990)
    assert MG_HALF_BLOCK_MM == 3.57
    assert MG_VOLTAGE_SLOPE_PER_MV == 0.062


@pytest.mark.parametrize("mg_mM", [0.0, 1.0, 2.0])
def test_mg_unblocked_fraction_is_jahr_stevens(mg_mM):
    # R9; exact formula, so only rounding tolerance
    np.testing.assert_allclose(mg_unblocked_fraction(VOLTAGES_MV, mg_mM), jahr_stevens(VOLTAGES_MV, mg_mM), rtol=1e-12)
    # the familiar reference value: about 4.4% of the conductance unblocked at -70 mV in 1 mM Mg
    if mg_mM == 1.0:
        assert mg_unblocked_fraction(-70.0, 1.0) == pytest.approx(0.0445, abs=5e-4)


@pytest.mark.parametrize("mg_mM", [0.0, 1.0, 2.0])
def test_brian2_mg_block_expression_is_jahr_stevens(brian2_numpy, wang2002_synapses, mg_mM):
    # R9, evaluated by Brian2 from the equation string; [Mg] comes from SynapseParameters via namespace()
    import dataclasses

    syn = dataclasses.replace(wang2002_synapses, mg_mM=mg_mM)
    np.testing.assert_allclose(
        mg_block_in_brian2(brian2_numpy, syn, VOLTAGES_MV), jahr_stevens(VOLTAGES_MV, mg_mM), rtol=1e-9
    )


def test_half_block_voltage_in_1mM_mg(brian2_numpy, wang2002_synapses):
    # R9: unblocked fraction 0.5 at V = ln(1/3.57)/0.062 = -20.5 mV in 1 mM Mg
    assert V_HALF_1MM_MV == pytest.approx(-20.53, abs=0.01)
    assert mg_unblocked_fraction(V_HALF_1MM_MV, 1.0) == pytest.approx(0.5, abs=1e-12)
    below, half, above = mg_block_in_brian2(
        brian2_numpy, wang2002_synapses, [V_HALF_1MM_MV - 1, V_HALF_1MM_MV, V_HALF_1MM_MV + 1]
    )
    assert half == pytest.approx(0.5, abs=1e-9)
    assert below < 0.5 < above


def test_mg_block_relieved_monotonically_by_depolarisation(brian2_numpy, wang2002_synapses):
    v = np.linspace(-120.0, 60.0, 181)
    unblocked = mg_block_in_brian2(brian2_numpy, wang2002_synapses, v)
    assert np.all(np.diff(unblocked) > 0)
    assert np.all(np.diff(mg_unblocked_fraction(v, 1.0)) > 0)
    assert unblocked[0] < 0.01 and unblocked[-1] > 0.95


def test_g_nmda_composes_open_fraction_ketamine_block_and_mg(brian2_numpy, wang2002_synapses):
    """g_NMDA = gmax * s * (1 - B_total) * Mg(V), evaluated from SYNAPTIC_EQUATIONS + block_equations."""
    b2 = brian2_numpy
    eqs = SYNAPTIC_EQUATIONS + block_equations(SPECIES) + "v : volt (constant)\n"
    ns = dict(namespace(wang2002_synapses, block_parameters()), g_nmda_max=2.0 * b2.nS)
    group = b2.NeuronGroup(3, eqs, method="euler", namespace=ns)
    v_mV = np.array([-70.0, -30.0, 0.0])
    s = np.array([1.0, 0.4, 0.1])
    b_s, b_r, b_hnk = np.array([0.0, 0.2, 0.5]), np.array([0.0, 0.1, 0.2]), np.array([0.0, 0.05, 0.1])
    group.v = v_mV * b2.mV
    group.s_nmda = s
    group.b_s_ketamine, group.b_r_ketamine, group.b_hnk = b_s, b_r, b_hnk
    b2.Network(group).run(0 * b2.ms)  # state unchanged; marks the group as used (no Brian2 warning)
    expected = 2e-9 * s * (1 - b_s - b_r - b_hnk) * jahr_stevens(v_mV, 1.0)
    np.testing.assert_allclose(np.array(group.g_nmda_[:]), expected, rtol=1e-9)
    np.testing.assert_allclose(np.array(group.b_total[:]), b_s + b_r + b_hnk, rtol=1e-12)
