"""The slow layer of the NMDA block: carrying each neuron's block from one window to the next.

Between two spiking windows the block of every neuron follows the scheme of
[`ketamine_sim.circuits.pharmacology`][ketamine_sim.circuits.pharmacology] with its channel activity frozen at what
the last window measured (first-order closure): the mean open fraction `s_bar = <s>`, the
mean voltage-weighted open fraction `u_bar = <s exp((V + 70 mV)/V_e)>` and the mean open
fraction free of Mg `m_bar = <s m(V)>` (m the Mg-unblocked fraction with
`block.mg_competition`, else 1, so m_bar = s_bar). With the unbinding rate shared by all
species (see [`BlockParameters`][ketamine_sim.circuits.pharmacology.BlockParameters]) the
system is solved exactly for concentrations held constant over each step h:

    a_k = m_bar kon_k c_k,   A = sum_k a_k,   lam = koff u_bar + (1 - s_bar) kesc
    dB_tot/dt = A (1 - B_tot) - lam B_tot
    F(t) = 1 - B_tot(t) = F_inf + (F_0 - F_inf) exp(-(A + lam) t),   F_inf = lam / (A + lam)
    B_k(h) = exp(-lam h) [B_k(0) + a_k (F_inf (exp(lam h) - 1) / lam + (F_0 - F_inf) (1 - exp(-A h)) / A)]

(the two fractions tend to h as lam or A tend to 0). Every term is >= 0 and the B_k sum to
`1 - F` in [0, 1] for any step and concentration;
[`advance_block`][ketamine_sim.circuits.slow.nmda_block.advance_block] only removes the rounding (each
B_k clipped to [0, 1], all divided by their sum where it exceeds 1), as the circuit's own
step does ([`block_update_code`][ketamine_sim.circuits.spiking.receptors.block_update_code]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compounds import SPECIES
from ..pharmacology import BlockParameters


@dataclass
class ChannelActivity:
    """Per-neuron channel activity measured in a window (see the module's description).

    Parameters
    ----------
    open_fraction : numpy.ndarray
        s_bar, the mean open fraction of each neuron's NMDA receptors over the window
        (dimensionless, in [0, 1]), shape `(n_neurons,)`.
    unbind_weight : numpy.ndarray
        u_bar, the mean voltage-weighted open fraction `<s exp((V + 70 mV)/V_e)>`
        (dimensionless, >= 0), shape `(n_neurons,)`.
    access_fraction : numpy.ndarray, optional
        m_bar, the mean open fraction free of Mg, `<s m(V)>` (in [0, s_bar]), shape
        `(n_neurons,)`; None: `open_fraction` (binding ignores Mg).
    """

    open_fraction: np.ndarray  #: s_bar
    unbind_weight: np.ndarray  #: u_bar
    access_fraction: np.ndarray | None = None  #: m_bar

    @property
    def binding_fraction(self) -> np.ndarray:
        """The fraction of time channels are open to the drug: m_bar, or s_bar without it."""
        return self.open_fraction if self.access_fraction is None else self.access_fraction

    @classmethod
    def from_accumulators(
        cls,
        open_time_s: np.ndarray,
        open_unbind_time_s: np.ndarray,
        duration_s: float,
        open_access_time_s: np.ndarray | None = None,
    ) -> ChannelActivity:
        """From the window's accumulators: open time, voltage-weighted open time and open time
        free of Mg (s per neuron) divided by the window's duration `duration_s` (s)."""
        access = None if open_access_time_s is None else np.clip(open_access_time_s / duration_s, 0.0, 1.0)
        return cls(
            np.clip(open_time_s / duration_s, 0.0, 1.0), np.maximum(open_unbind_time_s / duration_s, 0.0), access
        )


def _relaxation_integral(rate: np.ndarray, h: float) -> np.ndarray:
    """(1 - exp(-rate h)) / rate, equal to h at rate 0."""
    rate = np.asarray(rate, dtype=float)
    safe = np.where(rate * h > 1e-12, rate, 1.0)
    return np.where(rate * h > 1e-12, -np.expm1(-safe * h) / safe, h)


def advance_block(
    block: dict[str, np.ndarray],
    activity: ChannelActivity,
    concentrations_uM: dict[str, float],
    params: BlockParameters,
    h_s: float,
) -> dict[str, np.ndarray]:
    """Block fractions per species (arrays over neurons) after `h_s` seconds at fixed concentrations.

    Parameters
    ----------
    block : dict of str to numpy.ndarray
        Blocked fraction B_k of every species of `SPECIES` at the step's start
        (dimensionless), each of shape `(n_neurons,)`.
    activity : ChannelActivity
        The neurons' channel activity, held over the step.
    concentrations_uM : dict of str to float
        Concentration in uM of each species present, held over the step (absent: 0).
    params : BlockParameters
        Constants of the block scheme.
    h_s : float
        Step in s, >= 0.

    Returns
    -------
    dict of str to numpy.ndarray
        B_k after the step for every species of `SPECIES`, each of shape `(n_neurons,)`,
        every one in [0, 1] and their sum <= 1.

    Raises
    ------
    ValueError
        If `h_s` < 0.

    Examples
    --------
    Ten minutes at 1 uM S-ketamine with the channels open a fifth of the time:

    >>> import numpy as np
    >>> from ketamine_sim.circuits.compounds import SPECIES
    >>> from ketamine_sim.experiments import config as C
    >>> params = C.circuit_structure(C.compose_config([])).block  # the configured block
    >>> from ketamine_sim.circuits.slow.nmda_block import ChannelActivity, advance_block
    >>> free = {k: np.zeros(1) for k in SPECIES}
    >>> activity = ChannelActivity(np.array([0.2]), np.array([0.2]))
    >>> b = advance_block(free, activity, {"s_ketamine": 1.0}, params, 600.0)
    >>> round(float(b["s_ketamine"][0]), 3), float(b["r_ketamine"][0])
    (0.694, 0.0)
    """
    if h_s < 0:
        raise ValueError(f"step must be >= 0 s, got {h_s}")
    held = np.array([[float(concentrations_uM.get(k, 0.0))] * 2 for k in SPECIES])  # the step's mid value: c
    after = block_steps(
        np.stack([block[k] for k in SPECIES]),
        activity,
        np.array([0.0, float(h_s)]),
        held,
        [params.kon_per_uM_per_s(k) for k in SPECIES],
        params,
    )[-1]
    return dict(zip(SPECIES, after, strict=True))


def within_unit_sum(block: np.ndarray) -> np.ndarray:
    """Fractions clipped to [0, 1] and divided by their sum where it exceeds 1 (removes rounding).

    Parameters
    ----------
    block : numpy.ndarray, shape (n_species, n_neurons)
        Blocked fraction per species (rows) and neuron.

    Returns
    -------
    numpy.ndarray
        The same shape, each in [0, 1], each column's sum <= 1.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.circuits.slow.nmda_block import within_unit_sum
    >>> [round(float(v), 4) for v in within_unit_sum(np.array([[0.8], [0.6]]))[:, 0]]
    [0.5714, 0.4286]
    """
    clipped = np.clip(block, 0.0, 1.0)
    return clipped / np.maximum(clipped.sum(axis=0), 1.0)


def advance_block_through(
    block: dict[str, np.ndarray],
    activity: ChannelActivity,
    time_s: np.ndarray,
    concentrations_uM: dict[str, np.ndarray],
    params: BlockParameters,
) -> list[dict[str, np.ndarray]]:
    """Step the block along `time_s`, the concentrations averaged over each step.

    Parameters
    ----------
    block : dict of str to numpy.ndarray
        B_k per species at `time_s[0]`, each of shape `(n_neurons,)`.
    activity : ChannelActivity
        The neurons' channel activity, held throughout.
    time_s : numpy.ndarray
        Increasing times in s, shape `(n_times,)`.
    concentrations_uM : dict of str to numpy.ndarray
        Concentration in uM of each species at those times, each of shape `(n_times,)`.
    params : BlockParameters
        Constants of the block scheme.

    Returns
    -------
    list of dict of str to numpy.ndarray
        The block at every time point (`n_times` entries; the first is `block` itself).

    Raises
    ------
    ValueError
        If `time_s` decreases anywhere.
    """
    time_s = np.asarray(time_s, dtype=float)
    if np.any(np.diff(time_s) < 0):
        raise ValueError(f"step must be >= 0 s, got {float(np.min(np.diff(time_s)))}")
    keys = list(SPECIES)
    stacked = block_steps(
        np.stack([block[k] for k in keys]),
        activity,
        time_s,
        np.stack([np.asarray(concentrations_uM.get(k, np.zeros(len(time_s))), dtype=float) for k in keys]),
        [params.kon_per_uM_per_s(k) for k in keys],
        params,
    )
    return [block, *({k: state[j] for j, k in enumerate(keys)} for state in stacked[1:])]


def block_steps(
    block: np.ndarray,
    activity: ChannelActivity,
    time_s: np.ndarray,
    concentrations_uM: np.ndarray,
    kon_per_uM_per_s: list[float],
    params: BlockParameters,
) -> list[np.ndarray]:
    """`advance_block_through` on stacked species, the one implementation of the step (the
    module's solution; `advance_block` is one step of it), with what the steps share computed
    once.

    Parameters
    ----------
    block : numpy.ndarray, shape (n_species, n_neurons)
        B_k at `time_s[0]`.
    activity : ChannelActivity
        The neurons' channel activity, held throughout.
    time_s : numpy.ndarray, shape (n_times,)
        Non-decreasing times in s.
    concentrations_uM : numpy.ndarray, shape (n_species, n_times)
        Concentration of each species (uM) at those times, averaged over each step.
    kon_per_uM_per_s : list of float
        The binding rate of each species (1/(uM s)), in the order of the rows.
    params : BlockParameters
        Constants of the block scheme (unbinding and escape rates).

    Returns
    -------
    list of numpy.ndarray
        `n_times` arrays of shape (n_species, n_neurons), the first `block` itself.
    """
    s_bar, m_bar = activity.open_fraction, activity.binding_fraction
    binding = np.stack([m_bar * kon for kon in kon_per_uM_per_s])  # (m_bar kon_k), as advance_block's drive
    loss = params.koff_per_s * activity.unbind_weight + (1.0 - s_bar) * params.escape_per_s
    per_step: dict[float, tuple[np.ndarray, np.ndarray]] = {}  # h -> (exp(-lam h), relaxation integral of lam)
    c_mid = 0.5 * (concentrations_uM[:, :-1] + concentrations_uM[:, 1:])
    states = [block]
    for i, h in enumerate(np.diff(time_s).tolist()):
        if h not in per_step:
            per_step[h] = (np.exp(-loss * h), _relaxation_integral(loss, h))
        decay, loss_integral = per_step[h]
        drive = binding * c_mid[:, i : i + 1]
        total_drive = drive.sum(axis=0)
        free_0 = 1.0 - states[-1].sum(axis=0)
        both = total_drive + loss
        free_inf = np.where(both > 0, loss / np.where(both > 0, both, 1.0), free_0)
        free_integral = free_inf * loss_integral + decay * (free_0 - free_inf) * _relaxation_integral(total_drive, h)
        states.append(within_unit_sum(decay * states[-1] + drive * free_integral))
    return states
