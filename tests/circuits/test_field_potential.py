"""The field-potential proxy: the weighted sum of Mazzoni 2015, and the circuit's summed currents."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.circuits.spiking.field_potential import (
    MAZZONI_DELAY_MS,
    MAZZONI_GABA_WEIGHT,
    reference_weighted_sum,
)


def test_the_weighted_sum_delays_excitation_and_weights_inhibition():
    rng = np.random.default_rng(3)
    glu, gaba = rng.normal(-2.0, 0.3, size=(2, 50)), rng.normal(1.0, 0.2, size=(2, 50))
    proxy = reference_weighted_sum(glu, gaba, dt_ms=1.0)
    lag = int(MAZZONI_DELAY_MS)  # 6 samples of 1 ms
    assert np.all(np.isnan(proxy[:, :lag])) and not np.any(np.isnan(proxy[:, lag:]))
    np.testing.assert_allclose(proxy[:, lag:], glu[:, :-lag] - MAZZONI_GABA_WEIGHT * gaba[:, lag:])
    # at 0.5 ms per sample the same delay is 12 samples; a delay beyond the signal leaves only NaN
    assert np.isnan(reference_weighted_sum(glu[0], gaba[0], dt_ms=0.5)[11])
    assert not np.isnan(reference_weighted_sum(glu[0], gaba[0], dt_ms=0.5)[12])
    assert np.all(np.isnan(reference_weighted_sum(glu[0], gaba[0], dt_ms=1.0, delay_ms=80.0)))


def test_inward_excitation_and_outward_inhibition_add_with_one_sign():
    """Membrane convention: excitatory current < 0, inhibitory > 0 at rest; the sum is < 0 with a
    magnitude of |glu| + 1.65 |gaba| (the proxy's deflections do not cancel)."""
    proxy = reference_weighted_sum(np.full(10, -1.0), np.full(10, 2.0), dt_ms=1.0, delay_ms=0.0)
    np.testing.assert_allclose(proxy, -(1.0 + MAZZONI_GABA_WEIGHT * 2.0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(i_glu=np.zeros(3), i_gaba=np.zeros(4), dt_ms=1.0), "differ in shape"),
        (dict(i_glu=np.zeros(3), i_gaba=np.zeros(3), dt_ms=0.0), "dt_ms > 0"),
        (dict(i_glu=np.zeros(3), i_gaba=np.zeros(3), dt_ms=1.0, delay_ms=-1.0), "delay_ms >= 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        reference_weighted_sum(**kwargs)


@pytest.mark.slow
def test_the_field_group_holds_the_sum_of_every_pyramidal_cells_currents():
    """Brian2 runtime (numpy), a circuit of 40 pyramidal cells for 100 ms: each sample (every
    0.5 ms) of the summed GABA_A current equals the sum over the pyramidal cells of (g_PV + g_SST)(V - E_inh)
    recorded in the same step; the glutamatergic one equals that of (g_AMPA + g_NMDA)(V - E_exc)
    up to the NMDA open fraction's implicit step, which the sum sees already taken (< 1 %)."""
    import brian2 as b2

    from ketamine_sim.circuits.spiking.network import build_circuit, initial_values
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.simulation.engine import _fresh_brian_state, _target, _with_units

    cfg = compose_config(
        [
            "circuit=small",
            "circuit.counts.pyr=40",
            "circuit.counts.pv=10",
            "circuit.counts.sst=10",
            "circuit.window_s=0.1",
            "circuit.transient_s=0.01",
            "backend=numpy",
        ]
    )
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    _fresh_brian_state()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = structure.dt_ms * b2.ms
    b2.seed(4)
    circuit = build_circuit(structure)
    for target, values in initial_values(structure, drive, {}, None, np.random.default_rng(1)).items():
        group = _target(circuit, target)
        for name, value in values.items():
            setattr(group, name, _with_units(getattr(group, name), value))
    cells = b2.StateMonitor(circuit.groups["pyr"], ["g_ampa", "g_nmda", "g_pv", "g_sst", "v"], record=True)
    circuit.network.add(cells)
    circuit.network.run(structure.window_s * b2.second)
    e_exc, e_inh = 1e-3 * structure.synapses.e_exc_mV, 1e-3 * structure.synapses.e_inh_mV
    glu = ((cells.g_ampa_ + cells.g_nmda_) * (cells.v_ - e_exc)).sum(axis=0)
    gaba = ((cells.g_pv_ + cells.g_sst_) * (cells.v_ - e_inh)).sum(axis=0)
    field = circuit.field_monitor
    summed_glu, summed_gaba = np.ravel(field.i_glu_), np.ravel(field.i_gaba_)
    # the sums are taken every 0.5 ms (5 steps): 200 samples in 100 ms
    assert summed_glu.shape == (200,) and np.max(np.abs(gaba)) > 0 and np.max(np.abs(glu)) > 0
    glu, gaba = glu[::5], gaba[::5]
    # sample k: the currents of the state at the start of step 5k, what the cells' monitor records then
    np.testing.assert_allclose(summed_gaba, gaba, rtol=1e-9, atol=1e-20)
    assert np.max(np.abs(summed_glu - glu)) < 0.01 * np.max(np.abs(glu))
    assert np.max(np.abs(summed_glu[1:] - glu[:-1])) > 0.05 * np.max(np.abs(glu))  # not one sample off
