"""Slow plasticity: AMPA activity -> BDNF -> mTORC1 -> synaptic proteins -> stronger and new E->E synapses.

The chain of the "glutamate burst" hypothesis (Li 2010 [@li2010mtor]; Duman 2016
[@duman2016synaptic]; Moda-Sava 2019 [@modasava2019sustained]), one set of variables per
pyramidal cell, integrated between spiking windows:

    u        = max(0, a / h - 1 - theta)               AMPA activation above its set point (population)
    dh/dt    = (a - h) / tau_h                          the set point follows activity over a day
    dB/dt    = (beta + k_B u + k_R f - B) / tau_B       BDNF (1 = the healthy tone)
    dM/dt    = (g B - M) / tau_M                        mTORC1 activity; g = 1 - rapamycin block
    dS/dt    = (k_S max(M - beta, 0) - S) / tau_S       mTOR-made synaptic protein above tone
    w        = w_state (1 + S)                          strength of the cell's existing E->E synapses
    a        = a0 (M + sigma S)                         spine formation rate per empty site (1/day)
    b        = b0 e_state                               spine elimination rate per spine (1/day)

`f` is the pyramidal cells' NMDA blocked fraction, the optional route of Autry 2011
[@autry2011nmda] (block of NMDA receptors at rest -> eEF2 dephosphorylation -> BDNF
translation; k_R = 0 by default, `hypothesis=glun2b_rest` turns it on). ``A`` is the local glutamate release
reaching available AMPA receptors of the pyramidal cells in a window (population mean),
``a`` = A / A_ref with ``A_ref`` the same in the baseline window at full AMPA availability
(NBQX lowers ``a``) and ``h`` a homeostatic set point (1 at baseline): an activity change
of hours (the drug's burst) drives BDNF, a change that lasts for days (the model's own
stronger synapses) is absorbed, as homeostatic scaling absorbs it over 1-2 days
(Turrigiano 2008 [@turrigiano2008selftuning]); without it the chain would feed itself. So
NBQX lowers `u` (S4, Maeng 2008 [@maeng2008cellular]) and rapamycin (g = 0) stops the mTOR
steps (S1, Li 2010). Elimination does not depend on the chain (S2: Phoumthipphavong 2016
[@phoumthipphavong2016longitudinal] and Moda-Sava 2019 saw formation rise and elimination
unchanged).

Spines are sites: every potential pyramidal-to-pyramidal synapse of the compiled circuit
is present or not. A site is a two-state Markov chain (empty -> present at rate ``a``,
present -> empty at rate ``b``), whose transition probabilities over an interval are
exact for rates held over each step:

    p(t + h) = p_inf + (p(t) - p_inf) exp(-(a + b) h),   p_inf = a / (a + b)

so P(empty -> present) is ``p`` started at 0 and P(present -> present) that plus the
survival ``exp(-int (a + b) dt)``. The healthy steady state fills ``occupancy`` of the
sites, which sets a0 = b0 occupancy / (1 - occupancy). This is a rate form of the
structural plasticity of Butz & van Ooyen (2013) [@butz2013simple]: elements appear and vanish at rates
set by a slow intracellular signal; here the signal is BDNF/mTOR rather than calcium
around a homeostatic set point, because ketamine's burst raises both activity and spine
formation, which a homeostatic calcium rule would oppose (see `docs/model/plasticity.md`).

Examples
--------
A brain state with twice the healthy spine elimination settles at a lower occupancy:

>>> from ketamine_sim.circuits.slow.plasticity import BrainState, PlasticityParameters, steady_occupancy
>>> params = PlasticityParameters(
...     activity_threshold=0.1, bdnf_gain=5.0, bdnf_tau_h=1.0, mtor_tau_h=1.0, protein_gain=5.0,
...     protein_tau_h=36.0, formation_gain=10.0, elimination_per_day=1 / 35, occupancy=0.8,
...     glun2b_rest_gain=0.0, setpoint_tau_h=24.0)
>>> healthy = BrainState("healthy", bdnf_tone=1.0, elimination_scale=1.0, ee_weight_scale=1.0)
>>> stressed = BrainState("stress", bdnf_tone=1.0, elimination_scale=2.0, ee_weight_scale=1.0)
>>> round(steady_occupancy(params, healthy), 3), round(steady_occupancy(params, stressed), 3)
(0.8, 0.667)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketamine_sim.circuits.units import SECONDS_PER_DAY

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PlasticityParameters:
    """Constants of the chain. Values live in ``configs/config.yaml`` (``plasticity.*``; the
    occupancy is ``circuit.spine_sites.occupancy``) with their sources; choices in
    `docs/model/plasticity.md`.

    Parameters
    ----------
    activity_threshold : float
        theta: relative AMPA activity above the set point before BDNF is released (>= 0).
    bdnf_gain : float
        k_B: BDNF rise per unit of supra-threshold activity (relative to the healthy tone).
    bdnf_tau_h : float
        tau_B in h.
    mtor_tau_h : float
        tau_M in h.
    protein_gain : float
        k_S: synaptic protein per unit of mTORC1 activity above tone.
    protein_tau_h : float
        tau_S in h.
    formation_gain : float
        sigma: spine formation per unit of synaptic protein, relative to tonic formation.
    elimination_per_day : float
        b0: healthy spine elimination rate per spine in 1/day.
    occupancy : float
        Fraction of potential E->E sites present in the healthy steady state, in (0, 1).
    glun2b_rest_gain : float
        k_R: BDNF rise per unit of pyramidal NMDA block (the Autry 2011 route; 0 = off).
    setpoint_tau_h : float
        tau_h: time constant of the activity set point in h.

    Raises
    ------
    ValueError
        If a time constant or rate is not > 0, a gain or threshold is < 0, or `occupancy`
        is outside (0, 1).
    """

    activity_threshold: float  #: theta: AMPA activity above baseline (relative) before BDNF is released
    bdnf_gain: float  #: k_B: BDNF rise per unit of supra-threshold activity
    bdnf_tau_h: float  #: tau_B (h)
    mtor_tau_h: float  #: tau_M (h)
    protein_gain: float  #: k_S
    protein_tau_h: float  #: tau_S (h)
    formation_gain: float  #: sigma: spine formation per unit of synaptic protein, relative to tonic
    elimination_per_day: float  #: b0 (healthy, per spine per day)
    occupancy: float  #: fraction of potential E->E sites present in the healthy steady state
    glun2b_rest_gain: float  #: k_R: BDNF rise per unit of pyramidal NMDA block (Autry 2011 route; 0 = off)
    setpoint_tau_h: float  #: tau_h: the activity set point's time constant (h)

    def __post_init__(self) -> None:
        for name in ("bdnf_tau_h", "mtor_tau_h", "protein_tau_h", "elimination_per_day", "setpoint_tau_h"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("activity_threshold", "bdnf_gain", "protein_gain", "formation_gain", "glun2b_rest_gain"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.occupancy < 1:
            raise ValueError(f"occupancy must be in (0, 1), got {self.occupancy}")

    @property
    def formation_per_day(self) -> float:
        """a0 in 1/day: the healthy tonic formation rate per empty site that fills `occupancy` of the sites."""
        return self.elimination_per_day * self.occupancy / (1.0 - self.occupancy)


@dataclass(frozen=True)
class BrainState:
    """A condition of the animal or patient (`state=` config group, ``configs/state/*.yaml``).

    Parameters
    ----------
    name : str
        The state's name.
    bdnf_tone : float
        beta: resting BDNF (and tonic mTOR) relative to healthy (> 0).
    elimination_scale : float
        e_state: spine elimination relative to healthy (> 0).
    ee_weight_scale : float
        w_state: strength of E->E synapses relative to healthy (> 0).

    Raises
    ------
    ValueError
        If a scale is not > 0.
    """

    name: str
    bdnf_tone: float  #: beta: resting BDNF (and tonic mTOR) relative to healthy
    elimination_scale: float  #: e_state: spine elimination relative to healthy
    ee_weight_scale: float  #: w_state: strength of E->E synapses relative to healthy

    def __post_init__(self) -> None:
        for name in ("bdnf_tone", "elimination_scale", "ee_weight_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def steady_occupancy(params: PlasticityParameters, state: BrainState) -> float:
    """Site occupancy at rest in `state`: a / (a + b) with M = beta, S = 0.

    Parameters
    ----------
    params : PlasticityParameters
        Constants of the chain.
    state : BrainState
        The condition.

    Returns
    -------
    float
        Fraction of potential E->E sites present at rest, in (0, 1).
    """
    a = params.formation_per_day * state.bdnf_tone
    b = params.elimination_per_day * state.elimination_scale
    return a / (a + b)


@dataclass
class PlasticityState:
    """Per pyramidal cell: BDNF, mTOR, synaptic protein, expected site occupancy, and the
    transition probabilities accumulated since the last window (see
    [`start_interval`][ketamine_sim.circuits.slow.plasticity.PlasticityState.start_interval]).

    Every field is an array of shape `(n_cells,)`; BDNF and mTOR are relative to the healthy
    tone, the protein is relative to the healthy synaptic strength.
    """

    bdnf: np.ndarray
    mtor: np.ndarray
    protein: np.ndarray
    occupancy: np.ndarray
    formed: np.ndarray  #: P(empty -> present) since the interval started
    survival: np.ndarray  #: exp(-int (a + b) dt) since the interval started
    setpoint: np.ndarray  #: h, the activity set point (1 = the baseline window's activity)

    @classmethod
    def at_rest(cls, n: int, params: PlasticityParameters, state: BrainState) -> PlasticityState:
        """The resting state of `n` cells in `state` (BDNF = mTOR = beta, no extra protein,
        the steady occupancy)."""
        beta = state.bdnf_tone
        return cls(
            bdnf=np.full(n, beta),
            mtor=np.full(n, beta),
            protein=np.zeros(n),
            occupancy=np.full(n, steady_occupancy(params, state)),
            formed=np.zeros(n),
            survival=np.ones(n),
            setpoint=np.ones(n),
        )

    def copy(self) -> PlasticityState:
        """An independent copy (every array copied)."""
        return PlasticityState(*(np.array(getattr(self, f)) for f in self.__dataclass_fields__))

    def start_interval(self) -> None:
        """Start accumulating site transitions (at the end of a window)."""
        self.formed[:] = 0.0
        self.survival[:] = 1.0

    def weight_scale(self, state: BrainState) -> np.ndarray:
        """w / w_healthy of each cell's existing E->E synapses."""
        return state.ee_weight_scale * (1.0 + self.protein)


def activity_drive(ampa_input, reference, params: PlasticityParameters):
    """u = max(0, A / A_ref - 1 - theta): AMPA activity above its set point and the threshold.

    Parameters
    ----------
    ampa_input : float or array_like
        Local AMPA activity A (or the relative activity a).
    reference : float or array_like
        A_ref (or the set point h), > 0, broadcast with `ampa_input`.
    params : PlasticityParameters
        Supplies theta (`activity_threshold`).

    Returns
    -------
    numpy.ndarray
        u >= 0 (dimensionless), of the broadcast shape.
    """
    return np.maximum(0.0, np.asarray(ampa_input) / np.asarray(reference) - 1.0 - params.activity_threshold)


def drive_and_adapt(s: PlasticityState, activity: float, dt_s: float, params: PlasticityParameters) -> np.ndarray:
    """The drive u over a step of held `activity` (a = A / A_ref) against the set point at the
    step's start, then the set point's exact relaxation towards `activity`.

    Parameters
    ----------
    s : PlasticityState
        The cells' state; its `setpoint` is updated in place.
    activity : float
        Relative AMPA activity a over the step.
    dt_s : float
        Step in s.
    params : PlasticityParameters
        Supplies theta and tau_h.

    Returns
    -------
    numpy.ndarray
        u per cell, shape `(n_cells,)`.
    """
    drive = activity_drive(activity, s.setpoint, params)
    s.setpoint[:] = _relax(s.setpoint, activity, dt_s / SECONDS_PER_HOUR / params.setpoint_tau_h)
    return drive


def advance(
    s: PlasticityState,
    drive: np.ndarray,
    dt_s: float,
    params: PlasticityParameters,
    state: BrainState,
    mtor_gate: float = 1.0,
    formation_blocked: bool = False,
    rest_block: float = 0.0,
) -> None:
    """Advance ``s`` by ``dt_s`` with ``drive`` (u per cell) and the mTOR gate held.

    Each variable relaxes exactly towards its target computed with the step-midpoint values
    of the variables upstream (exponential Euler). `formation_blocked` holds formation at
    its tonic rate (no spines beyond the state's own turnover); `rest_block` is the
    pyramidal NMDA blocked fraction f over the step.

    Parameters
    ----------
    s : PlasticityState
        The cells' state, updated in place.
    drive : numpy.ndarray
        u per cell (dimensionless), shape `(n_cells,)`.
    dt_s : float
        Step in s; a step <= 0 changes nothing.
    params : PlasticityParameters
        Constants of the chain.
    state : BrainState
        The condition (beta, e_state).
    mtor_gate : float
        g = 1 - rapamycin block, in [0, 1].
    formation_blocked : bool
        Hold spine formation at its tonic rate.
    rest_block : float
        Pyramidal NMDA blocked fraction f (dimensionless, in [0, 1]).
    """
    if dt_s <= 0:
        return
    beta = state.bdnf_tone
    h = dt_s / SECONDS_PER_HOUR
    b_old, m_old, p_old = s.bdnf.copy(), s.mtor.copy(), s.protein.copy()
    s.bdnf[:] = _relax(
        s.bdnf, beta + params.bdnf_gain * drive + params.glun2b_rest_gain * rest_block, h / params.bdnf_tau_h
    )
    s.mtor[:] = _relax(s.mtor, mtor_gate * 0.5 * (b_old + s.bdnf), h / params.mtor_tau_h)
    m_mid = 0.5 * (m_old + s.mtor)
    s.protein[:] = _relax(s.protein, params.protein_gain * np.maximum(m_mid - beta, 0.0), h / params.protein_tau_h)
    p_mid = 0.5 * (p_old + s.protein)
    signal = np.minimum(m_mid, beta) if formation_blocked else m_mid + params.formation_gain * p_mid
    a = params.formation_per_day * signal
    b = params.elimination_per_day * state.elimination_scale
    decay = np.exp(-(a + b) * dt_s / SECONDS_PER_DAY)
    target = a / (a + b)
    s.occupancy[:] = target + (s.occupancy - target) * decay
    s.formed[:] = target + (s.formed - target) * decay
    s.survival *= decay


def _relax(x: np.ndarray, target, steps: float) -> np.ndarray:
    return target + (x - target) * np.exp(-steps)


def update_sites(
    present: np.ndarray, post: np.ndarray, s: PlasticityState, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """Draw each site's state at the end of the interval from its postsynaptic cell's
    transition probabilities.

    Parameters
    ----------
    present : numpy.ndarray
        Whether each site holds a spine (bool), shape `(n_sites,)`.
    post : numpy.ndarray
        Index of each site's postsynaptic cell (int), shape `(n_sites,)`.
    s : PlasticityState
        The transition probabilities accumulated over the interval.
    rng : numpy.random.Generator
        The generator to draw from.

    Returns
    -------
    tuple of (numpy.ndarray, int, int)
        The new states (bool, shape `(n_sites,)`), the number of spines formed and the
        number eliminated.
    """
    stay = (s.formed + s.survival)[post]
    form = s.formed[post]
    draw = rng.random(len(present))
    new = np.where(present, draw < stay, draw < form)
    return new, int(np.count_nonzero(new & ~present)), int(np.count_nonzero(present & ~new))


def outcome(s: PlasticityState, params: PlasticityParameters, state: BrainState) -> float:
    """Mood proxy: the pyramidal network's E->E synaptic strength (sites present x
    strength), population mean, relative to the healthy steady state (1).

    Parameters
    ----------
    s : PlasticityState
        The cells' state.
    params : PlasticityParameters
        Supplies the healthy occupancy.
    state : BrainState
        The condition (w_state).

    Returns
    -------
    float
        The outcome, 1 in the healthy steady state.
    """
    return float(np.mean(s.occupancy * s.weight_scale(state)) / params.occupancy)


@dataclass(frozen=True)
class PlasticitySettings:
    """What a protocol's plasticity runs with.

    Parameters
    ----------
    params : PlasticityParameters
        Constants of the chain.
    state : BrainState
        The condition.
    enabled : bool
        Whether the chain runs at all.
    formation_blocked : bool
        Hold spine formation at its tonic rate (S3's blockade).
    """

    params: PlasticityParameters
    state: BrainState
    enabled: bool
    formation_blocked: bool
