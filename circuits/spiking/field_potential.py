"""A field-potential (LFP/EEG) proxy of the circuit: weighted synaptic currents of the pyramidal cells.

Point neurons have no extent, so they make no extracellular field of their own. Mazzoni et
al. 2015 [@mazzoni2015computing] simulated the LFP of a network of multicompartment
pyramidal and basket cells driven by the spikes of an integrate-and-fire network, and found
that a *reference weighted sum* (RWS) of the point network's synaptic currents onto its
pyramidal cells explains over 90 % of the LFP's variance:

    LFP(t) ~ sum over pyramidal cells of [ I_AMPA(t - tau) - alpha I_GABA(t) ]
    tau = 6 ms, alpha = 1.65

with currents in the membrane convention (positive outward: the excitatory current is
negative, the inhibitory one positive at rest, so both terms add with one sign). Only
pyramidal cells enter: their geometry (apical dendrites, excitation and inhibition on
different parts of the cell) makes the dipoles that add up in a field; interneurons'
contributions cancel (Mazzoni 2015). Martinez-Canada et al. 2021 [@martinezcanada2021computation]
found that the same kind of weighted sum predicts the EEG of the same networks, so the
proxy stands for an LFP and, scaled, an EEG; its unit is the current's (A), and an absolute
scale in volts would need the geometry it leaves out.

Assumption of this model (no source tested it): the NMDA current of the pyramidal cells
enters with the AMPA current (the glutamatergic term ``i_glu``, with AMPA's delay); the
networks of Mazzoni 2015 had no NMDA receptors. Both parts are recorded apart from the
weighted sum, so another weighting can be computed from ``results.h5``.

The circuit records the two summed currents with one extra cell, the ``field`` group, whose
variables are summed over all pyramidal cells by one synapse each (Brian2's ``(summed)``
variables): `FIELD_EQUATIONS`, `FIELD_SUMS`. The sums are taken every `field_step_ms`
(0.5 ms, on the field group's own clock): each sum evaluates every pyramidal cell's NMDA
conductance again, and taking it every 0.1-ms step made a ``pfc`` window about a third slower.
"""

from __future__ import annotations

import numpy as np

#: Delay of the glutamatergic current in the weighted sum (ms), Mazzoni 2015 [@mazzoni2015computing]
#: (the RWS proxy: fitted over network states and cell morphologies, then fixed).
MAZZONI_DELAY_MS: float = 6.0
#: Weight of the GABA_A current relative to the glutamatergic one (1), Mazzoni 2015 (RWS).
MAZZONI_GABA_WEIGHT: float = 1.65

#: Interval at which the currents are summed and recorded (ms), at least one time step.
FIELD_STEP_MS: float = 0.5

#: The summed currents of all pyramidal cells the ``field`` group records (A, membrane convention).
FIELD_CURRENTS: tuple[str, ...] = ("i_glu", "i_gaba")

#: The one-cell group that holds the summed currents.
FIELD_EQUATIONS = """
i_glu : amp  # AMPA + NMDA current summed over all pyramidal cells
i_gaba : amp  # GABA_A (PV + SST) current summed over all pyramidal cells
"""
#: The pyramidal-to-field synapses (one per pyramidal cell) that sum the currents.
FIELD_SUMS = """
i_glu_post = (g_ampa_pre + g_nmda_pre) * (v_pre - e_exc) : amp (summed)
i_gaba_post = (g_pv_pre + g_sst_pre) * (v_pre - e_inh) : amp (summed)
"""


def field_step_ms(dt_ms: float) -> float:
    """The interval of the field sums for a time step ``dt_ms``: the whole number of steps
    nearest `FIELD_STEP_MS`, at least one.

    >>> field_step_ms(0.1), field_step_ms(0.3), field_step_ms(1.0)
    (0.5, 0.6, 1.0)
    """
    return max(1, int(round(FIELD_STEP_MS / dt_ms))) * dt_ms


def reference_weighted_sum(
    i_glu,
    i_gaba,
    dt_ms: float,
    delay_ms: float = MAZZONI_DELAY_MS,
    gaba_weight: float = MAZZONI_GABA_WEIGHT,
) -> np.ndarray:
    """The reference weighted sum of Mazzoni 2015: ``i_glu(t - delay) - gaba_weight i_gaba(t)``.

    Parameters
    ----------
    i_glu, i_gaba : array_like of float, shape (n_samples,) or (n_windows, n_samples)
        Summed glutamatergic and GABA_A currents of the pyramidal cells (A, membrane
        convention), sampled every ``dt_ms`` from the window's start (last axis: time).
    dt_ms : float
        Sampling interval (ms, > 0).
    delay_ms : float
        Delay of the glutamatergic current (ms, >= 0); rounded to whole samples.
    gaba_weight : float
        Weight of the GABA_A current (1).

    Returns
    -------
    numpy.ndarray of float, the shape of ``i_glu``
        The proxy (A). Its first ``round(delay_ms / dt_ms)`` samples are NaN: the delayed
        current is not known before the window.

    Raises
    ------
    ValueError
        If the two currents differ in shape, ``dt_ms`` <= 0 or ``delay_ms`` < 0.

    Examples
    --------
    An excitatory current of -1 nA and an inhibitory one of 0.5 nA, sampled each 2 ms, a
    delay of 4 ms: -1 - 1.65 x 0.5 = -1.825 nA from the third sample on.

    >>> import numpy as np
    >>> from ketamine_sim.circuits.spiking.field_potential import reference_weighted_sum
    >>> reference_weighted_sum(np.full(4, -1e-9), np.full(4, 0.5e-9), dt_ms=2.0, delay_ms=4.0) * 1e9
    array([   nan,    nan, -1.825, -1.825])
    """
    glu, gaba = np.asarray(i_glu, dtype=float), np.asarray(i_gaba, dtype=float)
    if glu.shape != gaba.shape:
        raise ValueError(f"i_glu and i_gaba differ in shape: {glu.shape} vs {gaba.shape}")
    if not dt_ms > 0 or not delay_ms >= 0:
        raise ValueError(f"need dt_ms > 0 and delay_ms >= 0, got {dt_ms} and {delay_ms}")
    lag = int(round(delay_ms / dt_ms))
    delayed = np.full_like(glu, np.nan)
    if lag < glu.shape[-1]:
        delayed[..., lag:] = glu[..., : glu.shape[-1] - lag]
    return delayed - gaba_weight * gaba


__all__ = [
    "FIELD_CURRENTS",
    "FIELD_EQUATIONS",
    "FIELD_STEP_MS",
    "FIELD_SUMS",
    "field_step_ms",
    "MAZZONI_DELAY_MS",
    "MAZZONI_GABA_WEIGHT",
    "reference_weighted_sum",
]
