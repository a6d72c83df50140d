"""Open-channel, voltage-dependent, trapping block of NMDA receptors by ketamine.

Scheme (per neuron, one block fraction ``B_k`` per species k, all competing for
the one channel site; ``s`` is the fraction of the neuron's NMDA receptors with
glutamate bound, i.e. open channels):

    dB_k/dt = s * (kon_k * c_k * (1 - sum_j B_j) - koff(V) * B_k) - (1 - s) * kesc * B_k
    koff(V) = koff(-70 mV) * exp((V + 70 mV) / V_e),   V_e = k_B T / (z delta e)

- *Open-channel*: the blocker binds and leaves only while the channel is open (factor s).
- *Trapping*: when glutamate unbinds the channel closes around the blocker, which
  stays (``kesc`` is a slow escape from the closed, blocked channel; Mealing 1999).
- *Voltage dependence* (Woodhull): depolarisation drives the cation out; all of
  it is put on koff, which shifts the IC50 e-fold per V_e (Gilling 2009, R3).

At fixed s = 1 the steady state is ``B_k = (c_k/K_k) / (1 + sum_j c_j/K_j)``, with
``K_k = koff/kon_k``: a racemate is a 50:50 mixture of S and R competing for the site,
so its apparent IC50 is ``2 K_S K_R / (K_S + K_R)``.

One first-order scheme cannot match both R1 and R2 of TARGETS: Gilling 2009's
kinetic rates give koff/kon = 0.22 / 1.5e5 = 1.47 uM, its equilibrium IC50 is 0.71 uM
(Hill 0.84). ``fit="equilibrium"`` (the configured choice, ``block.fit``) keeps the IC50 and koff and derives kon
(2.1x Gilling's); ``fit="kinetic"`` keeps kon and koff and so the IC50 is 2.1x R1.
[`fit_report`][ketamine_sim.circuits.pharmacology.fit_report] states the mismatch for either choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .compounds import SPECIES

#: Exact SI values (2019 definition of the SI units): physical constants, not parameters.
BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19

#: The published constants the scheme is derived from (IC50, kon, koff, delta, trapping, Ki per
#: species) live in ``configs/config.yaml`` (``block.*``) with their sources, as `BlockConstants`.

#: Highest brain or bath concentration (uM, all species together) the model accepts. An
#: anaesthetic serum level of S-ketamine, about 2000 ng/mL = 8 uM (Langsjo 2005, Anesthesiology
#: 103:258), times the whole-brain : plasma ratio 6.5 (Cohen 1973, TARGETS P6) is about 55 uM;
#: 1 mM is 18 times that and already blocks 99.9% of the channels (racemate, -70 mV). Far above
#: anaesthetic levels the drug's other targets, absent from the model, dominate: beyond 1 mM
#: the model describes nothing measured (a bound by choice, not a published value).
MAX_CONCENTRATION_UM = 1000.0

FITS = ("equilibrium", "kinetic")

#: Holding potential of the block measurements (mV): the constants hold there, and koff is
#: referenced to it, koff(V) = koff * exp((V - V_REF_MV) / V_e). Gilling 2009 [@gilling2009potency], R1/R2.
V_REF_MV = -70.0


#: The block species whose constants scale with Ebert 1997's Ki (R6, R7); HNK takes its own IC50 (R8).
KI_SPECIES: tuple[str, ...] = ("s_ketamine", "r_ketamine", "s_norketamine", "r_norketamine")


def voltage_e_fold_mV(delta: float, temperature_K: float, valence: int = 1) -> float:
    """V_e = k_B T / (z delta e) in mV: the voltage step that changes the IC50 e-fold."""
    return 1e3 * BOLTZMANN_J_PER_K * temperature_K / (valence * delta * ELEMENTARY_CHARGE_C)


@dataclass(frozen=True)
class BlockConstants:
    """Published constants of ketamine's block (TARGETS section 1); values and sources in
    ``configs/config.yaml`` (``block.*``)."""

    ic50_racemic_uM: float  #: racemate IC50 at GluN1/GluN2A, -70 mV, no Mg (Gilling 2009, R1)
    hill_racemic: float  #: its Hill coefficient (R1; reported by [`fit_report`][ketamine_sim.circuits.pharmacology.fit_report]: the scheme has Hill 1)
    kon_per_M_per_s: float  #: association rate at -70 mV (Gilling 2009, R2)
    koff_per_s: float  #: dissociation rate at -70 mV (Gilling 2009, R2)
    delta: float  #: electrical distance of the blocking site (Gilling 2009, R3)
    temperature_K: float  #: recording temperature of R1-R3 (room temperature)
    trapped_fraction: float  #: block left trapped after ``trapping_washout_s`` of washout without agonist (R4)
    trapping_washout_s: float  #: washout of R4 (Mealing 1999)
    ki_uM: dict[str, float]  #: Ki from [3H]MK-801 displacement per species in KI_SPECIES (Ebert 1997, R6, R7)
    ic50_hnk_uM: float  #: (2R,6R)-HNK IC50 at NMDA receptors (Abbott 2020, R8)

    def __post_init__(self) -> None:
        for name in ("ic50_racemic_uM", "hill_racemic", "kon_per_M_per_s", "koff_per_s", "delta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("temperature_K", "trapping_washout_s", "ic50_hnk_uM"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.trapped_fraction <= 1:
            raise ValueError(f"trapped_fraction must be in (0, 1], got {self.trapped_fraction}")
        if set(self.ki_uM) != set(KI_SPECIES):
            raise ValueError(f"ki_uM must give exactly the species {list(KI_SPECIES)}, got {sorted(self.ki_uM)}")
        for species, ki in self.ki_uM.items():
            if not ki > 0:
                raise ValueError(f"ki_uM.{species} must be > 0, got {ki}")

    @property
    def escape_per_s(self) -> float:
        """Escape rate (1/s) from closed, blocked channels that leaves ``trapped_fraction`` after the washout."""
        return -math.log(self.trapped_fraction) / self.trapping_washout_s


@dataclass(frozen=True)
class BlockParameters:
    """Per-species constants of the block scheme at -70 mV (derived by [`block_parameters`][ketamine_sim.circuits.pharmacology.block_parameters])."""

    dissociation_uM: dict[str, float]  #: K_k = koff/kon_k at -70 mV (uM)
    koff_per_s: float  #: shared by all species (assumption: affinity differences are in kon)
    v_e_mV: float
    escape_per_s: float  #: from closed, blocked channels (R4)
    fit: str
    #: ketamine binds only to open channels that no Mg2+ ion occupies (the two share the pore:
    #: binding slowed by the Mg-unblocked fraction; Kotermanski & Johnson 2009 measured Mg
    #: lowering ketamine's potency); False: binding ignores Mg, as the 0-Mg constants (R1, R2)
    mg_competition: bool

    def kon_per_uM_per_s(self, species: str) -> float:
        return self.koff_per_s / self.dissociation_uM[species]

    def ic50_racemic_uM(self) -> float:
        k_s, k_r = self.dissociation_uM["s_ketamine"], self.dissociation_uM["r_ketamine"]
        return 2 * k_s * k_r / (k_s + k_r)


def block_parameters(
    constants: BlockConstants, fit: str, escape: bool, mg_competition: bool = False
) -> BlockParameters:
    """Derive every species' dissociation constant from R1/R2 (racemate) and R6-R8 (ratios).

    The racemate's apparent constant K_rac (the IC50 for ``equilibrium``, koff/kon for
    ``kinetic``) fixes K_S through ``K_rac = 2 K_S K_R / (K_S + K_R)`` with
    ``K_R / K_S = Ki_R / Ki_S`` (Ebert 1997); norketamines keep Ebert's ratio to S-ketamine;
    HNK takes Abbott 2020's IC50 directly. ``escape`` false: no escape from trapped channels.
    ``mg_competition``: binding only to Mg-free open channels (`BlockParameters`).
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    c = constants
    k_racemic = c.ic50_racemic_uM if fit == "equilibrium" else c.koff_per_s / c.kon_per_M_per_s * 1e6
    ratio_r_to_s = c.ki_uM["r_ketamine"] / c.ki_uM["s_ketamine"]
    k_s = k_racemic * (1 + ratio_r_to_s) / (2 * ratio_r_to_s)
    dissociation = {species: k_s * c.ki_uM[species] / c.ki_uM["s_ketamine"] for species in c.ki_uM}
    dissociation["hnk"] = c.ic50_hnk_uM
    assert set(dissociation) == set(SPECIES)
    return BlockParameters(
        dissociation_uM=dissociation,
        koff_per_s=c.koff_per_s,
        v_e_mV=voltage_e_fold_mV(c.delta, c.temperature_K),
        escape_per_s=c.escape_per_s if escape else 0.0,
        fit=fit,
        mg_competition=mg_competition,
    )


def steady_state_block(
    params: BlockParameters, concentrations_uM: dict[str, float], v_mV: float = V_REF_MV, open_fraction: float = 1.0
) -> dict[str, float]:
    """Steady-state B_k of the scheme at fixed voltage, concentrations and open fraction s.

    Parameters
    ----------
    params : BlockParameters
        Constants of the scheme ([`block_parameters`][ketamine_sim.circuits.pharmacology.block_parameters]).
    concentrations_uM : dict of str to float
        Concentration in uM of each species present (absent ones are 0).
    v_mV : float
        Membrane potential in mV, held.
    open_fraction : float
        Fraction s of the channels with glutamate bound (open), in [0, 1], held.

    Returns
    -------
    dict of str to float
        Blocked fraction B_k (dimensionless, in [0, 1], their sum <= 1) for each key of
        `concentrations_uM`.

    Examples
    --------
    At the racemate's IC50 and -70 mV half of the channels are blocked (constants of
    Gilling 2009 [@gilling2009potency], Mealing 1999 [@mealing1999trapping], Ebert 1997
    [@ebert1997norketamine] and Abbott 2020 [@abbott2020hydroxynorketamine], as
    ``configs/config.yaml`` holds them):

    >>> from ketamine_sim.circuits.pharmacology import BlockConstants, block_parameters, steady_state_block
    >>> published = BlockConstants(
    ...     ic50_racemic_uM=0.71, hill_racemic=0.84, kon_per_M_per_s=1.5e5, koff_per_s=0.22,
    ...     delta=0.79, temperature_K=295.15, trapped_fraction=0.86, trapping_washout_s=120.0,
    ...     ki_uM={"s_ketamine": 0.30, "r_ketamine": 1.40, "s_norketamine": 1.70, "r_norketamine": 13.0},
    ...     ic50_hnk_uM=46.0)
    >>> params = block_parameters(published, "equilibrium", escape=True, mg_competition=False)
    >>> round(sum(steady_state_block(params, {"s_ketamine": 0.355, "r_ketamine": 0.355}).values()), 6)
    0.5
    >>> round(sum(steady_state_block(params, {"s_ketamine": 0.355, "r_ketamine": 0.355}, v_mV=-30.0).values()), 3)
    0.224
    >>> round(voltage_e_fold_mV(0.79, 295.15), 1)
    32.2
    >>> round(fit_report(params, published)["kon_ratio_to_target"], 2)
    2.07
    """
    koff = params.koff_per_s * math.exp((v_mV - V_REF_MV) / params.v_e_mV)
    drive = {k: open_fraction * params.kon_per_uM_per_s(k) * c for k, c in concentrations_uM.items() if c > 0}
    loss = open_fraction * koff + (1.0 - open_fraction) * params.escape_per_s
    # B_k = drive_k (1 - B_tot) / loss  =>  B_tot = D / (loss + D), D = sum drive_k
    total_drive = sum(drive.values())
    if total_drive == 0:
        return {k: 0.0 for k in concentrations_uM}
    free = loss / (loss + total_drive)
    return {k: drive.get(k, 0.0) * free / loss for k in concentrations_uM}


def fit_report(params: BlockParameters, constants: BlockConstants) -> dict[str, float]:
    """How one first-order scheme matches R1 (IC50, Hill) and R2 (kon, koff) at once."""
    ic50 = params.ic50_racemic_uM()
    # apparent kon of the racemate: relaxation rate (kon_app c + koff) at low c
    kon_app = params.koff_per_s / ic50 * 1e6
    return {
        "ic50_uM": ic50,
        "ic50_target_uM": constants.ic50_racemic_uM,
        "ic50_ratio_to_target": ic50 / constants.ic50_racemic_uM,
        "hill": 1.0,
        "hill_target": constants.hill_racemic,
        "kon_per_M_per_s": kon_app,
        "kon_target_per_M_per_s": constants.kon_per_M_per_s,
        "kon_ratio_to_target": kon_app / constants.kon_per_M_per_s,
        "unblock_tau_s": 1.0 / params.koff_per_s,
        "unblock_tau_target_s": 1.0 / constants.koff_per_s,
    }
