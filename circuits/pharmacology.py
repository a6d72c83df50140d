"""Open-channel, voltage-dependent, trapping block of NMDA receptors by ketamine.

Scheme (per neuron, one block fraction ``B_k`` per species k, all competing for
the one channel site; ``s`` is the fraction of the neuron's NMDA receptors with
glutamate bound, i.e. open channels):

    dB_k/dt = s * (kon_k * c_k * (1 - sum_j B_j) - koff(V) * B_k) - (1 - s) * kesc * B_k
    koff(V) = koff(-70 mV) * exp((V + 70 mV) / V_e),   V_e = k_B T / (z delta e)

- *Open-channel*: the blocker binds and leaves only while the channel is open (factor s).
- *Trapping*: when glutamate unbinds the channel closes around the blocker, which
  stays (`kesc` is a slow escape from the closed, blocked channel; Mealing 1999
  [@mealing1999trapping]).
- *Voltage dependence* (Woodhull): depolarisation drives the cation out; all of
  it is put on koff, which shifts the IC50 e-fold per V_e (Gilling 2009, R3
  [@gilling2009potency]).

At fixed s = 1 the steady state is `B_k = (c_k/K_k) / (1 + sum_j c_j/K_j)`, with
`K_k = koff/kon_k`: a racemate is a 50:50 mixture of S and R competing for the site,
so its apparent IC50 is `2 K_S K_R / (K_S + K_R)`.

One first-order scheme cannot match both R1 and R2 of TARGETS: Gilling 2009's
kinetic rates give koff/kon = 0.22 / 1.5e5 = 1.47 uM, its equilibrium IC50 is 0.71 uM
(Hill 0.84). `fit="equilibrium"` (default) keeps the IC50 and koff and derives kon
(2.1x Gilling's); `fit="kinetic"` keeps kon and koff and so the IC50 is 2.1x R1.
[`fit_report`][circuits.pharmacology.fit_report] states the mismatch for either choice.
The species' constants come from Ki ratios (Ebert 1997 [@ebert1997norketamine]) and
HNK's IC50 (Abbott 2020 [@abbott2020hydroxynorketamine]).

Examples
--------
Half of the channels are blocked at the racemate's IC50 (0.71 uM, 50:50 S:R, -70 mV):

>>> from circuits.pharmacology import block_parameters, steady_state_block
>>> block = steady_state_block(block_parameters(), {"s_ketamine": 0.355, "r_ketamine": 0.355})
>>> round(sum(block.values()), 6)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .compounds import SPECIES

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19

# --- Published numbers (TARGETS section 1) ---------------------------------------
#: Holding potential of the block measurements (mV): the constants below hold there, and koff
#: is referenced to it, koff(V) = koff * exp((V - V_REF_MV) / V_e). Gilling 2009, R1/R2.
V_REF_MV = -70.0
#: Racemic ketamine IC50 at GluN1/GluN2A, -70 mV, no Mg (uM); Hill 0.84. Gilling 2009, R1.
IC50_RACEMIC_UM = 0.71
HILL_RACEMIC = 0.84
#: Association rate (1/(M s)) and dissociation rate (1/s) at -70 mV. Gilling 2009, R2.
KON_PER_M_PER_S = 1.5e5
KOFF_PER_S = 0.22
#: Electrical distance of the blocking site. Gilling 2009, R3.
DELTA = 0.79
#: Gilling 2009 recorded at room temperature; 22 degC (free choice within "room temperature").
RECORDING_TEMPERATURE_K = 295.15
#: Fraction of block that stays trapped after 120 s washout without agonist. Mealing 1999, R4.
TRAPPED_FRACTION_AFTER_120_S = 0.86
#: Escape rate (1/s) from closed, blocked channels that leaves R4's 86% trapped after 120 s.
ESCAPE_PER_S = -math.log(TRAPPED_FRACTION_AFTER_120_S) / 120.0
#: Ki (uM) from [3H]MK-801 displacement. Ebert 1997, R6 (ketamine) and R7 (norketamine).
KI_UM = {"s_ketamine": 0.30, "r_ketamine": 1.40, "s_norketamine": 1.70, "r_norketamine": 13.0}
#: (2R,6R)-HNK IC50 at NMDA receptors (uM). Abbott 2020, R8.
IC50_HNK_UM = 46.0

#: Highest brain or bath concentration (uM, all species together) the model accepts. An
#: anaesthetic serum level of S-ketamine, about 2000 ng/mL = 8 uM (Langsjo 2005, Anesthesiology
#: 103:258), times the whole-brain : plasma ratio 6.5 (Cohen 1973, TARGETS P6) is about 55 uM;
#: 1 mM is 18 times that and already blocks 99.9% of the channels (racemate, -70 mV). Far above
#: anaesthetic levels the drug's other targets, absent from the model, dominate: beyond 1 mM
#: the model describes nothing measured (a bound by choice, not a published value).
MAX_CONCENTRATION_UM = 1000.0

FITS = ("equilibrium", "kinetic")


def voltage_e_fold_mV(delta: float = DELTA, temperature_K: float = RECORDING_TEMPERATURE_K, valence: int = 1) -> float:
    """V_e = k_B T / (z delta e) in mV: the voltage step that changes the IC50 e-fold.

    Parameters
    ----------
    delta : float
        Electrical distance of the blocking site (dimensionless, 0-1); default Gilling 2009's
        0.79 [@gilling2009potency].
    temperature_K : float
        Temperature in K (default 295.15 K, 22 degC: Gilling 2009 recorded at room temperature).
    valence : int
        Charge number z of the blocker (ketamine: +1).

    Returns
    -------
    float
        V_e in mV.

    Examples
    --------
    >>> from circuits.pharmacology import voltage_e_fold_mV
    >>> round(voltage_e_fold_mV(), 1)
    32.2
    """
    return 1e3 * BOLTZMANN_J_PER_K * temperature_K / (valence * delta * ELEMENTARY_CHARGE_C)


@dataclass(frozen=True)
class BlockParameters:
    """Per-species constants of the block scheme at -70 mV.

    Build it with [`block_parameters`][circuits.pharmacology.block_parameters], which derives
    the constants from the published numbers.

    Parameters
    ----------
    dissociation_uM : dict of str to float
        K_k = koff/kon_k at -70 mV in uM, per species of `SPECIES`.
    koff_per_s : float
        Unbinding rate at -70 mV in 1/s, shared by all species (the assumption: affinity
        differences are in kon).
    v_e_mV : float
        Voltage step in mV that changes koff e-fold
        ([`voltage_e_fold_mV`][circuits.pharmacology.voltage_e_fold_mV]).
    escape_per_s : float
        Escape rate in 1/s from closed, blocked channels (0: perfect trapping).
    fit : str
        Which published numbers the constants keep, `"equilibrium"` or `"kinetic"`.
    """

    dissociation_uM: dict[str, float]  #: K_k = koff/kon_k at -70 mV (uM)
    koff_per_s: float = KOFF_PER_S  #: shared by all species (assumption: affinity differences are in kon)
    v_e_mV: float = field(default_factory=voltage_e_fold_mV)
    escape_per_s: float = ESCAPE_PER_S  #: from closed, blocked channels (R4)
    fit: str = "equilibrium"

    def kon_per_uM_per_s(self, species: str) -> float:
        """Association rate of `species` in 1/(uM s): koff / K_k."""
        return self.koff_per_s / self.dissociation_uM[species]

    def ic50_racemic_uM(self) -> float:
        """Apparent IC50 of the racemate in uM at -70 mV: 2 K_S K_R / (K_S + K_R)."""
        k_s, k_r = self.dissociation_uM["s_ketamine"], self.dissociation_uM["r_ketamine"]
        return 2 * k_s * k_r / (k_s + k_r)


def block_parameters(fit: str = "equilibrium", escape: bool = True) -> BlockParameters:
    """Derive every species' dissociation constant from R1/R2 (racemate) and R6-R8 (ratios).

    The racemate's apparent constant K_rac (0.71 uM for `equilibrium`, koff/kon = 1.47 uM
    for `kinetic`; Gilling 2009 [@gilling2009potency]) fixes K_S through
    `K_rac = 2 K_S K_R / (K_S + K_R)` with `K_R / K_S = Ki_R / Ki_S` (Ebert 1997
    [@ebert1997norketamine]); norketamines keep Ebert's ratio to S-ketamine; HNK takes
    Abbott 2020's IC50 directly [@abbott2020hydroxynorketamine].

    Parameters
    ----------
    fit : str
        `"equilibrium"` (keep the IC50 and koff, derive kon) or `"kinetic"` (keep kon and
        koff; the IC50 is then 2.1x the measured one).
    escape : bool
        Whether blocked, closed channels let the blocker escape (rate for 86% trapped after
        120 s, Mealing 1999 [@mealing1999trapping]); False: perfect trapping.

    Returns
    -------
    BlockParameters
        Dissociation constants in uM for every species of `SPECIES`, koff in 1/s, V_e in mV.

    Raises
    ------
    ValueError
        If `fit` is not one of `FITS`.

    Examples
    --------
    >>> from circuits.pharmacology import block_parameters
    >>> round(block_parameters().ic50_racemic_uM(), 3)
    0.71
    >>> round(block_parameters("kinetic").ic50_racemic_uM(), 3)
    1.467
    >>> round(block_parameters().dissociation_uM["s_ketamine"], 3)
    0.431
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    k_racemic = IC50_RACEMIC_UM if fit == "equilibrium" else KOFF_PER_S / KON_PER_M_PER_S * 1e6
    ratio_r_to_s = KI_UM["r_ketamine"] / KI_UM["s_ketamine"]
    k_s = k_racemic * (1 + ratio_r_to_s) / (2 * ratio_r_to_s)
    constants = {species: k_s * KI_UM[species] / KI_UM["s_ketamine"] for species in KI_UM}
    constants["hnk"] = IC50_HNK_UM
    assert set(constants) == set(SPECIES)
    return BlockParameters(dissociation_uM=constants, fit=fit, escape_per_s=ESCAPE_PER_S if escape else 0.0)


def steady_state_block(
    params: BlockParameters, concentrations_uM: dict[str, float], v_mV: float = V_REF_MV, open_fraction: float = 1.0
) -> dict[str, float]:
    """Steady-state B_k of the scheme at fixed voltage, concentrations and open fraction s.

    Parameters
    ----------
    params : BlockParameters
        Constants of the scheme ([`block_parameters`][circuits.pharmacology.block_parameters]).
    concentrations_uM : dict of str to float
        Concentration in uM of each species present (species of `SPECIES`; absent ones are 0).
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
    At the racemate's IC50 and -70 mV half of the channels are blocked, S-ketamine holding
    most of them; depolarisation to -30 mV unblocks:

    >>> from circuits.pharmacology import block_parameters, steady_state_block
    >>> params = block_parameters()
    >>> racemate = {"s_ketamine": 0.355, "r_ketamine": 0.355}
    >>> {k: round(b, 3) for k, b in steady_state_block(params, racemate).items()}
    {'s_ketamine': 0.412, 'r_ketamine': 0.088}
    >>> round(sum(steady_state_block(params, racemate, v_mV=-30.0).values()), 3)
    0.224
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


def fit_report(params: BlockParameters) -> dict[str, float]:
    """How one first-order scheme matches R1 (IC50, Hill) and R2 (kon, koff) at once.

    Parameters
    ----------
    params : BlockParameters
        Constants of the scheme.

    Returns
    -------
    dict of str to float
        The model's value, the published target (Gilling 2009 [@gilling2009potency]) and
        their ratio: `ic50_uM`, `ic50_target_uM`, `ic50_ratio_to_target` (uM, racemate,
        -70 mV); `hill`, `hill_target`; `kon_per_M_per_s`, `kon_target_per_M_per_s`,
        `kon_ratio_to_target` (1/(M s), the racemate's apparent kon); `unblock_tau_s`,
        `unblock_tau_target_s` (s, 1/koff).

    Examples
    --------
    >>> from circuits.pharmacology import block_parameters, fit_report
    >>> round(fit_report(block_parameters("equilibrium"))["kon_ratio_to_target"], 2)
    2.07
    >>> round(fit_report(block_parameters("kinetic"))["ic50_ratio_to_target"], 2)
    2.07
    """
    ic50 = params.ic50_racemic_uM()
    # apparent kon of the racemate: relaxation rate (kon_app c + koff) at low c
    kon_app = params.koff_per_s / ic50 * 1e6
    return {
        "ic50_uM": ic50,
        "ic50_target_uM": IC50_RACEMIC_UM,
        "ic50_ratio_to_target": ic50 / IC50_RACEMIC_UM,
        "hill": 1.0,
        "hill_target": HILL_RACEMIC,
        "kon_per_M_per_s": kon_app,
        "kon_target_per_M_per_s": KON_PER_M_PER_S,
        "kon_ratio_to_target": kon_app / KON_PER_M_PER_S,
        "unblock_tau_s": 1.0 / params.koff_per_s,
        "unblock_tau_target_s": 1.0 / KOFF_PER_S,
    }
