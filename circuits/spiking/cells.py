"""Conductance-based leaky integrate-and-fire cells: pyramidal, PV and SST.

    C_m dV/dt = -g_L (V - E_L) - I_syn,    V > V_th  ->  V = V_reset, refractory t_ref

One point compartment per cell (as in Wang 2002 [@wang2002probabilistic] and Brunel &
Wang 2001 [@brunel2001effects]). SST cells target dendrites in the cortex; in a point
neuron that is expressed only by their slower GABA_A kinetics (see
[`ketamine_sim.circuits.spiking.receptors`][ketamine_sim.circuits.spiking.receptors]). Values live in
`configs/circuit/*.yaml` with their sources; this module holds the equations.
"""

from __future__ import annotations

from dataclasses import dataclass

POPULATIONS: tuple[str, ...] = ("pyr", "pv", "sst")
EXCITATORY: tuple[str, ...] = ("pyr",)


@dataclass(frozen=True)
class CellParameters:
    """Passive and spiking constants of one cell type.

    Parameters
    ----------
    c_m_nF : float
        Membrane capacitance C_m in nF (> 0).
    g_l_nS : float
        Leak conductance g_L in nS (> 0).
    e_l_mV : float
        Leak reversal (resting) potential E_L in mV.
    v_th_mV : float
        Spike threshold V_th in mV.
    v_reset_mV : float
        Reset potential V_reset in mV, below `v_th_mV`.
    t_ref_ms : float
        Absolute refractory period in ms (> 0).

    Raises
    ------
    ValueError
        If a capacitance, conductance or refractory period is not > 0, or the reset is not
        below the threshold.

    Examples
    --------
    >>> from ketamine_sim.circuits.spiking.cells import CellParameters
    >>> CellParameters(0.5, 25.0, -70.0, -50.0, -55.0, 2.0).tau_m_ms
    20.0
    """

    c_m_nF: float  #: membrane capacitance
    g_l_nS: float  #: leak conductance
    e_l_mV: float  #: leak reversal (resting) potential
    v_th_mV: float  #: spike threshold
    v_reset_mV: float  #: reset potential
    t_ref_ms: float  #: absolute refractory period

    def __post_init__(self) -> None:
        for name in ("c_m_nF", "g_l_nS", "t_ref_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.v_reset_mV < self.v_th_mV:
            raise ValueError(f"v_reset_mV ({self.v_reset_mV}) must be below v_th_mV ({self.v_th_mV})")

    @property
    def tau_m_ms(self) -> float:
        """Membrane time constant C_m / g_L in ms."""
        return 1e3 * self.c_m_nF / self.g_l_nS


MEMBRANE_EQUATION = """
dv/dt = (-g_l * (v - e_l) - i_syn) / c_m : volt (unless refractory)
"""
