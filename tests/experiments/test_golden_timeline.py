"""The protocol loop frozen: a fake engine (no compiler) drives ``run_protocol`` and every
array it returns must equal the golden arrays in ``tests/data/golden_timeline.npz``: integers,
strings and booleans bit for bit, floating-point values to 1e-9 relative. Not bit for bit,
because numpy and scipy take other floating-point paths on other CPUs (SIMD width) and
versions, which moves the last bits (measured: 1e-15 relative in the pharmacokinetics); a
changed loop moves values far more. The spectral fits on the stand-in's noise field
(:data:`FITTED`) are held to 0.01: an optimiser's stopping point moves with those last bits.

The fake engine is a deterministic function of what the loop hands a window (every value of
every population, the seeds): its spikes, final block, accumulators, vesicle pool and spine
sites respond to the concentrations, the carried block, the release fraction, the weight
scale and the spine sites passed in, so a refactored loop that hands a window anything
different, or carries anything differently between windows, changes the arrays.

Regenerate (only when a change of behaviour is intended and said in its commit)::

    KETAMINE_SIM_REGENERATE_GOLDEN=1 pytest tests/experiments/test_golden_timeline.py
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from helpers.fake_engine import FakeEngine, fingerprint

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.protocols import PROTOCOLS
from ketamine_sim.experiments.simulation.timeline import run_protocol

GOLDEN = Path(__file__).parents[1] / "data" / "golden_timeline.npz"
REGENERATE = os.environ.get("KETAMINE_SIM_REGENERATE_GOLDEN") == "1"

#: name -> overrides; each exercises a part of the loop (block, chemistry, NBQX timing,
#: rapamycin gate, A1 antagonist, evoked train, plasticity with spine sites, bath, the network
#: state carried from window to window).
CASES = {
    "iv_infusion": ["experiment=iv_infusion"],
    "iv_adenosine_dpcpx": ["experiment=iv_infusion", "hypothesis=adenosine_feedback", "manipulation=dpcpx"],
    "iv_nbqx_timed": ["experiment=iv_infusion", "manipulation=nbqx_timed"],
    "iv_carried_state": ["experiment=iv_infusion", "circuit.carry_state=true"],
    "evoked_release": ["experiment=evoked_release"],
    "bath": ["experiment=bath"],
    "course_single": ["experiment=course", "dosing.follow_days=7"],
    "course_rapamycin": ["experiment=course", "manipulation=rapamycin", "dosing.follow_days=3"],
    "course_six_iv": ["experiment=course", "dosing=six_iv_2wk", "dosing.follow_days=3"],
}


#: readouts fitted by an optimiser (FOOOF's curve fit): compared to this absolute tolerance.
FITTED = ("field_aperiodic_exponent", "field_gamma_peak_hz", "field_gamma_peak_height")
RTOL = 1e-9


def _flatten(result, engine) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        "engine_calls/seeds": np.array([(c, n) for c, n, _ in engine.calls], dtype=np.int64),
        "engine_calls/values": np.array(["|".join(found) for _, _, found in engine.calls]),
        "engine_calls/fingerprints": np.concatenate([v for _, _, found in engine.calls for v in found.values()]),
    }
    for pop, (times, ids) in result.spikes.items():
        out[f"spikes/{pop}/times_ms"], out[f"spikes/{pop}/ids"] = times, ids
    for group in ("windows", "timeline"):
        for name, values in getattr(result, group).items():
            out[f"{group}/{name}"] = np.asarray(values)
    for group in ("window_units", "timeline_units"):
        for name, unit in getattr(result, group).items():
            out[f"{group}/{name}"] = np.array(unit)
    for pop, found in result.readouts.items():
        for name, values in found.items():
            out[f"readouts/{pop}/{name}"] = np.asarray(values)
    if result.synapses is not None:
        for name in ("source_ids", "target_ids"):
            out[f"synapses/{name}"] = np.asarray(result.synapses[name])
        for name in ("present", "weight_scale"):
            for i, values in enumerate(result.synapses[name]):
                out[f"synapses/{name}/{i}"] = np.asarray(values)
    return {key: _compact(value) for key, value in out.items()}


def _compact(value: np.ndarray) -> np.ndarray:
    """Arrays above 2000 elements (spike trains, site flags) kept without megabytes of golden
    data: floating-point ones as their :func:`fingerprint`, others as the SHA-256 of their dtype,
    shape and bytes (bit for bit)."""
    if value.size <= 2000:
        return value
    if value.dtype.kind == "f":
        return fingerprint(value)
    h = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
    h.update(np.ascontiguousarray(value).tobytes())
    return np.array("sha256:" + h.hexdigest())


def _simulate(overrides: list[str]) -> dict[str, np.ndarray]:
    cfg = compose_config(["circuit=small", *overrides])
    C.validate(cfg)
    structure = C.circuit_structure(cfg)
    name = cfg.experiment.name
    engine = FakeEngine(structure)
    result = run_protocol(
        PROTOCOLS[name](cfg),
        structure,
        C.circuit_drive(cfg),
        engine,
        int(cfg.seed),
        C.mechanisms(cfg, structure),
        train=C.train(cfg) if name == "evoked_release" else None,
        progress=lambda message: None,
    )
    return _flatten(result, engine)


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    if REGENERATE:
        arrays = {f"{case}:{key}": value for case, o in CASES.items() for key, value in _simulate(o).items()}
        GOLDEN.parent.mkdir(exist_ok=True)
        np.savez_compressed(GOLDEN, **arrays)
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("case", sorted(CASES))
def test_protocol_loop_reproduces_the_golden_arrays(case, golden):
    expected = {key.split(":", 1)[1]: value for key, value in golden.items() if key.startswith(f"{case}:")}
    assert expected, f"no golden arrays for case {case}: regenerate (see module docstring)"
    found = _simulate(CASES[case])
    assert sorted(found) == sorted(expected)
    for key, value in expected.items():
        assert found[key].dtype == value.dtype, key
        assert found[key].shape == value.shape, key
        assert np.all(_same(found[key], value, fitted=key.endswith(FITTED))), (
            f"{case}: {key} differs from the golden arrays"
        )


def _same(found: np.ndarray, expected: np.ndarray, fitted: bool) -> np.ndarray:
    """Element-wise: equal (NaN where NaN) for every kind; floating point to :data:`RTOL`
    (and a tiny absolute floor for values that are rounding noise around 0)."""
    if expected.dtype.kind != "f":
        return found == expected
    both_nan = np.isnan(found) & np.isnan(expected)
    finite = expected[np.isfinite(expected)]
    floor = 1e-12 * float(np.max(np.abs(finite))) if finite.size else 0.0
    close = np.abs(found - expected) <= (0.01 if fitted else RTOL * np.abs(expected) + floor)
    return both_nan | (found == expected) | close


def test_golden_arrays_respond_to_the_drug(golden):
    """The golden run is not trivial: the block rises with the drug and the fake spikes follow it."""
    blocked = golden["iv_infusion:timeline/nmda_blocked_pyr"].astype(float)
    assert blocked[0] == 0.0 and blocked.max() > 0.01
    assert golden["course_single:timeline/spine_density"].max() > golden["course_single:timeline/spine_density"][0]
