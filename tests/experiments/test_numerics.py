"""State variables stay in their physical range at any accepted input, and a window that
leaves it stops the run.

- The circuit's fractions (blocked fractions ``b_k``, NMDA open fraction ``s``, vesicle pool
  ``x``) are stepped implicitly (``ketamine_sim.circuits.spiking.receptors.block_update_code``, ``NMDA_OPEN_UPDATE``,
  ``ketamine_sim.circuits.spiking.vesicles.VESICLE_UPDATE``): forward Euler left [0, 1] once a rate times dt
  exceeded 1 (a negative NMDA conductance at 100 mM ketamine, NaN at 1 M).
- The slow layer's steps (block, glutamate/adenosine, BDNF/mTOR/spines, vesicle trains) are
  exact for any step length.
- Concentrations above ``MAX_CONCENTRATION_UM`` are refused (exit 2, one line).
- A window whose state or readouts are NaN, inf or out of range raises ``NumericalError``
  and nothing is written.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.pharmacology import block_parameters as derive_block
from ketamine_sim.circuits.pharmacology import steady_state_block
from ketamine_sim.circuits.slow.nmda_block import ChannelActivity, advance_block
from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.experiments.config import compose_config as _compose
from ketamine_sim.experiments.config.settings import block_constants

#: The block's published constants as a configured run takes them (configs/config.yaml, block.*).
_DEFAULT = _compose([])
BLOCK_CONSTANTS = block_constants(_DEFAULT)


def block_parameters(fit: str = _DEFAULT.block.fit, escape: bool = _DEFAULT.block.trapping_escape):
    """The block scheme as a configured run derives it (``block.fit``, ``block.trapping_escape``)."""
    return derive_block(BLOCK_CONSTANTS, fit, escape, mg_competition=_DEFAULT.block.mg_competition)


ALL_SPECIES = {k: 1.0 for k in SPECIES}


def _all(c_uM: float) -> dict[str, float]:
    return {k: c_uM for k in SPECIES}


# --- the compiled block step (block_sim: the circuit's own step, numpy runtime) -------------

#: (concentration of every species uM, dt ms, s, V mV): s kon c dt from 5 to 5e4 for S-ketamine
HUGE_RATES = [(1e6, 0.1, 1.0, -70.0), (1e6, 0.1, 0.1, 0.0), (1e3, 100.0, 0.3, -40.0), (1.0, 1e4, 1.0, -70.0)]


@pytest.mark.parametrize("c_uM, dt_ms, s, v_mV", HUGE_RATES)
def test_block_step_at_huge_kon_c_dt_stays_in_range_and_lands_on_the_equilibrium(block_sim, c_uM, dt_ms, s, v_mV):
    params = block_parameters()
    assert s * params.kon_per_uM_per_s("s_ketamine") * c_uM * dt_ms * 1e-3 > 2  # forward Euler diverges here
    run = block_sim(
        params, [dict(s=s, v_mV=v_mV, c=_all(c_uM))], duration_s=60 * dt_ms * 1e-3, dt_ms=dt_ms, record_dt_ms=dt_ms
    )
    for k in SPECIES:
        assert np.all(run.traces[k] >= 0.0) and np.all(run.traces[k] <= 1.0)
    assert np.all(run.total <= 1.0 + 1e-12)
    # started unblocked, the species stay in their equilibrium proportions; the free fraction
    # relaxes by 1 / (1 + (A + lam) dt) < 1 / 3 per step: 60 steps reach the closed-form steady state
    steady = steady_state_block(params, _all(c_uM), v_mV=v_mV, open_fraction=s)
    for k in SPECIES:
        assert run.final[k][0] == pytest.approx(steady[k], rel=1e-9, abs=1e-12)


def test_block_step_keeps_every_fraction_and_their_sum_in_range_from_any_start(block_sim):
    """500 random starts (blocked fractions summing to <= 1), open fractions, voltages and
    concentrations up to 1 M, at dt = 0.1 ms and at dt = 1 s."""
    rng = np.random.default_rng(7)
    n = 250
    start = rng.dirichlet(np.ones(len(SPECIES) + 1), n)  # the last column is the free fraction
    conditions = [
        dict(
            s=float(rng.choice([0.0, 1.0, rng.uniform()])),
            v_mV=float(rng.uniform(-100, 40)),
            c={k: float(10.0 ** rng.uniform(-3, 6)) for k in SPECIES},
            b0={k: float(start[i, j]) for j, k in enumerate(SPECIES)},
        )
        for i in range(n)
    ]
    params = block_parameters()
    for dt_ms in (0.1, 1000.0):
        run = block_sim(params, conditions, duration_s=5 * dt_ms * 1e-3, dt_ms=dt_ms, record_dt_ms=dt_ms)
        assert min(float(np.min(run.traces[k])) for k in SPECIES) >= 0.0
        assert float(np.max(run.total)) <= 1.0 + 1e-12


def test_block_step_of_frozen_activity_matches_the_exact_solution(block_sim):
    """At a large step the implicit step still agrees with the exact solution to Euler's error:
    at dt = 1 ms within (rate dt)^2 of ``advance_block`` after 4 s."""
    params = block_parameters()
    c = {"s_ketamine": 2.0, "r_ketamine": 2.0, "hnk": 20.0}
    run = block_sim(params, [dict(s=0.5, v_mV=-50.0, c=c, b0={"r_ketamine": 0.3})], duration_s=4.0, dt_ms=1.0)
    activity = ChannelActivity(np.array([0.5]), np.array([0.5 * math.exp(20.0 / params.v_e_mV)]))
    exact = advance_block({k: np.array([0.3 if k == "r_ketamine" else 0.0]) for k in SPECIES}, activity, c, params, 4.0)
    for k in SPECIES:
        assert run.final[k][0] == pytest.approx(exact[k][0], abs=1e-3)


# --- the whole circuit's equations at extreme inputs (numpy runtime, a tiny circuit) ---------

TINY = [
    "circuit=small",
    "circuit.counts.pyr=8",
    "circuit.counts.pv=2",
    "circuit.counts.sst=2",
    "circuit.window_s=0.03",
    "circuit.transient_s=0.005",
    "backend=numpy",
    "experiment=bath",
    "bath.concentrations_uM=[0,1]",
    "bath.equilibration_s=1",
    "bath.timeline_step_s=1",
    "output.figure=false",
]


def _tiny_circuit(*overrides):
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config

    cfg = compose_config([*TINY, *overrides])
    return cfg, C.circuit_structure(cfg), C.circuit_drive(cfg)


@pytest.mark.slow
def test_circuit_fractions_stay_in_range_at_extreme_rates():
    """1 M of every species, NMDA content x 1e5 (alpha x dt >> 1 after a spike) and tau_rec
    0.01 ms (< dt): every fraction stays in [0, 1] and the NMDA conductance >= 0."""
    from ketamine_sim.circuits.spiking.network import initial_values
    from ketamine_sim.experiments.simulation.engine import RuntimeEngine

    _, structure, drive = _tiny_circuit()
    drive = replace(
        drive,
        nmda_ratio={pop: 1e5 * r for pop, r in drive.nmda_ratio.items()},
        vesicles=replace(drive.vesicles, tau_rec_ms=0.01, recycling_slowing=5.0),
    )
    values = initial_values(structure, drive, _all(1e6), None, np.random.default_rng(1))
    out = RuntimeEngine(structure, "numpy").run_window(values, connect_seed=1, noise_seed=2)
    assert len(out.spikes["pyr"][0]) > 0  # pyramidal spikes did drive x_nmda
    for pop in POPULATIONS:
        state = out.state[pop]
        blocked = sum(state[f"b_{k}"] for k in SPECIES)
        for name in [f"b_{k}" for k in SPECIES] + ["s_nmda"] + (["x_ves"] if pop == "pyr" else []):
            assert np.all(np.isfinite(state[name])) and np.all(state[name] >= 0) and np.all(state[name] <= 1), (
                pop,
                name,
            )
        assert np.all(blocked <= 1 + 1e-12)
        # cells whose channels opened are blocked (1 M: equilibrium block 1 - 1e-6)
        opened = state["open_time"] > 0
        assert np.all(blocked[opened] > 0.99), (pop, blocked)
        assert np.all(state["q_nmda"] >= 0) and np.all(np.isfinite(state["q_nmda"]))


# --- the slow layer: steps of any length -----------------------------------------------------


def test_slow_layer_steps_of_any_length_stay_in_range():
    """The slow layer integrates exactly: steps from 1 us to 30 years at concentrations up to
    1 M keep block, pools and site probabilities in range (a guard: it was already exact)."""
    from ketamine_sim.circuits.slow.neurochemistry import Neurochemistry
    from ketamine_sim.circuits.slow.plasticity import PlasticityState, advance
    from ketamine_sim.circuits.spiking.vesicles import pool_after_recovery, train_release
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.config import compose_config

    params = block_parameters()
    rng = np.random.default_rng(3)
    n = 2000
    s = rng.uniform(0, 1, n)
    s[:100] = 0.0
    activity = ChannelActivity(s, s * np.exp(rng.uniform(-3, 3, n)))
    start = rng.dirichlet(np.ones(len(SPECIES) + 1), n)
    block = {k: start[:, j] for j, k in enumerate(SPECIES)}
    for c in (0.0, 1e-3, 1.0, 1e3, 1e6):
        for h in (1e-6, 1e-3, 1.0, 1e3, 1e9):
            out = advance_block(block, activity, _all(c), params, h)
            assert min(float(np.min(b)) for b in out.values()) >= 0.0
            assert float(np.max(sum(out.values()))) <= 1.0 + 1e-12
    cfg = compose_config([])
    chemistry = C.neurochemistry(cfg)
    for h in (1e-6, 1.0, 1e9):
        chem = Neurochemistry(glutamate=3.0, adenosine=0.2)
        chem.advance(release_relative=0.0, ampa_available=1.0, params=chemistry, h_s=h)
        assert 0.0 <= chem.glutamate <= 3.0 and chem.adenosine >= 0.0
    plasticity, healthy = C.plasticity(cfg).params, C.brain_state(cfg)
    for h in (1.0, 1e6, 1e9):
        state = PlasticityState.at_rest(4, plasticity, healthy)
        advance(state, np.array([0.0, 1.0, 1e3, 1e6]), h, plasticity, healthy)
        for p in (state.occupancy, state.formed, state.survival, state.formed + state.survival):
            assert np.all((p >= 0) & (p <= 1 + 1e-12))
    released, pool = train_release(1.0, 1e-6, 20, 0.1, return_pool=True)
    assert np.all((released >= 0) & (released <= 1)) and 0 <= pool <= 1
    assert 0.0 <= float(pool_after_recovery(0.0, 1e-9, 1e9)) <= 1.0


# --- a window that leaves the range stops the run, nothing is written ------------------------


def test_check_window_names_the_variable_and_window():
    from ketamine_sim.experiments.errors import NumericalError
    from ketamine_sim.experiments.simulation.readouts import check_window

    good = {
        "b_s_ketamine": np.array([0.2, 0.3]),
        "b_r_ketamine": np.array([0.1, 0.0]),
        "s_nmda": np.array([0.0, 1.0]),
        "q_nmda": np.array([0.0, 1e-9]),
        "v": np.array([-0.07, -0.05]),
    }
    check_window(good, {"rate": 2.0, "cv_isi": float("nan")}, "pyr", "10 min")  # cv_isi NaN: too few spikes, allowed
    cases = [
        ({**good, "b_s_ketamine": np.array([0.2, np.nan])}, {}, "b_s_ketamine"),
        ({**good, "b_r_ketamine": np.array([0.1, -0.4])}, {}, "b_r_ketamine"),
        ({**good, "b_s_ketamine": np.array([0.2, 0.7]), "b_r_ketamine": np.array([0.1, 0.5])}, {}, "sum"),
        ({**good, "q_nmda": np.array([0.0, -1e-9])}, {}, "q_nmda"),
        ({**good, "v": np.array([-0.07, np.inf])}, {}, "v"),
        (good, {"rate": 2.0, "g_nmda_mean": float("nan")}, "g_nmda_mean"),
        (good, {"cv_isi": float("inf")}, "cv_isi"),
    ]
    for state, readouts, name in cases:
        with pytest.raises(NumericalError, match=f"window '10 min'.*pyr.*{name}"):
            check_window(state, readouts, "pyr", "10 min")
    check_window(good, {}, "pyr", "10 min", v_range_V=(-0.08, 0.0))
    with pytest.raises(NumericalError, match=r"v \(membrane potential\) is outside \[-60, 0\] mV"):
        check_window(good, {}, "pyr", "10 min", v_range_V=(-0.06, 0.0))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the diverging membrane, on purpose
def test_conductances_too_large_for_the_time_step_fail_the_run():
    """Weights x 1e4 drive forward Euler's membrane step unstable (dt g / C_m >> 2): the run
    stops with a message naming the window, instead of reporting rates of a diverged state."""
    from ketamine_sim.circuits.spiking.network import CircuitDrive
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.errors import NumericalError
    from ketamine_sim.experiments.protocols.builders import bath_protocol
    from ketamine_sim.experiments.simulation.engine import RuntimeEngine
    from ketamine_sim.experiments.simulation.timeline import run_protocol

    cfg, structure, drive = _tiny_circuit()
    # the background drive too, so that the huge conductances arrive whatever the seed's spikes
    drive: CircuitDrive = replace(
        drive,
        weight_nS={key: 1e4 * w for key, w in drive.weight_nS.items()},
        background_weight_nS={pop: 1e4 * w for pop, w in drive.background_weight_nS.items()},
    )
    with pytest.raises(
        NumericalError, match=r"window '\d uM', population \w+: state variable v \(membrane potential\)"
    ):
        run_protocol(
            bath_protocol(cfg),
            structure,
            drive,
            RuntimeEngine(structure, "numpy"),
            1,
            C.mechanisms(cfg, structure),
        )


class _PoisonedEngine:
    """The test's stand-in engine, with one state variable set to NaN in one window's output."""

    def __init__(self, engine, window: int, variable: str):
        self.engine, self.window, self.variable, self.calls = engine, window, variable, 0
        self.timings, self.recompiled = {"build_s": 0.0}, False

    def run_window(self, values, connect_seed, noise_seed):
        out = self.engine.run_window(values, connect_seed, noise_seed)
        if self.calls == self.window:
            out.state["sst"][self.variable][:] = np.nan
        self.calls += 1
        return out


def test_window_with_nan_state_fails_the_run_and_writes_nothing(tmp_path, monkeypatch):
    from helpers.fake_engine import FakeEngine

    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.errors import NumericalError
    from ketamine_sim.experiments.kinds import protocol_run, run_experiment

    cfg = compose_config(TINY)
    monkeypatch.setattr(
        protocol_run,
        "make_engine",
        lambda structure, **options: _PoisonedEngine(FakeEngine(structure), 1, "q_nmda"),
    )
    with pytest.raises(NumericalError, match="window '1 uM', population sst: state variable q_nmda"):
        run_experiment(cfg, tmp_path / "run")
    assert not any((tmp_path / "run").glob("**/*.h5")) and not any((tmp_path / "run").glob("**/*.png"))


# --- the config refuses concentrations the model is not valid at ----------------------------


@pytest.mark.parametrize(
    "overrides, field",
    [
        (("experiment=bath", "bath.concentrations_uM=[0,1,'100 mM']"), "bath.concentrations_uM[2]"),
        (("experiment=bath", "bath.concentrations_uM=[0,1001]"), "bath.concentrations_uM[1]"),
        (("experiment=bath", "bath.concentrations_uM=[0,'1 M']"), "bath.concentrations_uM[1]"),
        (("experiment=evoked_release", "evoked_release.concentration_uM='2 mM'"), "evoked_release.concentration_uM"),
    ],
)
def test_concentration_above_the_bound_is_refused(overrides, field):
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config

    with pytest.raises(C.ConfigError, match=r"<= 1000 uM") as error:
        C.validate(compose_config(["circuit=small", *overrides]))
    assert error.value.field == field


def test_concentration_at_the_bound_is_accepted():
    from ketamine_sim.circuits.pharmacology import MAX_CONCENTRATION_UM
    from ketamine_sim.experiments import config as C
    from ketamine_sim.experiments.api import compose_config

    assert MAX_CONCENTRATION_UM == 1000.0
    C.validate(compose_config(["circuit=small", "experiment=bath", "bath.concentrations_uM=[0,'1 mM']"]))
    cfg = compose_config(["circuit=small", "experiment=evoked_release", "evoked_release.concentration_uM=1000"])
    assert C.evoked_concentration_uM(cfg) == 1000.0


def test_cli_refuses_100_mM_with_exit_2_and_one_line(ketamine_sim):
    run = ketamine_sim(
        "experiment=bath", "bath.concentrations_uM=[0,'100 mM','1 M']", "circuit=small", "backend.threads=1"
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "bath.concentrations_uM[1]" in lines[0] and "<= 1000 uM" in lines[0], run.stderr
    assert not run.results.exists()


# --- the compiled backend -------------------------------------------------------------------

_COMPILED = """
import json, sys
import numpy as np
from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.spiking.network import initial_values
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation.engine import StandaloneEngine, default_cache_dir
cfg = compose_config(["circuit=small", "backend.threads=1"])
structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
engine = StandaloneEngine(structure, default_cache_dir())
values = initial_values(structure, drive, {k: float(sys.argv[1]) for k in SPECIES}, None, np.random.default_rng(1))
out = engine.run_window(values, connect_seed=1, noise_seed=2)
print(json.dumps({pop: {"b_min": min(float(np.min(s[f"b_{k}"])) for k in SPECIES),
                        "b_total_max": float(np.max(sum(s[f"b_{k}"] for k in SPECIES))),
                        "b_total_min": float(np.min(sum(s[f"b_{k}"] for k in SPECIES))),
                        "s_min": float(np.min(s["s_nmda"])), "s_max": float(np.max(s["s_nmda"])),
                        "q_nmda_min": float(np.min(s["q_nmda"])),
                        "finite": bool(all(np.all(np.isfinite(v)) for v in s.values()))}
                  for pop, s in out.state.items()}))
"""


@pytest.mark.compiles
def test_compiled_circuit_keeps_the_block_in_range_at_100_mM(build_cache):
    """The cpp_standalone build of circuit=small, one window at 100 mM of every species
    (kon c dt = 5 for S-ketamine, where forward Euler diverged): block in [0, 1], near full."""
    import os

    env = dict(os.environ, KETAMINE_SIM_CACHE=str(build_cache))
    proc = subprocess.run(
        [sys.executable, "-c", _COMPILED, "1e5"], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    for pop, f in found.items():
        assert f["finite"], pop
        assert f["b_min"] >= 0 and f["b_total_max"] <= 1 + 1e-12 and f["b_total_min"] > 0.99, (pop, f)
        assert 0 <= f["s_min"] and f["s_max"] <= 1 and f["q_nmda_min"] >= 0, (pop, f)
