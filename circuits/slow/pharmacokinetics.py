"""Plasma and brain concentrations (uM) of each species from a dosing schedule.

Ketamine, per enantiomer e (amounts A in mg, volumes in L, rates in 1/min; both
enantiomers share one disposition: enantioselective clearance is ignored):

    dA1/dt = I(t) + ka D - (k10 + k12 + k13) A1 + k21 A2 + k31 A3      central
    dA2/dt = k12 A1 - k21 A2 ;  dA3/dt = k13 A1 - k31 A3                 peripheral
    dD/dt  = -ka D,   D(t0) = F dose                                     extravascular depot

Metabolites, one compartment each (N_e: norketamine of the chirality of e, H: HNK):

    dN_e/dt = f_NK k10 A1 (M_NK/M_K) - k_NK N_e
    dH/dt   = f_HNK k_NK (N_S + N_R) (M_HNK/M_NK) - k_HNK H

Plasma Cp = A1 / (V1 BW) (mg/L = ug/mL); brain (effect compartment, every species):

    dCb/dt = ke0 (Kp Cp - Cb),   Kp = fu ("free") or 6.5 ("total_tissue")

The system is linear with piecewise-constant inputs, so it is solved exactly:
x(t+dt) = expm(A dt) x + (int_0^dt expm(A s) ds) r between breakpoints (dosing
starts and ends, output times); boluses and depot loads are added at their start.

Sources: the disposition models of Domino 1984 [@domino1984ketamine] and Kamp 2020
[@kamp2020ketamine]; bioavailability by route from Clements 1982
[@clements1982bioavailability], Yanagihara 2003 [@yanagihara2003plasma] and Rolan 2014
[@rolan2014absolute]; absorption fitted to the tmax of Rolan 2014 and Chong 2006
[@chong2006bioavailability]; the brain : plasma ratio of Cohen 1973
[@cohen1973distribution]; protein binding of Dayton 1983 [@dayton1983binding]; metabolism
as reviewed by Zanos 2018 [@zanos2018ketamine], with metabolites present for hours after an
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
BRAIN_PARTITIONS: tuple[str, ...] = ("free", "total_tissue")
_KETAMINES = ("s_ketamine", "r_ketamine")
_NORKETAMINE_OF = {"s_ketamine": "s_norketamine", "r_ketamine": "r_norketamine"}

#: F of the intravascular routes: 1 by definition (the whole dose reaches the plasma). The
#: other routes' F is a tunable, published number (configs/config.yaml, ``pk.bioavailability``).
INTRAVASCULAR_BIOAVAILABILITY = {"iv_infusion": 1.0, "iv_bolus": 1.0}


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
    >>> from circuits.slow.pharmacokinetics import DosingEvent
    >>> DosingEvent("iv_infusion", dose_mg_per_kg=0.5, start_min=0.0, duration_min=40.0)
    DosingEvent(route='iv_infusion', dose_mg_per_kg=0.5, start_min=0.0, duration_min=40.0)
    """

    route: str
    dose_mg_per_kg: float
    start_min: float
    duration_min: float = 0.0


@dataclass(frozen=True)
class PKParameters:
    """Disposition constants (rates 1/min, volumes L/kg body weight). Values and sources:
    ``configs/pk/<model>.yaml`` (the model's rates) and ``configs/config.yaml`` (``pk.*``,
    shared by every model)."""

    name: str
    v1_l_per_kg: float  # ketamine central volume (per enantiomer)
    k10_per_min: float  # elimination from central
    k12_per_min: float  # central -> peripheral 2
    k13_per_min: float  # central -> peripheral 3
    k21_per_min: float  # peripheral 2 -> central
    k31_per_min: float  # peripheral 3 -> central
    #: First-order ka per extravascular route (1/min), fitted per model to a plasma tmax.
    absorption_rate_per_min: dict[str, float]
    bioavailability: dict[str, float]  #: F per route (every route of ROUTES)
    brain_partition: str  #: one of BRAIN_PARTITIONS
    brain_plasma_ratio_total: float  #: whole-brain tissue : plasma ratio of ketamine
    plasma_free_fraction: float  #: unbound fraction in plasma
    ke0_per_min: float  #: plasma-brain equilibration
    fraction_to_norketamine: float  #: fraction of ketamine elimination forming norketamine
    norketamine_v_l_per_kg: float  #: norketamine volume
    norketamine_half_life_min: float  #: norketamine elimination half-life
    fraction_to_hnk: float  #: fraction of norketamine elimination forming (2,6)-HNK
    hnk_v_l_per_kg: float  #: HNK volume
    hnk_half_life_min: float  #: HNK elimination half-life

    def __post_init__(self) -> None:
        if self.brain_partition not in BRAIN_PARTITIONS:
            raise ValueError(f"brain_partition must be one of {list(BRAIN_PARTITIONS)}, got {self.brain_partition!r}")
        missing = set(ROUTES) - set(self.bioavailability) | set(EXTRAVASCULAR) - set(self.absorption_rate_per_min)
        if missing:
            raise ValueError(f"PK model {self.name!r}: no bioavailability/absorption rate for routes {sorted(missing)}")
        for name in ("v1_l_per_kg", "norketamine_v_l_per_kg", "hnk_v_l_per_kg", "norketamine_half_life_min"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.hnk_half_life_min > 0:
            raise ValueError(f"hnk_half_life_min must be > 0, got {self.hnk_half_life_min}")

    @property
    def norketamine_k_per_min(self) -> float:
        """Norketamine elimination rate (1/min): ln 2 / half-life."""
        return math.log(2) / self.norketamine_half_life_min

    @property
    def hnk_k_per_min(self) -> float:
        """HNK elimination rate (1/min): ln 2 / half-life."""
        return math.log(2) / self.hnk_half_life_min


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

    >>> from experiments import config as C
    >>> KAMP_2020 = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    >>> from circuits.slow.pharmacokinetics import brain_partition_coefficient
    >>> brain_partition_coefficient(KAMP_2020)
    0.53
    """
    return params.plasma_free_fraction if params.brain_partition == "free" else params.brain_plasma_ratio_total


def _disposition_matrix(params: PKParameters) -> np.ndarray:
    p = params
    return np.array(
        [
            [-(p.k10_per_min + p.k12_per_min + p.k13_per_min), p.k21_per_min, p.k31_per_min],
            [p.k12_per_min, -p.k21_per_min, 0.0],
            [p.k13_per_min, 0.0, -p.k31_per_min],
        ]
    )


def terminal_half_life_h(params: PKParameters) -> float:
    """ln 2 / |lambda_z| (h), lambda_z the slowest eigenvalue of the ketamine disposition
    matrix over the compartments that exchange with the central one.

    Parameters
    ----------
    params : PKParameters
        The disposition model.

    Returns
    -------
    float
        Terminal half-life of ketamine in h.

    Examples
    --------
    >>> from experiments import config as C
    >>> DOMINO_1984 = C.pk_parameters(C.compose_config(["pk=domino1984"]))
    >>> KAMP_2020 = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    >>> from circuits.slow.pharmacokinetics import terminal_half_life_h
    >>> round(float(terminal_half_life_h(DOMINO_1984)), 2), round(float(terminal_half_life_h(KAMP_2020)), 2)
    (1.91, 2.21)
    """
    keep = [0] + [i for i, k in ((1, params.k12_per_min), (2, params.k13_per_min)) if k > 0]
    lam = np.linalg.eigvals(_disposition_matrix(params)[np.ix_(keep, keep)]).real
    return math.log(2) / -lam.max() / 60.0


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
    >>> from circuits.slow.pharmacokinetics import DosingEvent, validate_events
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


def _build(params: PKParameters, bw: float, depots: list[tuple[str, str]]):
    """State index of each central compartment, its volume (L) and the rate matrix A (1/min)."""
    names = [*SPECIES, "s_ketamine.2", "s_ketamine.3", "r_ketamine.2", "r_ketamine.3"]
    names += [f"brain.{s}" for s in SPECIES] + [f"depot.{r}.{s}" for r, s in depots]
    ix = {n: i for i, n in enumerate(names)}
    vol = {s: params.v1_l_per_kg * bw for s in _KETAMINES}
    vol |= {
        "s_norketamine": params.norketamine_v_l_per_kg * bw,
        "r_norketamine": params.norketamine_v_l_per_kg * bw,
        "hnk": params.hnk_v_l_per_kg * bw,
    }
    M = MOLAR_MASS_G_PER_MOL
    A = np.zeros((len(names), len(names)))
    for s in _KETAMINES:
        c = [ix[s], ix[f"{s}.2"], ix[f"{s}.3"]]
        A[np.ix_(c, c)] = _disposition_matrix(params)
        nk = _NORKETAMINE_OF[s]
        A[ix[nk], ix[s]] = params.fraction_to_norketamine * params.k10_per_min * M[nk] / M[s]
    for nk in ("s_norketamine", "r_norketamine"):
        A[ix[nk], ix[nk]] = -params.norketamine_k_per_min
        A[ix["hnk"], ix[nk]] = params.fraction_to_hnk * params.norketamine_k_per_min * M["hnk"] / M[nk]
    A[ix["hnk"], ix["hnk"]] = -params.hnk_k_per_min
    kp, ke0 = brain_partition_coefficient(params), params.ke0_per_min
    for s in SPECIES:
        A[ix[f"brain.{s}"], ix[s]] = ke0 * kp / vol[s]
        A[ix[f"brain.{s}"], ix[f"brain.{s}"]] = -ke0
    for r, s in depots:
        ka = params.absorption_rate_per_min[r]
        A[ix[f"depot.{r}.{s}"], ix[f"depot.{r}.{s}"]] = -ka
        A[ix[s], ix[f"depot.{r}.{s}"]] = ka
    return ix, vol, A


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
        [`validate_events`][circuits.slow.pharmacokinetics.validate_events]).
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
    >>> from circuits.compounds import Drug
    >>> from experiments import config as C
    >>> KAMP_2020 = C.pk_parameters(C.compose_config(["pk=kamp2020"]))
    >>> from circuits.slow.pharmacokinetics import DosingEvent, simulate
    >>> racemic = Drug("racemic", {"s_ketamine": 0.5, "r_ketamine": 0.5})
    >>> infusion = [DosingEvent("iv_infusion", 0.5, start_min=0.0, duration_min=40.0)]
    >>> pk = simulate(racemic, infusion, 70.0, np.array([0.0, 2400.0]), KAMP_2020)
    >>> [round(float(c), 3) for c in pk.plasma_uM["s_ketamine"]]
    [0.0, 0.264]
    """
    validate_events(events)
    if not body_weight_kg > 0:
        raise ValueError(f"body_weight_kg must be > 0, got {body_weight_kg}")
    time_s = np.asarray(time_s, dtype=float)
    if time_s.ndim != 1 or not np.all(np.isfinite(time_s)):
        raise ValueError("time_s must be a 1-D array of finite times (s)")
    doses = [
        (e, s, e.dose_mg_per_kg * body_weight_kg * f)
        for e in events
        for s, f in drug.composition.items()
        if e.dose_mg_per_kg * f > 0
    ]
    depots = sorted({(e.route, s) for e, s, _ in doses if e.route in EXTRAVASCULAR})
    ix, vol, A = _build(params, body_weight_kg, depots)
    n = len(ix)
    impulses: dict[float, np.ndarray] = {}  # amount (mg) added at a time (s)
    rate_steps: dict[float, np.ndarray] = {}  # change of input rate (mg/min) at a time (s)
    for e, s, mg in doses:
        t0 = e.start_min * 60.0
        if e.route == "iv_infusion":
            t1 = t0 + e.duration_min * 60.0
            rate_steps.setdefault(t0, np.zeros(n))[ix[s]] += mg / e.duration_min
            rate_steps.setdefault(t1, np.zeros(n))[ix[s]] -= mg / e.duration_min
        else:
            target = ix[s] if e.route == "iv_bolus" else ix[f"depot.{e.route}.{s}"]
            impulses.setdefault(t0, np.zeros(n))[target] += params.bioavailability[e.route] * mg

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
