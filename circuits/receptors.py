"""AMPA, NMDA and GABA_A conductances, the Mg block and ketamine's NMDA block, per neuron.

Every receptor's state is summed per postsynaptic neuron (event-driven increments,
no per-synapse state), which keeps the compiled loop fast:

    I_syn = g_AMPA (V - E_exc) + g_NMDA (V - E_exc) + (g_PV + g_SST) (V - E_inh)
    dg_AMPA/dt = -g_AMPA / tau_AMPA;  dg_PV/dt = -g_PV / tau_PV;  dg_SST/dt = -g_SST / tau_SST
    dx/dt = -x / tau_rise;  ds/dt = -s / tau_decay + alpha x (1 - s)        (Wang 2002)
    g_NMDA = gmax_NMDA * s * (1 - B) * Mg(V)
    Mg(V) = 1 / (1 + [Mg] / 3.57 mM * exp(-0.062 V / mV))                  (Jahr & Stevens 1990)

``s`` is the fraction of the neuron's NMDA receptors with glutamate bound (it
saturates per neuron rather than per synapse: the approximation that keeps NMDA
state per neuron). ``B`` is ketamine's blocked fraction, see :mod:`circuits.pharmacology`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .compounds import SPECIES
from .pharmacology import BlockParameters

#: Jahr & Stevens 1990 (TARGETS R9): half-block [Mg] at 0 mV and voltage slope.
MG_HALF_BLOCK_MM = 3.57
MG_VOLTAGE_SLOPE_PER_MV = 0.062


def mg_unblocked_fraction(v_mV, mg_mM: float = 1.0):
    """Jahr & Stevens 1990: fraction of NMDA conductance not blocked by Mg at V (mV)."""
    return 1.0 / (1.0 + mg_mM / MG_HALF_BLOCK_MM * np.exp(-MG_VOLTAGE_SLOPE_PER_MV * np.asarray(v_mV)))


@dataclass(frozen=True)
class SynapseParameters:
    """Reversal potentials and kinetics shared by all synapses of the circuit."""

    e_exc_mV: float  #: AMPA/NMDA reversal
    e_inh_mV: float  #: GABA_A reversal
    tau_ampa_ms: float  #: AMPA decay
    tau_nmda_rise_ms: float  #: NMDA rise (x)
    tau_nmda_decay_ms: float  #: NMDA decay (s)
    alpha_nmda_per_ms: float  #: NMDA binding rate
    tau_gaba_pv_ms: float  #: GABA_A decay of PV (perisomatic) synapses
    tau_gaba_sst_ms: float  #: GABA_A decay of SST (dendritic) synapses
    mg_mM: float  #: extracellular Mg
    delay_ms: float  #: synaptic delay

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name.startswith(("tau", "alpha", "delay")) and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.mg_mM < 0:
            raise ValueError(f"mg_mM must be >= 0, got {self.mg_mM}")


SYNAPTIC_EQUATIONS = """
i_syn = (g_ampa + g_nmda) * (v - e_exc) + (g_pv + g_sst) * (v - e_inh) : amp
dg_ampa/dt = -g_ampa / tau_ampa : siemens
dg_pv/dt = -g_pv / tau_gaba_pv : siemens
dg_sst/dt = -g_sst / tau_gaba_sst : siemens
dx_nmda/dt = -x_nmda / tau_nmda_rise : 1
ds_nmda/dt = -s_nmda / tau_nmda_decay + alpha_nmda * x_nmda * (1 - s_nmda) : 1
mg_block = 1 / (1 + mg / mg_half_block * exp(-mg_slope * v / mV)) : 1
g_nmda = g_nmda_max * s_nmda * (1 - b_total) * mg_block : siemens
"""

#: Conductance and open-time integrals over a window, read out at its end (reset each window).
ACCUMULATOR_EQUATIONS = """
dq_ampa/dt = g_ampa : siemens * second
dq_nmda/dt = g_nmda : siemens * second
dq_inh/dt = g_pv + g_sst : siemens * second
dopen_time/dt = s_nmda : second
dopen_unbind_time/dt = s_nmda * exp((v - v_block_ref) / v_block_e) : second
"""
ACCUMULATORS: tuple[str, ...] = ("q_ampa", "q_nmda", "q_inh", "open_time", "open_unbind_time")


def block_equations(species: tuple[str, ...] = SPECIES) -> str:
    """Brian2 equations of the trapping block, one blocked fraction ``b_<species>`` per species.

    Concentrations ``c_<species>`` are per-neuron constants in uM (run arguments),
    ``kon_<species>`` namespace constants in 1/(uM s).
    """
    total = " + ".join(f"b_{k}" for k in species)
    lines = [
        f"b_total = {total} : 1",
        "koff_v = koff * exp((v - v_block_ref) / v_block_e) : Hz",
    ]
    for k in species:
        lines.append(
            f"db_{k}/dt = s_nmda * (kon_{k} * c_{k} * (1 - b_total) - koff_v * b_{k})"
            f" - (1 - s_nmda) * kescape * b_{k} : 1"
        )
        lines.append(f"c_{k} : 1 (constant)")
    return "\n".join(lines) + "\n"


def namespace(syn: SynapseParameters, block: BlockParameters) -> dict:
    """Brian2 constants of the synaptic and block equations."""
    from brian2 import Hz, mM, ms, mV

    names = {
        "e_exc": syn.e_exc_mV * mV,
        "e_inh": syn.e_inh_mV * mV,
        "tau_ampa": syn.tau_ampa_ms * ms,
        "tau_nmda_rise": syn.tau_nmda_rise_ms * ms,
        "tau_nmda_decay": syn.tau_nmda_decay_ms * ms,
        "alpha_nmda": syn.alpha_nmda_per_ms / ms,
        "tau_gaba_pv": syn.tau_gaba_pv_ms * ms,
        "tau_gaba_sst": syn.tau_gaba_sst_ms * ms,
        "mg": syn.mg_mM * mM,
        "mg_half_block": MG_HALF_BLOCK_MM * mM,
        "mg_slope": MG_VOLTAGE_SLOPE_PER_MV,
        "koff": block.koff_per_s * Hz,
        "kescape": block.escape_per_s * Hz,
        "v_block_ref": -70 * mV,
        "v_block_e": block.v_e_mV * mV,
    }
    for k in block.dissociation_uM:
        names[f"kon_{k}"] = block.kon_per_uM_per_s(k) * Hz
    return names
