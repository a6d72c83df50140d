"""The Tsodyks-Markram vesicle pool of the pyramidal terminals (:mod:`ketamine_sim.circuits.spiking.vesicles`).

Model (Tsodyks & Markram 1997 PNAS): between spikes the available fraction x recovers as
dx/dt = (1 - x) / tau_rec; a spike releases U x and leaves x (1 - U). For a regular train
of interval T, with q = (1 - U) e^{-T/tau}, the pool before pulse n obeys the linear recursion
x_{n+1} = (1 - e^{-T/tau}) + q x_n, hence

    x_n = x_ss + (x_0 - x_ss) q^n,     x_ss = (1 - e^{-T/tau}) / (1 - (1 - U) e^{-T/tau})

and the steady-state release per pulse is U x_ss. Two pulses dt apart from rest (x_0 = 1):
the second finds x = 1 - U e^{-dt/tau}, so the paired-pulse ratio is PPR = 1 - U e^{-dt/tau}:
lower U (more A1 activation) gives a higher PPR (TARGETS A5). Ketamine slows the pool's
recovery (Lazarevic 2021 Mol Psychiatry, TARGETS A3; sign only, the size ``recycling_slowing``
is a free parameter): tau_rec,eff = tau_rec (1 + slowing B).

The expected values below are computed here from these closed forms, not with the module's
functions. The last tests integrate the real Brian2 strings ``VESICLE_EQUATIONS`` and
``VESICLE_RESET`` (the pool's implicit step ``VESICLE_UPDATE``, dt = 0.1 ms, as the circuit)
with deterministic spike trains.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketamine_sim.circuits.spiking.vesicles import (
    VESICLE_EQUATIONS,
    VESICLE_RESET,
    VESICLE_UPDATE,
    VesicleParameters,
    effective_tau_rec_ms,
    pool_after_recovery,
    train_release,
)


def closed_form_pool(u, tau_ms, interval_ms, n, x0=1.0):
    """Pool just before pulse n (0-based) of a regular train: x_ss + (x0 - x_ss) q^n."""
    e = math.exp(-interval_ms / tau_ms)
    x_ss = (1.0 - e) / (1.0 - (1.0 - u) * e)
    q = (1.0 - u) * e
    return x_ss + (x0 - x_ss) * q**n


# ---------------------------------------------------------------------------------------------
# train_release against the closed-form recursion
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("u", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("rate_hz", [1.0, 5.0, 20.0, 50.0])
def test_long_train_reaches_tsodyks_markram_steady_state(u, rate_hz):
    """Release per pulse of a long regular train -> U (1 - e^{-T/tau}) / (1 - (1 - U) e^{-T/tau})."""
    tau, interval = 800.0, 1000.0 / rate_hz
    release = train_release(u, tau, 300, interval)
    e = math.exp(-interval / tau)
    steady = u * (1.0 - e) / (1.0 - (1.0 - u) * e)
    assert release[-1] == pytest.approx(steady, rel=1e-9)
    assert release[0] == pytest.approx(u)  # from rest
    assert np.all(np.diff(release) <= 1e-15)  # pure depression from a full pool: never rises


@pytest.mark.parametrize(
    "u, tau, interval, x0",
    [(0.5, 800.0, 50.0, 1.0), (0.2, 1200.0, 25.0, 1.0), (0.8, 200.0, 100.0, 0.6), (0.35, 500.0, 10.0, 0.3)],
)
def test_every_pulse_matches_closed_form(u, tau, interval, x0):
    """Each pulse n releases U (x_ss + (x0 - x_ss) q^n); the first releases U x0."""
    n = 12
    release, pool = train_release(u, tau, n, interval, x0=x0, return_pool=True)
    expected = [u * closed_form_pool(u, tau, interval, k, x0) for k in range(n)]
    np.testing.assert_allclose(release, expected, rtol=1e-12, atol=1e-15)
    assert release[0] == pytest.approx(u * x0, rel=1e-12)
    # return_pool: what the last pulse left behind, (1 - U) x_{n-1}
    assert pool == pytest.approx((1.0 - u) * closed_form_pool(u, tau, interval, n - 1, x0), rel=1e-12)


def test_hand_written_event_loop_agrees():
    """An independent event-by-event loop (deplete, then exact exponential recovery)."""
    u, tau, interval, n = 0.5, 800.0, 50.0, 20
    x, expected = 1.0, []
    for _ in range(n):
        expected.append(u * x)
        x *= 1.0 - u
        x = 1.0 + (x - 1.0) * math.exp(-interval / tau)
    np.testing.assert_allclose(train_release(u, tau, n, interval), expected, rtol=1e-12)


@pytest.mark.parametrize("dt_ms", [10.0, 50.0, 200.0])
def test_paired_pulse_ratio_closed_form_and_a5_sign(dt_ms):
    """PPR = 1 - U e^{-dt/tau} (x after pulse 1 is 1 - U, recovers to 1 - U e^{-dt/tau}); lower U -> higher PPR (A5)."""
    tau = 800.0
    us = np.array([0.9, 0.7, 0.5, 0.3, 0.1])
    pair = train_release(us, tau, 2, dt_ms)
    ppr = pair[1] / pair[0]
    np.testing.assert_allclose(ppr, 1.0 - us * math.exp(-dt_ms / tau), rtol=1e-12)
    assert np.all(np.diff(ppr) > 0)  # U falls along the array, PPR rises
    # slower recycling (A3) deepens the depression of the second pulse
    slower = train_release(0.5, 2 * tau, 2, dt_ms)
    assert slower[1] / slower[0] < ppr[2]


def test_train_release_broadcasts_over_cells():
    """u and tau arrays (one per cell) give shape (n_pulses, cells), each column its own train."""
    u = np.array([0.2, 0.5, 0.8])
    tau = np.array([400.0, 800.0, 1600.0])
    release, pool = train_release(u, tau, 5, 50.0, return_pool=True)
    assert release.shape == (5, 3) and pool.shape == (3,)
    for c in range(3):
        np.testing.assert_allclose(
            release[:, c], [u[c] * closed_form_pool(u[c], tau[c], 50.0, k) for k in range(5)], rtol=1e-12
        )
    # scalar u, per-cell tau (what release_readouts passes)
    assert train_release(0.5, tau, 3, 50.0).shape == (3, 3)


def test_pool_after_recovery_relaxes_to_one_with_tau():
    tau = 800.0
    x = np.array([0.0, 0.3, 0.9, 1.0])
    np.testing.assert_allclose(pool_after_recovery(x, tau, 0.0), x)
    np.testing.assert_allclose(pool_after_recovery(x, tau, tau), 1.0 - (1.0 - x) / math.e, rtol=1e-12)
    np.testing.assert_allclose(pool_after_recovery(x, tau, 50 * tau), 1.0, atol=1e-12)
    # semigroup: recovering 300 ms then 500 ms = 800 ms at once
    np.testing.assert_allclose(
        pool_after_recovery(pool_after_recovery(x, tau, 300.0), tau, 500.0),
        pool_after_recovery(x, tau, 800.0),
        rtol=1e-12,
    )
    # slower recycling leaves less after the same time (A3)
    assert np.all(pool_after_recovery(x[:3], 2 * tau, 1000.0) < pool_after_recovery(x[:3], tau, 1000.0))


# ---------------------------------------------------------------------------------------------
# effective tau_rec and parameter validation
# ---------------------------------------------------------------------------------------------


def test_effective_tau_grows_linearly_with_block():
    """tau_rec (1 + slowing B): tau_rec at B = 0, and at slowing = 0 for any B (A3 switch off)."""
    params = VesicleParameters(
        u_release=0.5, tau_rec_ms=800.0, recycling_slowing=1.5, depression=True, initial_rate_hz=2.0
    )
    b = np.linspace(0.0, 1.0, 11)
    tau = effective_tau_rec_ms(params, b)
    np.testing.assert_allclose(tau, 800.0 * (1.0 + 1.5 * b), rtol=1e-12)
    assert tau[0] == pytest.approx(800.0)
    np.testing.assert_allclose(np.diff(tau, 2), 0.0, atol=1e-9)  # linear
    assert np.all(np.diff(tau) > 0)
    off = VesicleParameters(
        u_release=0.5, tau_rec_ms=800.0, recycling_slowing=0.0, depression=True, initial_rate_hz=2.0
    )
    np.testing.assert_allclose(effective_tau_rec_ms(off, b), 800.0)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(u_release=0.0), "u_release"),
        (dict(u_release=-0.2), "u_release"),
        (dict(u_release=1.01), "u_release"),
        (dict(tau_rec_ms=0.0), "tau_rec_ms"),
        (dict(tau_rec_ms=-5.0), "tau_rec_ms"),
        (dict(recycling_slowing=-0.1), "recycling_slowing"),
        (dict(initial_rate_hz=-1.0), "initial_rate_hz"),
    ],
)
def test_vesicle_parameters_validation_names_the_field(kwargs, field):
    values = dict(u_release=0.5, tau_rec_ms=800.0, recycling_slowing=1.0, depression=True, initial_rate_hz=2.0) | kwargs
    with pytest.raises(ValueError, match=field):
        VesicleParameters(**values)


def test_vesicle_parameters_accept_the_edges():
    VesicleParameters(u_release=1.0, tau_rec_ms=1e-3, recycling_slowing=0.0, depression=False, initial_rate_hz=0.0)


# ---------------------------------------------------------------------------------------------
# The real Brian2 equations
# ---------------------------------------------------------------------------------------------

DT_MS = 0.1
FIRST_SPIKE_MS = 0.05  # half a step after t = 0: the train fires at t = 0.1 ms + k period, whole steps apart
#: (u, tau_rec ms, recycling_slowing, b_total, depression, period ms, x0)
CELLS = [
    (0.5, 800.0, 1.0, 0.0, 1.0, 50.0, 1.0),  # the circuit's defaults, 20 Hz
    (0.3, 800.0, 1.0, 0.4, 1.0, 25.0, 1.0),  # blocked: tau_rec,eff = 1120 ms, 40 Hz
    (0.8, 200.0, 0.5, 0.2, 1.0, 100.0, 0.6),  # starts partly depleted
    (0.5, 800.0, 1.0, 0.5, 0.0, 20.0, 1.0),  # depression off: every spike releases U
]


def run_vesicle_cells(b2, duration_ms):
    """One neuron per CELLS row with VESICLE_EQUATIONS and VESICLE_RESET as they are, firing a
    regular train from a clock (threshold t >= next_spike). Returns per-cell spike times (ms),
    last_release and x_ves recorded after the reset, the final x_ves and released."""
    eqs = VESICLE_EQUATIONS + "b_total : 1 (constant)\nnext_spike : second\nperiod : second (constant)\n"
    group = b2.NeuronGroup(
        len(CELLS),
        eqs,
        threshold="t >= next_spike",
        reset=VESICLE_RESET + "next_spike += period",
        method="euler",
        dt=DT_MS * b2.ms,
        namespace={"t_settle": 0 * b2.ms},
        name="vesicle_cells",
    )
    group.run_regularly(
        VESICLE_UPDATE, when="groups", order=-1
    )  # as in ketamine_sim.circuits.spiking.network.build_circuit
    cols = np.array(CELLS).T
    group.u_release, group.tau_rec = cols[0], cols[1] * b2.ms
    group.recycling_slowing, group.b_total, group.depression = cols[2], cols[3], cols[4]
    group.period, group.x_ves = cols[5] * b2.ms, cols[6]
    group.next_spike = FIRST_SPIKE_MS * b2.ms
    # recorded after the reset: last_release of this spike, x_ves left by it
    monitor = b2.SpikeMonitor(group, variables=["last_release", "x_ves"], when="after_resets", name="vesicle_spikes")
    b2.Network(group, monitor).run(duration_ms * b2.ms)
    trains = monitor.spike_trains()
    values = monitor.all_values()
    return [
        dict(
            t_ms=np.asarray(trains[i] / b2.ms),
            release=np.asarray(values["last_release"][i]),
            x_after=np.asarray(values["x_ves"][i]),
            x_final=float(group.x_ves[i]),
            released=float(group.released[i]),
        )
        for i in range(len(CELLS))
    ]


def test_brian2_vesicle_equations_match_train_release(brian2_numpy):
    """Per-spike last_release of the Brian2 pool = train_release (tolerance 1e-3; measured <= 6e-5).

    Each step runs the state update before the threshold, so the first spike (t = 0.1 ms)
    finds x0 recovered over two steps (0.2 ms) and spikes k periods apart are separated by
    exactly period / dt steps. The implicit step's decay factor (1 + dt/tau)^-n differs from
    e^{-n dt / tau} by a relative n (dt/tau)^2 / 2 <= 1.3e-4 here.
    """
    duration_ms = 1000.0
    cells = run_vesicle_cells(brian2_numpy, duration_ms)
    worst = 0.0
    for (u, tau_rec, slowing, b, depression, period, x0), cell in zip(CELLS, cells):
        n = (
            int(math.floor((duration_ms - 2 * DT_MS) / period)) + 1
        )  # spikes at 0.1 ms + k period, last step duration - dt
        assert len(cell["t_ms"]) == n
        np.testing.assert_allclose(np.diff(cell["t_ms"]), period, atol=1e-6)
        tau = tau_rec * (1.0 + slowing * b)  # written out: tau_rec_eff of the equations
        if depression:
            start = 1.0 - (1.0 - x0) * math.exp(-2 * DT_MS / tau)
            expected, pool = train_release(u, tau, n, period, x0=start, return_pool=True)
            # the spike leaves x (1 - U): the recorded x_ves after each reset
            left = [(1 - u) * closed_form_pool(u, tau, period, k, start) for k in range(n)]
            np.testing.assert_allclose(cell["x_after"], left, atol=1e-3)
            # after the last spike the pool recovers with tau_rec,eff until the end of the run
            since_ms = duration_ms - DT_MS - cell["t_ms"][-1]
            assert cell["x_final"] == pytest.approx(float(pool_after_recovery(pool, tau, since_ms)), abs=1e-3)
        else:
            expected = np.full(n, u)
            np.testing.assert_allclose(cell["x_after"], x0, atol=1e-12)  # never depletes
        worst = max(worst, float(np.max(np.abs(cell["release"] - expected))))
        np.testing.assert_allclose(cell["release"], expected, atol=1e-3)
        assert cell["released"] == pytest.approx(float(np.sum(cell["release"])), rel=1e-9)  # the counter of the reset
    assert worst < 1e-3
    # the comparison discriminates: the blocked cell's train differs from the unslowed one by > 5x the tolerance (7.7e-3)
    u, tau_rec, slowing, b, _, period, _ = CELLS[1]
    n = len(cells[1]["release"])
    assert (
        np.max(np.abs(train_release(u, tau_rec, n, period) - train_release(u, tau_rec * (1 + slowing * b), n, period)))
        > 5e-3
    )


def test_brian2_depression_off_keeps_release_at_u(brian2_numpy):
    """depression = 0: every spike releases U and the pool stays where it was (x0 = 1)."""
    cells = run_vesicle_cells(brian2_numpy, 200.0)
    off = cells[3]
    assert len(off["release"]) == 10
    np.testing.assert_allclose(off["release"], CELLS[3][0], rtol=1e-12)
    assert off["x_final"] == pytest.approx(1.0)
    # while the depressing cell at the same U has run down its pool
    assert cells[0]["release"][-1] < 0.6 * CELLS[0][0]
