"""Short-term depression of glutamate release: the Tsodyks-Markram vesicle pool.

Per pyramidal cell (all its boutons share the presynaptic spike train, so for a pure
depression model one pool per cell is exact for synapses with equal U and tau_rec):

    dx/dt = (1 - x) / tau_rec                    between spikes
    at a spike:  release = U x,   x -> x - U x   (Tsodyks & Markram 1997)

(Tsodyks & Markram 1997 [@tsodyks1997neural].) x is the fraction of the releasable pool
available, U the fraction of it released by a spike (the release probability, lowered by
presynaptic A1 receptors, see [`ketamine_sim.circuits.slow.neurochemistry`][ketamine_sim.circuits.slow.neurochemistry]).
Ketamine slows recycling (Lazarevic 2021 [@lazarevic2021ketamine], TARGETS A3):

    tau_rec,eff = tau_rec (1 + slowing * B)      B: the cell's NMDA blocked fraction

whose magnitude (``slowing``) is a free parameter: the sign is published, the size is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VesicleParameters:
    """Constants of the vesicle pool of the pyramidal cells; values in
    ``configs/circuit/*.yaml`` (``circuit.vesicles.*``).

    Parameters
    ----------
    u_release : float
        Release fraction U at baseline adenosine, in (0, 1] (Tsodyks & Markram 1997: 0.5).
    tau_rec_ms : float
        Recovery time constant of the pool in ms, > 0 (Tsodyks & Markram 1997: 800 ms).
    recycling_slowing : float
        Relative growth of tau_rec at full NMDA block, >= 0 (free parameter; 0 = off).
    depression : bool
        False: the pool never depletes (release U per spike).
    initial_rate_hz : float
        Nominal firing rate (Hz, >= 0) that sets the pool at the start of the first window
        (free parameter).

    Raises
    ------
    ValueError
        If a value is out of its range.
    """

    u_release: float  #: release fraction U at baseline adenosine (Tsodyks & Markram 1997: 0.5)
    tau_rec_ms: float  #: recovery time constant of the pool (Tsodyks & Markram 1997: 800 ms)
    recycling_slowing: float  #: relative growth of tau_rec at full NMDA block (free parameter; 0 = off)
    depression: bool  #: False: the pool never depletes (release U per spike)
    #: pyramidal rate (Hz) for the first window's pool: it starts at the mean steady state of a
    #: Poisson train at this rate, 1 / (1 + U r tau_rec) (later windows carry the pool over)
    initial_rate_hz: float

    def __post_init__(self) -> None:
        if not 0 < self.u_release <= 1:
            raise ValueError(f"u_release must be in (0, 1], got {self.u_release}")
        if self.tau_rec_ms <= 0:
            raise ValueError(f"tau_rec_ms must be > 0, got {self.tau_rec_ms}")
        if self.recycling_slowing < 0:
            raise ValueError(f"recycling_slowing must be >= 0, got {self.recycling_slowing}")
        if self.initial_rate_hz < 0:
            raise ValueError(f"initial_rate_hz must be >= 0, got {self.initial_rate_hz}")


def effective_tau_rec_ms(params: VesicleParameters, blocked_fraction):
    """Recovery time constant slowed by the NMDA block: tau_rec (1 + slowing B), in ms.

    Parameters
    ----------
    params : VesicleParameters
        The pool's constants.
    blocked_fraction : float or array_like
        The cell's NMDA blocked fraction B (dimensionless, in [0, 1]).

    Returns
    -------
    numpy.ndarray
        tau_rec,eff in ms, of the shape of `blocked_fraction`.

    Examples
    --------
    >>> from ketamine_sim.circuits.spiking.vesicles import VesicleParameters, effective_tau_rec_ms
    >>> float(effective_tau_rec_ms(VesicleParameters(0.5, 800.0, recycling_slowing=1.0, depression=True, initial_rate_hz=2.0), 0.5))
    1200.0
    """
    return params.tau_rec_ms * (1.0 + params.recycling_slowing * np.asarray(blocked_fraction))


def train_release(u, tau_rec_ms, n_pulses: int, interval_ms: float, x0=1.0, return_pool: bool = False):
    """Release per pulse of a regular train, starting from pool `x0`.

    Parameters
    ----------
    u : float or array_like
        Release fraction U (dimensionless, in (0, 1]).
    tau_rec_ms : float or array_like
        Recovery time constant in ms (broadcast with `u`).
    n_pulses : int
        Number of pulses.
    interval_ms : float
        Interval between pulses in ms.
    x0 : float or array_like
        Available pool fraction before the first pulse (dimensionless, in [0, 1]).
    return_pool : bool
        Also return the pool left right after the last pulse.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Released fraction of the full pool per pulse, shape `(n_pulses,) + shape of
        broadcast(u, tau_rec_ms)`; with `return_pool`, `(release, pool)`, the pool of that
        broadcast shape.

    Examples
    --------
    A 20 Hz train depresses release (U = 0.5, tau_rec = 800 ms):

    >>> from ketamine_sim.circuits.spiking.vesicles import train_release
    >>> [round(float(r), 3) for r in train_release(0.5, 800.0, 4, 50.0)]
    [0.5, 0.265, 0.155, 0.103]
    """
    u, tau = np.asarray(u, dtype=float), np.asarray(tau_rec_ms, dtype=float)
    x = np.broadcast_to(np.asarray(x0, dtype=float), np.broadcast(u, tau).shape).copy()
    recovery = np.exp(-interval_ms / tau)
    out = []
    for i in range(n_pulses):
        released = u * x
        out.append(released)
        x = x - released
        if i < n_pulses - 1:
            x = 1.0 - (1.0 - x) * recovery
    return (np.array(out), x) if return_pool else np.array(out)


def pool_after_recovery(x_start, tau_rec_ms, t_ms):
    """Pool fraction `t_ms` ms after a train left it at `x_start`.

    Parameters
    ----------
    x_start : float or array_like
        Available pool fraction at the end of the train (dimensionless, in [0, 1]).
    tau_rec_ms : float or array_like
        Recovery time constant in ms.
    t_ms : float or array_like
        Time since the train in ms.

    Returns
    -------
    numpy.ndarray
        Pool fraction 1 - (1 - x_start) exp(-t / tau_rec), of the broadcast shape.

    Examples
    --------
    >>> from ketamine_sim.circuits.spiking.vesicles import pool_after_recovery
    >>> round(float(pool_after_recovery(0.2, 800.0, 800.0)), 3)
    0.706
    """
    return 1.0 - (1.0 - np.asarray(x_start)) * np.exp(-t_ms / np.asarray(tau_rec_ms))


VESICLE_EQUATIONS = """
x_ves : 1  # available pool fraction, stepped by VESICLE_UPDATE
tau_rec_eff = tau_rec * (1 + recycling_slowing * b_total) : second
tau_rec : second (constant)
recycling_slowing : 1 (constant)
u_release : 1 (constant)
u_baseline : 1 (constant)
depression : 1 (constant)
last_release : 1
released : 1
"""
#: One implicit (backward Euler) step of dx/dt = (1 - x) / tau_rec,eff with the block (so
#: tau_rec,eff) held at its value at the step's start: x' = (x + dt / tau) / (1 + dt / tau) stays in
#: [0, 1] for any tau_rec, where forward Euler overshoots 1 once dt > tau_rec,eff. Runs before the
#: block's own step (``ketamine_sim.circuits.spiking.network.build_circuit``).
VESICLE_UPDATE = """
x_ves = (x_ves + dt / tau_rec_eff) / (1 + dt / tau_rec_eff)
"""
#: Pyramidal reset: release a fraction U of the available pool (counted in ``released`` from
#: ``t_settle`` on, a namespace constant: the window's transient is left out).
VESICLE_RESET = """
last_release = u_release * x_ves
x_ves -= depression * last_release
released += last_release * int(t >= t_settle)
"""
