"""AMPA, NMDA and GABA_A conductances, the Mg block and ketamine's NMDA block, per neuron.

Every receptor's state is summed per postsynaptic neuron (event-driven increments,
no per-synapse state), which keeps the compiled loop fast:

    I_syn = g_AMPA (V - E_exc) + g_NMDA (V - E_exc) + (g_PV + g_SST) (V - E_inh)
    dg_AMPA/dt = -g_AMPA / tau_AMPA;  dg_PV/dt = -g_PV / tau_PV;  dg_SST/dt = -g_SST / tau_SST
    dx/dt = -x / tau_rise;  ds/dt = -s / tau_decay + alpha x (1 - s)        (Wang 2002)
    g_NMDA = gmax_NMDA * s * (1 - B) * Mg(V)
    Mg(V) = 1 / (1 + [Mg] / 3.57 mM * exp(-0.062 V / mV))                  (Jahr & Stevens 1990)

(NMDA kinetics of Wang 2002 [@wang2002probabilistic]; Mg block of Jahr & Stevens 1990
[@jahr1990voltage].) `s` is the fraction of the neuron's NMDA receptors with glutamate
bound (it saturates per neuron rather than per synapse: the approximation that keeps NMDA
state per neuron). `B` is ketamine's blocked fraction, see
[`ketamine_sim.circuits.pharmacology`][ketamine_sim.circuits.pharmacology].

Fractions are stepped implicitly, not by the group's (forward) Euler method: `s` and the
blocked fractions `B_k` obey equations that are linear in themselves once the other
variables are held over a step, and
[`receptor_update_code`][ketamine_sim.circuits.spiking.receptors.receptor_update_code] applies their
backward Euler step, solved in closed form (with `x`, `s`, `V` and the concentrations held
at their values at the start of the step, the values Euler would use). Forward Euler leaves
[0, 1] as soon as a rate times dt exceeds 1 (`kon c dt` > 1 at about 20 mM of S-ketamine
at dt = 0.1 ms, and it oscillates and diverges beyond 2); the implicit step keeps every
`B_k` >= 0, their sum <= 1 and `s` in [0, 1] at any concentration and input, at the
cost of a few divisions (no extra exponential).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compounds import SPECIES
from ..pharmacology import V_REF_MV, BlockParameters

#: Jahr & Stevens 1990 (TARGETS R9): half-block [Mg] at 0 mV and voltage slope.
MG_HALF_BLOCK_MM = 3.57
MG_VOLTAGE_SLOPE_PER_MV = 0.062


def mg_unblocked_fraction(v_mV, mg_mM: float):
    """Fraction of NMDA conductance not blocked by Mg at V (Jahr & Stevens 1990 [@jahr1990voltage]).

    Parameters
    ----------
    v_mV : float or array_like
        Membrane potential in mV.
    mg_mM : float
        Extracellular Mg concentration in mM (``circuit.synapses.mg_mM``).

    Returns
    -------
    numpy.ndarray
        Unblocked fraction (dimensionless, in (0, 1]), of the shape of `v_mV` (a 0-d array
        for a number): 1 / (1 + [Mg] / 3.57 mM exp(-0.062 V / mV)).

    Examples
    --------
    >>> from ketamine_sim.circuits.spiking.receptors import mg_unblocked_fraction
    >>> [round(float(f), 3) for f in mg_unblocked_fraction([-70.0, 0.0], mg_mM=1.0)]
    [0.044, 0.781]
    """
    return 1.0 / (1.0 + mg_mM / MG_HALF_BLOCK_MM * np.exp(-MG_VOLTAGE_SLOPE_PER_MV * np.asarray(v_mV)))


@dataclass(frozen=True)
class SynapseParameters:
    """Reversal potentials and kinetics shared by all synapses of the circuit.

    Parameters
    ----------
    e_exc_mV : float
        AMPA/NMDA reversal potential in mV.
    e_inh_mV : float
        GABA_A reversal potential in mV.
    tau_ampa_ms : float
        AMPA decay time constant in ms.
    tau_nmda_rise_ms : float
        NMDA rise time constant (of x) in ms.
    tau_nmda_decay_ms : float
        NMDA decay time constant (of s) in ms.
    alpha_nmda_per_ms : float
        NMDA binding rate in 1/ms.
    tau_gaba_pv_ms : float
        GABA_A decay of PV (perisomatic) synapses in ms.
    tau_gaba_sst_ms : float
        GABA_A decay of SST (dendritic) synapses in ms.
    mg_mM : float
        Extracellular Mg concentration in mM (>= 0).
    delay_ms : float
        Synaptic delay in ms.

    Raises
    ------
    ValueError
        If a time constant, rate or delay is not > 0, or `mg_mM` < 0.
    """

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
s_nmda : 1  # open fraction, stepped by receptor_update_code()
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
dopen_access_time/dt = s_nmda * mg_access : second
"""
ACCUMULATORS: tuple[str, ...] = ("q_ampa", "q_nmda", "q_inh", "open_time", "open_unbind_time", "open_access_time")


def block_equations(species: tuple[str, ...] = SPECIES) -> str:
    """Brian2 variables of the trapping block, one blocked fraction ``b_<species>`` per species.

    Concentrations `c_<species>` are per-neuron constants in uM (run arguments),
    `kon_<species>` namespace constants in 1/(uM s). The fractions are stepped by
    [`block_update_code`][ketamine_sim.circuits.spiking.receptors.block_update_code] (a group that has them
    needs it as a `run_regularly`).

    Parameters
    ----------
    species : tuple of str
        The species, one blocked fraction and one concentration each (default `SPECIES`).

    Returns
    -------
    str
        Brian2 equations, one per line.

    Examples
    --------
    >>> from ketamine_sim.circuits.spiking.receptors import block_equations
    >>> print(block_equations(("s_ketamine",)))
    b_total = clip(b_s_ketamine, 0, 1) : 1
    koff_v = koff * exp((v - v_block_ref) / v_block_e) : Hz
    mg_access = 1 / (1 + mg_competition * mg / mg_half_block * exp(-mg_slope * v / mV)) : 1
    b_s_ketamine : 1  # blocked fraction, stepped by block_update_code()
    c_s_ketamine : 1 (constant)
    <BLANKLINE>
    """
    total = " + ".join(f"b_{k}" for k in species)
    lines = [
        f"b_total = clip({total}, 0, 1) : 1",
        "koff_v = koff * exp((v - v_block_ref) / v_block_e) : Hz",
        "mg_access = 1 / (1 + mg_competition * mg / mg_half_block * exp(-mg_slope * v / mV)) : 1",
    ]
    for k in species:
        lines.append(f"b_{k} : 1  # blocked fraction, stepped by block_update_code()")
        lines.append(f"c_{k} : 1 (constant)")
    return "\n".join(lines) + "\n"


def block_update_code(species: tuple[str, ...] = SPECIES) -> str:
    """Brian2 code of one implicit (backward Euler) time step ``dt`` of the block equations.

    With ``s``, ``V`` and the concentrations held at their values at the step's start,
    ``dB_k/dt = a_k (1 - B_tot) - lam B_k`` is linear (``a_k = s m kon_k c_k``, m the share of
    open channels free of Mg, ``mg_access``, 1 without ``mg_competition``;
    ``lam = s koff(V) + (1 - s) kesc``, ``A = sum_k a_k``) and its backward Euler step solves
    in closed form: the free fraction ``F = 1 - B_tot`` first, then each species,

        F' = (F + lam dt) / (1 + (A + lam) dt),      B_k' = (B_k + a_k dt F') / (1 + lam dt)

    Every term is >= 0, so each B_k' >= 0 and their sum is ``1 - F'`` in [0, 1] (to rounding,
    which ``b_total`` clips) for any rate and step; one step of a huge rate lands on the
    equilibrium ``A / (A + lam)``, and at any step size the fixed point is the exact steady
    state. Forward Euler, what the group's `method` would apply, leaves [0, 1] once
    `kon c dt` > 1. The error per step is that of Euler, (rate dt)^2 / 2.

    Parameters
    ----------
    species : tuple of str
        The species whose blocked fractions are stepped (default `SPECIES`).

    Returns
    -------
    str
        Brian2 abstract code, one statement per line.
    """
    lines = [f"step_a_{k} = s_nmda * mg_access * kon_{k} * c_{k} * dt" for k in species]
    lines += [
        "step_loss = (s_nmda * koff_v + (1 - s_nmda) * kescape) * dt",
        "step_free = (1 - b_total + step_loss) / (1 + step_loss + " + " + ".join(f"step_a_{k}" for k in species) + ")",
    ]
    lines += [f"b_{k} = (b_{k} + step_a_{k} * step_free) / (1 + step_loss)" for k in species]
    return "\n".join(lines) + "\n"


#: One implicit (backward Euler) step of the open fraction with x held at its start value:
#: ds/dt = alpha x (1 - s) - s / tau_decay gives s' = (s + alpha x dt) / (1 + (alpha x + 1/tau_decay) dt),
#: in [0, 1] for any x >= 0 and step (forward Euler overshoots 1 once alpha x dt > 1).
NMDA_OPEN_UPDATE = """
s_nmda = (s_nmda + alpha_nmda * x_nmda * dt) / (1 + (alpha_nmda * x_nmda + 1 / tau_nmda_decay) * dt)
"""


def receptor_update_code(species: tuple[str, ...] = SPECIES) -> str:
    """The implicit steps of the block and of the open fraction, in that order (the block uses
    ``s`` at the step's start). Run it before the group's state update (``when="groups"``,
    ``order=-1``), so that every step starts from the values Euler would use."""
    return block_update_code(species) + NMDA_OPEN_UPDATE


def on_pre_code(pre: str, spine_sites: bool = False) -> str:
    """What a presynaptic spike of population ``pre`` does to the postsynaptic receptors
    (Brian2 ``on_pre`` code of a ``Synapses`` object).

    A pyramidal spike opens AMPA and (through the rise variable ``x_nmda``) NMDA receptors in
    proportion to the fraction of the vesicle pool it released relative to baseline release
    (``last_release_pre / u_baseline_pre``: short-term depression and the A1 feedback act
    here, [`ketamine_sim.circuits.spiking.vesicles`][ketamine_sim.circuits.spiking.vesicles]), times ``spine`` on E->E synapses that are spine
    sites; the AMPA part also counts the local activation the plasticity track reads
    (``ampa_local``, after the transient ``t_settle``). An interneuron spike adds its weight
    to the postsynaptic GABA_A conductance of its type (``g_pv`` or ``g_sst``).
    """
    if pre != "pyr":
        return f"g_{pre}_post += w_from_{pre}_post"
    return (
        f"efficacy = {'spine * ' if spine_sites else ''}last_release_pre / u_baseline_pre\n"
        "g_ampa_post += w_from_pyr_post * ampa_scale_post * efficacy\n"
        "ampa_local_post += ampa_scale_post * efficacy * int(t >= t_settle)\n"
        "x_nmda_post += w_from_pyr_post * nmda_ratio_post * efficacy / nmda_capacity"
    )


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
        "v_block_ref": V_REF_MV * mV,
        "v_block_e": block.v_e_mV * mV,
        "mg_competition": 1.0 if block.mg_competition else 0.0,
    }
    for k in block.dissociation_uM:
        names[f"kon_{k}"] = block.kon_per_uM_per_s(k) * Hz
    return names
