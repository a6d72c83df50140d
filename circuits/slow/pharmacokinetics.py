"""Plasma and brain concentrations (uM) of each species from a dosing schedule.

Ketamine, per enantiomer e (amounts A in mg, volumes in L, rates in 1/min):

    dA1/dt = I(t) + ka D - (k10 + k12 + k13 + kch) A1 + k21 A2 + k31 A3 + khc AL   central
    dA2/dt = k12 A1 - k21 A2 ;  dA3/dt = k13 A1 - k31 A3                             peripheral
    dAL/dt = kch A1 + ka' D' - (khc + kel + kmet) AL                                 liver
    dD/dt  = -ka D,   D(t0) = F dose                                                 depot

A model without first pass (``first_pass`` None: Domino 1984 [@domino1984ketamine], Kamp 2020
[@kamp2020ketamine]) has no liver compartment: elimination is k10 from the central one and
every extravascular dose reaches the central compartment with its bioavailability F. A model
with first pass (Perez-Ruixo 2021 [@perezruixo2021esketamine]) eliminates ketamine only in a
well-stirred hepato-portal compartment (k10 = 0; kch = Qh/Vc, khc = Qh/Vh), and the
swallowed part of a dose enters that compartment: an oral dose (fraction Fgut escaping the
gut wall, released over Dpo) and the part of a nasal dose not absorbed in the nose
((1 - FRn) Fgut, released over Dsw), so those routes' bioavailability and their
norketamine follow from the liver's extraction E instead of being set:
F_oral = Fgut (1 - E), F_nasal = FRn + (1 - FRn) Fgut (1 - E).

R-ketamine's elimination is S-ketamine's scaled so that its clearance is
``r_ketamine_clearance_ratio`` times S-ketamine's (Persson 2002 [@persson2002pharmacokinetics]);
the enantiomers share their volumes.

Metabolites (N_e: norketamine of the chirality of e, with an optional peripheral compartment;
H: HNK):

    dN_e/dt = (f_NK k10 A1 + kmet AL) (M_NK/M_K) - (k_NK + kn12) N_e + kn21 N_e,2
    dH/dt   = f_HNK k_NK (N_S + N_R) (M_HNK/M_NK) - k_HNK H

Volumes scale with body weight as V = v ref (BW/ref)^b (b = 1: per kg; b = 0: weight had no
effect in the source). Plasma Cp = A1 / V1 (mg/L = ug/mL); brain (effect compartment, every
species):

    dCb/dt = ke0 (Kp Cp - Cb),   Kp = fu ("free") or 6.5 ("total_tissue")

The system is linear with piecewise-constant inputs, so it is solved exactly:
x(t+dt) = expm(A dt) x + (int_0^dt expm(A s) ds) r between breakpoints (dosing
starts and ends, output times); boluses and depot loads are added at their start.

Sources: the disposition models of Domino 1984, Kamp 2020 and Perez-Ruixo 2021; bioavailability
by route from Clements 1982 [@clements1982bioavailability], Yanagihara 2003
[@yanagihara2003plasma] and Rolan 2014 [@rolan2014absolute]; absorption fitted to the tmax of
Rolan 2014 and Chong 2006 [@chong2006bioavailability]; the plasma-brain equilibration of
Sleigh 2019 [@sleigh2019electroencephalographic]; the brain : plasma ratio of Cohen 1973
[@cohen1973distribution]; protein binding of Dayton 1983 [@dayton1983binding]; metabolism as
reviewed by Zanos 2018 [@zanos2018ketamine], with metabolites present for hours after an
infusion (Zarate 2012 [@zarate2012relationship]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from ..compounds import MOLAR_MASS_G_PER_MOL, SPECIES, Drug, ng_per_ml_to_uM

ROUTES: tuple[str, ...] = ("iv_infusion", "iv_bolus", "im", "intranasal", "oral", "sublingual")
EXTRAVASCULAR: tuple[str, ...] = ("im", "intranasal", "oral", "sublingual")
#: Routes whose absorption a first-pass model describes (the others keep F and ka).
FIRST_PASS_ROUTES: tuple[str, ...] = ("intranasal", "oral")
BRAIN_PARTITIONS: tuple[str, ...] = ("free", "total_tissue")
#: What a model's clearance is of: total ketamine after racemic doses (each enantiomer's
#: clearance is split around it by the R/S ratio, their mean kept) or S-ketamine (R-ketamine's
#: is the ratio times it).
DISPOSITION_OF: tuple[str, ...] = ("racemate", "s_ketamine")
_KETAMINES = ("s_ketamine", "r_ketamine")
_NORKETAMINE_OF = {"s_ketamine": "s_norketamine", "r_ketamine": "r_norketamine"}

#: F of the intravascular routes: 1 by definition (the whole dose reaches the plasma). The
#: other routes' F is a tunable, published number (configs/config.yaml, ``pk.bioavailability``).
INTRAVASCULAR_BIOAVAILABILITY = {"iv_infusion": 1.0, "iv_bolus": 1.0}


def absorbed_routes(first_pass: bool) -> tuple[str, ...]:
    """The extravascular routes absorbed with a bioavailability and a ka: all of `EXTRAVASCULAR`,
    or with a first pass those it does not describe (`FIRST_PASS_ROUTES`).

    Examples
    --------
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import absorbed_routes
    >>> absorbed_routes(False), absorbed_routes(True)
    (('im', 'intranasal', 'oral', 'sublingual'), ('im', 'sublingual'))
    """
    return tuple(r for r in EXTRAVASCULAR if not (first_pass and r in FIRST_PASS_ROUTES))


@dataclass(frozen=True)
class DosingEvent:
    """One dose of a drug.

    Parameters
    ----------
    route : str
        One of `ROUTES`.
    dose_mg_per_kg : float
        Dose in mg per kg body weight (>= 0).
    start_min : float
        Start in min of protocol time.
    duration_min : float
        Infusion duration in min: > 0 for `iv_infusion`, 0 for every other route.

    Examples
    --------
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent
    >>> DosingEvent("iv_infusion", dose_mg_per_kg=0.5, start_min=0.0, duration_min=40.0)
    DosingEvent(route='iv_infusion', dose_mg_per_kg=0.5, start_min=0.0, duration_min=40.0)
    """

    route: str
    dose_mg_per_kg: float
    start_min: float
    duration_min: float = 0.0


@dataclass(frozen=True)
class FirstPass:
    """A well-stirred hepato-portal compartment and the absorption of swallowed and nasal doses
    (Perez-Ruixo 2021 [@perezruixo2021esketamine], Table 3). Rates in 1/min.

    Parameters
    ----------
    k_central_liver_per_min, k_liver_central_per_min : float
        Exchange with the central compartment: Qh/Vc and Qh/Vh.
    liver_k_other_per_min : float
        Hepatic elimination to metabolites other than norketamine (kel).
    liver_k_norketamine_per_min : float
        Hepatic N-demethylation to norketamine (kmet).
    gut_fraction : float
        Fraction of a swallowed dose that escapes the gut wall (Fgut).
    nasal_fraction : float
        Fraction of one spray absorbed through the nasal mucosa (FRn); the rest is swallowed.
    nasal_spray_mg : float
        Drug per spray device (mg).
    nasal_later_spray_factor : float
        FRn of each later spray of one dose relative to the first.
    nasal_ka_per_min, swallowed_ka_per_min, oral_ka_per_min : float
        First-order absorption from the nose, of the swallowed part of a nasal dose, of an
        oral dose.
    swallowed_duration_min, oral_duration_min : float
        Zero-order release into the swallowed and the oral depot (Dsw, Dpo).
    """

    k_central_liver_per_min: float
    k_liver_central_per_min: float
    liver_k_other_per_min: float
    liver_k_norketamine_per_min: float
    gut_fraction: float
    nasal_fraction: float
    nasal_spray_mg: float
    nasal_later_spray_factor: float
    nasal_ka_per_min: float
    swallowed_duration_min: float
    swallowed_ka_per_min: float
    oral_duration_min: float
    oral_ka_per_min: float

    def __post_init__(self) -> None:
        positive = ("k_central_liver_per_min", "k_liver_central_per_min", "nasal_spray_mg", "nasal_ka_per_min")
        positive += ("swallowed_ka_per_min", "oral_ka_per_min", "swallowed_duration_min", "oral_duration_min")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"first_pass.{name} must be > 0, got {getattr(self, name)}")
        if not self.liver_k_per_min > 0:
            raise ValueError(
                "first_pass.liver_k_other_per_min: with liver_k_norketamine_per_min must sum to > 0 "
                "(the liver is the only elimination of a first-pass model)"
            )

    @property
    def liver_k_per_min(self) -> float:
        """Total hepatic elimination rate kel + kmet (1/min)."""
        return self.liver_k_other_per_min + self.liver_k_norketamine_per_min

    def extraction(self, scale: float = 1.0) -> float:
        """Hepatic extraction E = CLint / (Qh + CLint) of the well-stirred liver, CLint =
        Vh (kel + kmet) ``scale``.

        Examples
        --------
        Perez-Ruixo 2021, Table 3 (Qh 151 L/h, Vh 101 L, kel 1.11 /h, kmet 2.77 /h):

        >>> from ketamine_sim.experiments import config as C
        >>> fp = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"])).first_pass
        >>> round(fp.extraction(), 3)
        0.722
        """
        k = self.liver_k_per_min * scale
        return k / (self.k_liver_central_per_min + k)

    def nasal_absorbed_fraction(self, dose_mg: float) -> float:
        """FRn of a nasal dose of ``dose_mg`` given as dose/spray sprays (at least one), each
        spray after the first absorbing ``nasal_later_spray_factor`` times the first's:
        FRn (1 + (N - 1) factor) / N.

        Examples
        --------
        >>> from ketamine_sim.experiments import config as C
        >>> fp = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"])).first_pass
        >>> [round(fp.nasal_absorbed_fraction(mg), 4) for mg in (28, 56, 84)]
        [0.54, 0.4374, 0.4032]
        """
        n = max(1.0, dose_mg / self.nasal_spray_mg)
        return self.nasal_fraction * (1.0 + (n - 1.0) * self.nasal_later_spray_factor) / n

    def bioavailability(self, route: str, dose_mg: float) -> float:
        """Systemic bioavailability of ``route`` (one of `FIRST_PASS_ROUTES`) of S-ketamine.

        Examples
        --------
        The absolute bioavailability of 56 and 84 mg nasal esketamine, 54% and 51% in
        Perez-Ruixo 2021, and of oral esketamine:

        >>> from ketamine_sim.experiments import config as C
        >>> fp = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"])).first_pass
        >>> [round(fp.bioavailability("intranasal", mg), 2) for mg in (56, 84)]
        [0.54, 0.51]
        >>> round(fp.bioavailability("oral", 84), 2)
        0.18
        """
        escaped = self.gut_fraction * (1.0 - self.extraction())
        if route == "oral":
            return escaped
        frn = self.nasal_absorbed_fraction(dose_mg)
        return frn + (1.0 - frn) * escaped


@dataclass(frozen=True)
class PKParameters:
    """Disposition constants (rates 1/min, volumes L/kg at the reference weight). Values and
    sources: ``configs/pk/<model>.yaml`` (the model's rates) and ``configs/config.yaml``
    (``pk.*``, shared by every model)."""

    name: str
    v1_l_per_kg: float  # ketamine central volume (per enantiomer)
    k10_per_min: float  # elimination from central
    k12_per_min: float  # central -> peripheral 2
    k13_per_min: float  # central -> peripheral 3
    k21_per_min: float  # peripheral 2 -> central
    k31_per_min: float  # peripheral 3 -> central
    #: First-order ka per extravascular route that the first pass does not describe (1/min).
    absorption_rate_per_min: dict[str, float]
    bioavailability: dict[str, float]  #: F per route the first pass does not describe
    first_pass: FirstPass | None  #: hepato-portal first pass (None: none)
    reference_weight_kg: float  #: the body weight of the model's volumes
    volume_weight_exponent: float  #: b of V = v ref (BW/ref)^b
    r_ketamine_clearance_ratio: float  #: clearance of R- over S-ketamine
    disposition_of: str  #: one of DISPOSITION_OF: what the source's clearance was measured of
    brain_partition: str  #: one of BRAIN_PARTITIONS
    brain_plasma_ratio_total: float  #: whole-brain tissue : plasma ratio of ketamine
    plasma_free_fraction: float  #: unbound fraction in plasma
    ke0_per_min: float  #: plasma-brain equilibration
    fraction_to_norketamine: float  #: fraction of central (k10) elimination forming norketamine
    norketamine_v_l_per_kg: float  #: norketamine (central) volume
    norketamine_half_life_min: float  #: ln 2 / norketamine elimination rate from its central compartment
    norketamine_k12_per_min: float  #: norketamine central -> peripheral (0: one compartment)
    norketamine_k21_per_min: float  #: norketamine peripheral -> central
    fraction_to_hnk: float  #: fraction of norketamine elimination forming (2,6)-HNK
    hnk_v_l_per_kg: float  #: HNK volume
    hnk_half_life_min: float  #: HNK elimination half-life

    def __post_init__(self) -> None:
        if self.brain_partition not in BRAIN_PARTITIONS:
            raise ValueError(f"brain_partition must be one of {list(BRAIN_PARTITIONS)}, got {self.brain_partition!r}")
        needed = set(self.absorbed_routes)
        missing = (needed | set(INTRAVASCULAR_BIOAVAILABILITY)) - set(self.bioavailability)
        missing |= needed - set(self.absorption_rate_per_min)
        if missing:
            raise ValueError(f"PK model {self.name!r}: no bioavailability/absorption rate for routes {sorted(missing)}")
        for name in ("v1_l_per_kg", "norketamine_v_l_per_kg", "hnk_v_l_per_kg", "norketamine_half_life_min"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.hnk_half_life_min > 0:
            raise ValueError(f"hnk_half_life_min must be > 0, got {self.hnk_half_life_min}")
        if not self.reference_weight_kg > 0:
            raise ValueError(f"reference_weight_kg must be > 0, got {self.reference_weight_kg}")
        if self.first_pass is None and not self.k10_per_min > 0:
            raise ValueError("k10_per_min must be > 0 in a model without first_pass (nothing else eliminates ketamine)")
        if self.first_pass is not None and self.k10_per_min != 0:
            raise ValueError(f"k10_per_min must be 0 with first_pass (the liver eliminates), got {self.k10_per_min}")
        if self.disposition_of not in DISPOSITION_OF:
            raise ValueError(f"disposition_of must be one of {list(DISPOSITION_OF)}, got {self.disposition_of!r}")
        if (
            self.first_pass is not None
            and max(map(self.clearance_factor, _KETAMINES)) * self.first_pass.extraction() >= 1
        ):
            raise ValueError(
                f"r_ketamine_clearance_ratio {self.r_ketamine_clearance_ratio}: an enantiomer's clearance would "
                f"reach the hepatic blood flow of this model (its liver's extraction is {self.first_pass.extraction():.3g})"
            )

    @property
    def absorbed_routes(self) -> tuple[str, ...]:
        """Extravascular routes absorbed with a bioavailability and a ka (not by the first pass)."""
        return absorbed_routes(self.first_pass is not None)

    @property
    def norketamine_k_per_min(self) -> float:
        """Norketamine elimination rate (1/min): ln 2 / half-life."""
        return math.log(2) / self.norketamine_half_life_min

    @property
    def hnk_k_per_min(self) -> float:
        """HNK elimination rate (1/min): ln 2 / half-life."""
        return math.log(2) / self.hnk_half_life_min

    def volume_l(self, v_l_per_kg: float, body_weight_kg: float) -> float:
        """A volume (L) of a body weight: v ref (BW/ref)^b."""
        ref = self.reference_weight_kg
        return v_l_per_kg * ref * (body_weight_kg / ref) ** self.volume_weight_exponent

    def clearance_factor(self, species: str) -> float:
        """Clearance of ketamine enantiomer ``species`` over the model's clearance: with
        ``disposition_of`` "racemate" 2/(1 + rho) for S and 2 rho/(1 + rho) for R (their mean is
        the model's), with "s_ketamine" 1 and rho (rho = ``r_ketamine_clearance_ratio``)."""
        rho = self.r_ketamine_clearance_ratio
        if self.disposition_of == "racemate":
            return (2.0 if species == "s_ketamine" else 2.0 * rho) / (1.0 + rho)
        return 1.0 if species == "s_ketamine" else rho

    def elimination_scale(self, species: str) -> float:
        """Factor on the elimination rate constants (k10, or the liver's kel and kmet) of
        ketamine enantiomer ``species`` that gives it its clearance (`clearance_factor` times
        the model's). Without first pass the clearance is k10 V1, linear in the factor; the
        well-stirred liver's is Qh CLint / (Qh + CLint), so CLint is scaled to make the
        extraction E the factor times the model's.

        Examples
        --------
        >>> from ketamine_sim.experiments import config as C
        >>> p = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"]))
        >>> round(p.elimination_scale("r_ketamine"), 3), p.elimination_scale("s_ketamine")
        (0.576, 1.0)
        >>> p = C.pk_parameters(C.compose_config(["pk=domino1984"]))
        >>> round(p.elimination_scale("s_ketamine"), 3), round(p.elimination_scale("r_ketamine"), 3)
        (1.093, 0.907)
        """
        factor = self.clearance_factor(species)
        fp = self.first_pass
        if fp is None or factor == 1.0:
            return factor
        extraction = factor * fp.extraction()
        return fp.k_liver_central_per_min * extraction / (1.0 - extraction) / fp.liver_k_per_min


@dataclass
class PKResult:
    """Concentrations (uM) of every species in `SPECIES` at `time_s` (protocol s).

    Parameters
    ----------
    time_s : numpy.ndarray
        Output times in s of protocol time, shape `(n_times,)`.
    plasma_uM : dict of str to numpy.ndarray
        Plasma concentration in uM per species, each of shape `(n_times,)`.
    brain_uM : dict of str to numpy.ndarray
        Brain (effect-compartment) concentration in uM per species, each of shape `(n_times,)`.
    """

    time_s: np.ndarray
    plasma_uM: dict[str, np.ndarray]
    brain_uM: dict[str, np.ndarray]


def brain_partition_coefficient(params: PKParameters) -> float:
    """Kp = Cb/Cp at equilibrium: unbound brain = unbound plasma ("free", Kp = fu) or
    whole-tissue concentration ("total_tissue", Kp = 6.5, Cohen 1973 [@cohen1973distribution]).

    Parameters
    ----------
    params : PKParameters
        The disposition model; its `brain_partition` chooses.

    Returns
    -------
    float
        Kp (dimensionless).

    Examples
    --------
    The configured parameters (``pk=kamp2020``, ``configs/pk/kamp2020.yaml``):

    >>> from ketamine_sim.experiments import config as C
    >>> KAMP_2020 = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import brain_partition_coefficient
    >>> brain_partition_coefficient(KAMP_2020)
    0.53
    """
    return params.plasma_free_fraction if params.brain_partition == "free" else params.brain_plasma_ratio_total


def _disposition_matrix(params: PKParameters, species: str | None = None) -> np.ndarray:
    """Rates (1/min) between central, peripheral 2, peripheral 3 and, with first pass, the
    liver, of one ketamine enantiomer (None: the model's own constants; elimination on the
    diagonal)."""
    p = params
    scale = 1.0 if species is None else params.elimination_scale(species)
    A = np.array(
        [
            [-(scale * p.k10_per_min + p.k12_per_min + p.k13_per_min), p.k21_per_min, p.k31_per_min],
            [p.k12_per_min, -p.k21_per_min, 0.0],
            [p.k13_per_min, 0.0, -p.k31_per_min],
        ]
    )
    fp = p.first_pass
    if fp is None:
        return A
    A = np.pad(A, ((0, 1), (0, 1)))
    A[0, 0] -= fp.k_central_liver_per_min
    A[0, 3] = fp.k_liver_central_per_min
    A[3, 0] = fp.k_central_liver_per_min
    A[3, 3] = -(fp.k_liver_central_per_min + scale * fp.liver_k_per_min)
    return A


def terminal_half_life_h(params: PKParameters, species: str | None = None) -> float:
    """ln 2 / |lambda_z| (h), lambda_z the slowest eigenvalue of the ketamine disposition
    matrix over the compartments that exchange with the central one.

    Parameters
    ----------
    params : PKParameters
        The disposition model.
    species : str, optional
        ``"s_ketamine"`` or ``"r_ketamine"`` (each with its own clearance); None (default):
        the model's published constants.

    Returns
    -------
    float
        Terminal half-life of ketamine in h.

    Examples
    --------
    >>> from ketamine_sim.experiments import config as C
    >>> DOMINO_1984 = C.pk_parameters(C.compose_config(["pk=domino1984"]))
    >>> KAMP_2020 = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import terminal_half_life_h
    >>> round(float(terminal_half_life_h(DOMINO_1984)), 2), round(float(terminal_half_life_h(KAMP_2020)), 2)
    (1.91, 2.21)
    >>> [round(float(terminal_half_life_h(KAMP_2020, e)), 2) for e in ("s_ketamine", "r_ketamine")]
    [2.02, 2.44]
    """
    A = _disposition_matrix(params, species)
    keep = [0] + [i for i, k in ((1, params.k12_per_min), (2, params.k13_per_min)) if k > 0]
    keep += [3] if params.first_pass is not None else []
    lam = np.linalg.eigvals(A[np.ix_(keep, keep)]).real
    return math.log(2) / -lam.max() / 60.0


def clearance_l_per_min(params: PKParameters, body_weight_kg: float, species: str = "s_ketamine") -> float:
    """Systemic clearance of a ketamine enantiomer (L/min): k10 V1, or with first pass
    Qh E (Qh = kch V1, E the liver's extraction).

    Parameters
    ----------
    params : PKParameters
        The disposition model.
    body_weight_kg : float
        Body weight (kg).
    species : str
        ``"s_ketamine"`` or ``"r_ketamine"``.

    Returns
    -------
    float
        Clearance in L/min.

    Examples
    --------
    Perez-Ruixo 2021: Qh 151 L/h x E 0.722 = 109 L/h of esketamine (the paper's abstract
    gives 114 L/h):

    >>> from ketamine_sim.experiments import config as C
    >>> p = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"]))
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import clearance_l_per_min
    >>> round(60 * clearance_l_per_min(p, 74.0), 1)
    109.0
    """
    v1 = params.volume_l(params.v1_l_per_kg, body_weight_kg)
    scale = params.elimination_scale(species)
    if params.first_pass is None:
        return scale * params.k10_per_min * v1
    fp = params.first_pass
    return fp.k_central_liver_per_min * v1 * fp.extraction(scale)


def validate_events(events: Sequence[DosingEvent]) -> None:
    """Raise ValueError naming the bad field of the first invalid event.

    Parameters
    ----------
    events : sequence of DosingEvent
        The dosing schedule.

    Raises
    ------
    ValueError
        For the first event with an unknown route, a field that is not finite, a negative
        dose, or a duration that does not fit its route.

    Examples
    --------
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent, validate_events
    >>> validate_events([DosingEvent("iv_bolus", 0.5, 0.0)])
    >>> validate_events([DosingEvent("iv_infusion", 0.5, 0.0)])
    Traceback (most recent call last):
    ...
    ValueError: event 0: duration_min must be > 0 for route 'iv_infusion', got 0.0
    """
    for i, e in enumerate(events):
        if e.route not in ROUTES:
            raise ValueError(f"event {i}: route must be one of {list(ROUTES)}, got {e.route!r}")
        for name in ("dose_mg_per_kg", "start_min", "duration_min"):
            if not math.isfinite(getattr(e, name)):
                raise ValueError(f"event {i}: {name} must be finite, got {getattr(e, name)}")
        if e.dose_mg_per_kg < 0:
            raise ValueError(f"event {i}: dose_mg_per_kg must be >= 0, got {e.dose_mg_per_kg}")
        if e.route == "iv_infusion" and e.duration_min <= 0:
            raise ValueError(f"event {i}: duration_min must be > 0 for route 'iv_infusion', got {e.duration_min}")
        if e.route != "iv_infusion" and e.duration_min != 0:
            raise ValueError(
                f"event {i}: duration_min applies to 'iv_infusion' only; must be 0 for {e.route!r}, got {e.duration_min}"
            )


def _names(params: PKParameters, depots: list[tuple[str, str, str]]) -> list[str]:
    names = [*SPECIES, *(f"{k}.{c}" for k in _KETAMINES for c in (2, 3))]
    names += [f"{k}.liver" for k in _KETAMINES] if params.first_pass is not None else []
    names += [f"{nk}.2" for nk in _NORKETAMINE_OF.values()]
    return names + [f"brain.{s}" for s in SPECIES] + [f"depot.{kind}.{s}" for kind, s, _ in depots]


def _build(params: PKParameters, bw: float, depots: list[tuple[str, str, str]]):
    """State index of each compartment, each species' central volume (L) and the rate matrix
    A (1/min). ``depots``: (kind, species, target compartment) of each absorption depot."""
    ix = {n: i for i, n in enumerate(_names(params, depots))}
    vol = {s: params.volume_l(params.v1_l_per_kg, bw) for s in _KETAMINES}
    vol |= {nk: params.volume_l(params.norketamine_v_l_per_kg, bw) for nk in _NORKETAMINE_OF.values()}
    vol["hnk"] = params.volume_l(params.hnk_v_l_per_kg, bw)
    M, fp = MOLAR_MASS_G_PER_MOL, params.first_pass
    A = np.zeros((len(ix), len(ix)))
    for s in _KETAMINES:
        c = [ix[s], ix[f"{s}.2"], ix[f"{s}.3"]] + ([ix[f"{s}.liver"]] if fp is not None else [])
        A[np.ix_(c, c)] = _disposition_matrix(params, s)
        nk, scale = _NORKETAMINE_OF[s], params.elimination_scale(s)
        A[ix[nk], ix[s]] = params.fraction_to_norketamine * scale * params.k10_per_min * M[nk] / M[s]
        if fp is not None:
            A[ix[nk], ix[f"{s}.liver"]] = scale * fp.liver_k_norketamine_per_min * M[nk] / M[s]
    for nk in _NORKETAMINE_OF.values():
        k12, k21 = params.norketamine_k12_per_min, params.norketamine_k21_per_min
        A[ix[nk], ix[nk]] = -(params.norketamine_k_per_min + k12)
        A[ix[f"{nk}.2"], ix[nk]], A[ix[nk], ix[f"{nk}.2"]], A[ix[f"{nk}.2"], ix[f"{nk}.2"]] = k12, k21, -k21
        A[ix["hnk"], ix[nk]] = params.fraction_to_hnk * params.norketamine_k_per_min * M["hnk"] / M[nk]
    A[ix["hnk"], ix["hnk"]] = -params.hnk_k_per_min
    kp, ke0 = brain_partition_coefficient(params), params.ke0_per_min
    for s in SPECIES:
        A[ix[f"brain.{s}"], ix[s]] = ke0 * kp / vol[s]
        A[ix[f"brain.{s}"], ix[f"brain.{s}"]] = -ke0
    for kind, s, target in depots:
        ka = _absorption_rate(params, kind)
        A[ix[f"depot.{kind}.{s}"], ix[f"depot.{kind}.{s}"]] = -ka
        A[ix[target], ix[f"depot.{kind}.{s}"]] = ka
    return ix, vol, A


def first_pass_route_check(params: PKParameters, events: Sequence[DosingEvent], species: Sequence[str]) -> None:
    """Raise ValueError if a first-pass model is asked for a nasal or oral dose of a species
    it does not describe (its first pass is that of ketamine; a metabolite's is unpublished).

    Examples
    --------
    >>> from ketamine_sim.experiments import config as C
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent, first_pass_route_check
    >>> p = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"]))
    >>> first_pass_route_check(p, [DosingEvent("oral", 1.0, 0.0)], ["hnk"])
    Traceback (most recent call last):
    ...
    ValueError: pk=perez_ruixo2021 describes nasal and oral doses of ketamine only, not of hnk; use pk=domino1984 or pk=kamp2020 (a bioavailability per route), or an IV route
    """
    if params.first_pass is None or not any(e.route in FIRST_PASS_ROUTES and e.dose_mg_per_kg > 0 for e in events):
        return
    others = [s for s in species if s not in _KETAMINES]
    if others:
        raise ValueError(
            f"pk={params.name} describes nasal and oral doses of ketamine only, not of {', '.join(others)}; "
            "use pk=domino1984 or pk=kamp2020 (a bioavailability per route), or an IV route"
        )


def _absorption_rate(params: PKParameters, kind: str) -> float:
    """ka (1/min) of a depot: a route's own, or the first pass's nasal, swallowed or oral one."""
    fp = params.first_pass
    rates = {"nasal": "nasal_ka_per_min", "swallowed": "swallowed_ka_per_min", "gut": "oral_ka_per_min"}
    return getattr(fp, rates[kind]) if kind in rates else params.absorption_rate_per_min[kind]


def _inputs(params: PKParameters, event: DosingEvent, species: str, mg: float, dose_mg: float):
    """How one species' share ``mg`` of a dose of ``dose_mg`` enters: a list of (depot kind or
    None, target compartment, amount in mg, release duration in min: 0 for a bolus)."""
    route, fp = event.route, params.first_pass
    if route == "iv_infusion":
        return [(None, species, mg, event.duration_min)]
    if route == "iv_bolus":
        return [(None, species, mg, 0.0)]
    if fp is None or route not in FIRST_PASS_ROUTES:
        return [(route, species, params.bioavailability[route] * mg, 0.0)]
    liver = f"{species}.liver"
    if route == "oral":
        return [("gut", liver, fp.gut_fraction * mg, fp.oral_duration_min)]
    frn = fp.nasal_absorbed_fraction(dose_mg)
    return [
        ("nasal", species, frn * mg, 0.0),
        ("swallowed", liver, (1.0 - frn) * fp.gut_fraction * mg, fp.swallowed_duration_min),
    ]


def simulate(
    drug: Drug, events: Sequence[DosingEvent], body_weight_kg: float, time_s: np.ndarray, params: PKParameters
) -> PKResult:
    """Plasma and brain concentrations (uM) of each species at `time_s` (protocol s).

    The dose of species s is dose_mg_per_kg * body_weight_kg * composition[s] (mg).

    Parameters
    ----------
    drug : Drug
        The preparation dosed (its species' mass fractions).
    events : sequence of DosingEvent
        The dosing schedule (checked by
        [`validate_events`][ketamine_sim.circuits.slow.pharmacokinetics.validate_events]).
    body_weight_kg : float
        Body weight in kg (> 0).
    time_s : numpy.ndarray
        Output times in s of protocol time, 1-D, finite, in any order.
    params : PKParameters
        The disposition model (`PK_MODELS`).

    Returns
    -------
    PKResult
        Plasma and brain concentrations in uM of every species of `SPECIES`, each an array
        of the shape of `time_s`.

    Raises
    ------
    ValueError
        For an invalid event, a body weight that is not > 0, or `time_s` that is not a 1-D
        array of finite times.

    Examples
    --------
    0.5 mg/kg racemic ketamine infused over 40 min, at its end:

    >>> import numpy as np
    >>> from ketamine_sim.circuits.compounds import Drug
    >>> from ketamine_sim.experiments import config as C
    >>> KAMP_2020 = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    >>> from ketamine_sim.circuits.slow.pharmacokinetics import DosingEvent, simulate
    >>> racemic = Drug("racemic", {"s_ketamine": 0.5, "r_ketamine": 0.5})
    >>> infusion = [DosingEvent("iv_infusion", 0.5, start_min=0.0, duration_min=40.0)]
    >>> pk = simulate(racemic, infusion, 70.0, np.array([0.0, 2400.0]), KAMP_2020)
    >>> [round(float(c), 3) for c in pk.plasma_uM["s_ketamine"]]
    [0.0, 0.261]
    """
    validate_events(events)
    first_pass_route_check(params, events, [s for s, f in drug.composition.items() if f > 0])
    if not (body_weight_kg > 0 and math.isfinite(body_weight_kg)):
        raise ValueError(f"body_weight_kg must be a finite number > 0, got {body_weight_kg}")
    time_s = np.asarray(time_s, dtype=float)
    if time_s.ndim != 1 or not np.all(np.isfinite(time_s)):
        raise ValueError("time_s must be a 1-D array of finite times (s)")
    inputs = [
        (e.start_min * 60.0, kind, s, target, amount, duration)
        for e in events
        for s, f in drug.composition.items()
        if e.dose_mg_per_kg * f > 0
        for kind, target, amount, duration in _inputs(
            params, e, s, e.dose_mg_per_kg * body_weight_kg * f, e.dose_mg_per_kg * body_weight_kg
        )
        if amount > 0
    ]
    depots = sorted({(kind, s, target) for _, kind, s, target, _, _ in inputs if kind is not None})
    ix, vol, A = _build(params, body_weight_kg, depots)
    n = len(ix)
    impulses: dict[float, np.ndarray] = {}  # amount (mg) added at a time (s)
    rate_steps: dict[float, np.ndarray] = {}  # change of input rate (mg/min) at a time (s)
    for t0, kind, s, target, amount, duration in inputs:
        into = ix[target] if kind is None else ix[f"depot.{kind}.{s}"]
        if duration > 0:
            t1 = t0 + duration * 60.0
            rate_steps.setdefault(t0, np.zeros(n))[into] += amount / duration
            rate_steps.setdefault(t1, np.zeros(n))[into] -= amount / duration
        else:
            impulses.setdefault(t0, np.zeros(n))[into] += amount

    grid, inverse = np.unique(np.concatenate([time_s, list(impulses), list(rate_steps)]), return_inverse=True)
    cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    aug = np.zeros((2 * n, 2 * n))
    aug[:n, :n], aug[:n, n:] = A, np.eye(n)

    def propagators(dt_s: float):
        key = round(dt_s, 6)  # dt rounded to 1 us to reuse propagators on uniform grids
        if key not in cache:
            E = expm(aug * (key / 60.0))
            cache[key] = (E[:n, :n], E[:n, n:])  # expm(A dt), int_0^dt expm(A s) ds
        return cache[key]

    observed = [ix[s] for s in SPECIES] + [ix[f"brain.{s}"] for s in SPECIES]
    x, rate, states = np.zeros(n), np.zeros(n), np.empty((len(grid), len(observed)))
    for i, t in enumerate(grid):
        if i:
            phi, gamma = propagators(t - grid[i - 1])
            x = phi @ x + (gamma @ rate if rate.any() else 0.0)
        if t in impulses:
            x = x + impulses[t]
        if t in rate_steps:
            rate = rate + rate_steps[t]
            rate[np.abs(rate) < 1e-12 * (1.0 + np.abs(rate_steps[t]))] = 0.0
        states[i] = x[observed]
    states = states[inverse[: len(time_s)]]
    col = {k: j for j, k in enumerate(observed)}

    def to_uM(mg_per_l: np.ndarray, s: str) -> np.ndarray:  # mg/L = ug/mL = 1000 ng/mL
        return ng_per_ml_to_uM(mg_per_l * 1000.0, MOLAR_MASS_G_PER_MOL[s])

    plasma = {s: to_uM(states[:, col[ix[s]]] / vol[s], s) for s in SPECIES}
    brain = {s: to_uM(states[:, col[ix[f"brain.{s}"]]], s) for s in SPECIES}
    return PKResult(time_s=time_s, plasma_uM=plasma, brain_uM=brain)
