"""Backends agree: cython (Brian2 runtime) and cpp_standalone give statistically matching
rates on circuit=small. Their random generators differ, so spikes differ; each backend
runs three seeds (three connectivities) and the mean rates are compared with a z-test."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.experiments.results import read_results

pytestmark = pytest.mark.compiles

SEEDS = (1, 2, 3)


def _rates(ketamine_sim, backend: str) -> dict[str, np.ndarray]:
    rates = {pop: [] for pop in POPULATIONS}
    for seed in SEEDS:
        run = ketamine_sim(
            "experiment=bath",
            "circuit=small",
            "bath.concentrations_uM=[0]",
            "output.figure=false",
            f"backend={backend}",
            f"seed={seed}",
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        data = read_results(run.results)
        assert data.provenance["backend"] == backend
        for pop in POPULATIONS:
            rates[pop].append(data.readouts[pop]["rate"][0])
    return {pop: np.array(r) for pop, r in rates.items()}


def test_cython_and_cpp_standalone_rates_match(ketamine_sim):
    cpp = _rates(ketamine_sim, "cpp_standalone")
    cython = _rates(ketamine_sim, "cython")
    for pop in POPULATIONS:
        a, b = cpp[pop], cython[pop]
        standard_error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        difference = abs(a.mean() - b.mean())
        # 3 standard errors of the seed-to-seed spread, and never more than 25% apart
        assert difference <= 3 * standard_error + 0.02 * a.mean(), (pop, a, b)
        assert difference <= 0.25 * a.mean(), (pop, a, b)


def test_numpy_backend_runs_the_same_circuit(ketamine_sim):
    """The pure-numpy runtime (no compiler) runs a short window with rates in the range of the others."""
    run = ketamine_sim(
        "experiment=bath",
        "circuit=small",
        "bath.concentrations_uM=[0]",
        "output.figure=false",
        "backend=numpy",
        "circuit.window_s=0.5",
    )
    data = run.read()
    assert data.provenance["backend"] == "numpy"
    rates = {pop: data.readouts[pop]["rate"][0] for pop in POPULATIONS}
    assert 0.5 < rates["pyr"] < 10 and 5 < rates["pv"] < 40 and 2 < rates["sst"] < 30, rates
