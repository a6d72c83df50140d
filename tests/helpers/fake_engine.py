"""A stand-in for the compiled engine: a deterministic function of what the protocol loop
hands a window, with the engine's ``run_window`` contract. No compiler, no Brian2 run.

Its spikes, final block, accumulators, vesicle pool, spine sites and field-proxy currents respond
to the concentrations, the carried block, the release fraction, the weight scale and the spine
sites passed in, so a loop that hands a window anything different changes its output.
"""

from __future__ import annotations

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.receptors import ACCUMULATORS
from ketamine_sim.experiments.simulation.readouts import membrane_range_V


def fingerprint(values: np.ndarray) -> np.ndarray:
    """Size, sum, sum of squares, extremes and an index-weighted sum of an array: any change of
    its values beyond rounding changes one of them, while the last bits a machine's floating-point
    path leaves may differ (compared with a relative tolerance, not bit for bit)."""
    flat = values.ravel()
    if flat.size == 0:
        return np.zeros(6)
    weights = np.cos(np.arange(flat.size))
    return np.array([flat.size, flat.sum(), (flat**2).sum(), flat.min(), flat.max(), flat @ weights])


class FakeEngine:
    """Stands in for :class:`ketamine_sim.experiments.simulation.engine.StandaloneEngine`: same ``run_window`` contract."""

    def __init__(self, structure):
        self.structure = structure
        #: one record per window: (connect_seed, noise_seed, {"target.name": fingerprint})
        self.calls: list[tuple[int, int, dict[str, np.ndarray]]] = []

    @staticmethod
    def _record(values, connect_seed, noise_seed) -> tuple[int, int, dict[str, np.ndarray]]:
        found = {
            f"{target}.{name}": fingerprint(np.asarray(values[target][name], dtype=float))
            for target in sorted(values)
            for name in sorted(values[target])
        }
        return int(connect_seed), int(noise_seed), found

    def run_window(self, values, connect_seed, noise_seed):
        from ketamine_sim.experiments.simulation.windows import WindowOutput

        self.calls.append(self._record(values, connect_seed, noise_seed))
        s = self.structure
        window_s = s.window_s
        rng = np.random.default_rng([noise_seed, connect_seed])
        spikes, state = {}, {}
        for pop in POPULATIONS:
            n = s.counts[pop]
            v = values[pop]
            drug = sum(float(v[f"c_{k}"]) for k in SPECIES)
            carried = {k: np.broadcast_to(np.asarray(v[f"b_{k}"], dtype=float), (n,)) for k in SPECIES}
            ee = float(np.mean(v["w_from_pyr"])) * 1e9
            rate = 2.0 + 3.0 * drug / (drug + 0.5) + 0.5 * ee + float(np.mean(carried[SPECIES[0]]))
            count = rng.poisson(rate * n * window_s)
            times = np.sort(rng.uniform(0.0, window_s, count))
            ids = rng.integers(0, n, count)
            spikes[pop] = (times, ids.astype(np.int64))
            low, high = membrane_range_V(s.cells[pop], s.synapses)
            pop_state = {"v": rng.uniform(low, high, n), "s_nmda": rng.uniform(0.0, 1.0, n)}
            for k in SPECIES:
                c = float(v[f"c_{k}"])
                target = 0.5 * c / (c + 1.0) / len(SPECIES)
                pop_state[f"b_{k}"] = 0.5 * (carried[k] + target) * rng.uniform(0.9, 1.0, n)
            for name in ACCUMULATORS:
                if name != "open_access_time":
                    pop_state[name] = rng.uniform(0.0, 0.3 * window_s, n)
            pop_state["open_unbind_time"] = 0.2 * pop_state["open_time"] * (1.0 + drug)
            pop_state["open_access_time"] = pop_state["open_time"].copy()  # no Mg competition
            if pop == "pyr":
                u = float(v["u_release"])
                pool = np.broadcast_to(np.asarray(v["x_ves"], dtype=float), (n,))
                pop_state["x_ves"] = np.clip(0.8 * pool + 0.2 * rng.uniform(0.5, 1.0, n), 0.0, 1.0)
                pop_state["released"] = u * rate * window_s * rng.uniform(0.8, 1.2, n)
                pop_state["ampa_local"] = float(v["ampa_scale"]) * rate * window_s * rng.uniform(0.8, 1.2, n)
            pop_state.update(self._network_state(v, n, connect_seed, noise_seed, pop))
            state[pop] = pop_state
        sites = None
        n_pyr = s.counts["pyr"]
        site_rng = np.random.default_rng([connect_seed, 7])
        pre = site_rng.integers(0, n_pyr, 5 * n_pyr)
        post = site_rng.integers(0, n_pyr, 5 * n_pyr)
        if "pyr_to_pyr" in values:
            sites = {"spine": np.asarray(values["pyr_to_pyr"]["spine"], dtype=float) > 0.5}
        else:
            init = np.broadcast_to(np.asarray(values["pyr"]["spine_init"], dtype=float), (n_pyr,))
            sites = {"spine": site_rng.uniform(size=pre.size) < init[post], "pre": pre, "post": post}
        return WindowOutput(
            spikes=spikes, state=state, wall_s=0.0, sites=sites, field=self._field(spikes, connect_seed, noise_seed)
        )

    @staticmethod
    def _network_state(v, n, connect_seed, noise_seed, pop) -> dict[str, np.ndarray]:
        """Final conductances and NMDA rise fraction that follow the ones handed in (their own
        random stream, per population)."""
        rng = np.random.default_rng([noise_seed, connect_seed, 13, ("pyr", "pv", "sst").index(pop)])
        out = {}
        for name in ("g_ampa", "g_pv", "g_sst", "x_nmda"):
            start = np.broadcast_to(np.asarray(v[name], dtype=float), (n,))
            out[name] = 0.5 * start + (1e-9 if name.startswith("g") else 0.1) * rng.uniform(0.0, 1.0, n)
        return out

    def _field(self, spikes, connect_seed, noise_seed) -> dict[str, np.ndarray]:
        """Summed currents (A) per field step: a 40 Hz rhythm in noise, scaled by the pyramidal
        spike count (its own random stream: the other outputs stay as they were)."""
        from ketamine_sim.circuits.spiking.field_potential import field_step_ms

        s = self.structure
        step_ms = field_step_ms(s.dt_ms)
        n_steps = int(round(1e3 * s.window_s / step_ms))
        t_s = 1e-3 * step_ms * np.arange(n_steps)
        rng = np.random.default_rng([noise_seed, connect_seed, 11])
        scale = 1e-12 * (1.0 + len(spikes["pyr"][0]))
        rhythm = np.sin(2 * np.pi * 40.0 * t_s)
        return {
            "i_glu": -scale * (5.0 + rhythm + rng.normal(0.0, 1.0, n_steps)),
            "i_gaba": scale * (2.0 + 0.5 * rhythm + rng.normal(0.0, 0.5, n_steps)),
        }


def fake_run(folder, overrides):
    """A whole ``run_experiment`` of ``circuit=small`` with `FakeEngine` windows (no figure):
    the path of its ``results.h5``."""
    import pytest

    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.kinds import protocol_run, run_experiment

    class Engine(FakeEngine):
        timings = {"build_s": 0.0}
        recompiled = False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol_run, "make_engine", lambda structure, **options: Engine(structure))
        run_experiment(compose_config(["circuit=small", "output.figure=false", *overrides]), folder)
    (path,) = folder.glob("**/results.h5")
    return path


def fake_configured_run(payload, directory):
    """A run planned as a whole config (a cohort's patient, a sensitivity sample) with
    `FakeEngine` windows, in its worker process (module level: pickled by name; the ``run_one``
    of ``ketamine_sim.experiments.cohort.run_cohort`` and ``ketamine_sim.experiments.sensitivity.run_sensitivity``)."""
    from pathlib import Path

    import pytest

    from ketamine_sim.experiments.kinds import protocol_run, run_experiment
    from ketamine_sim.experiments.scoring.configured_runs import config_of

    class Engine(FakeEngine):
        timings = {"build_s": 0.0}
        recompiled = False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol_run, "make_engine", lambda structure, **options: Engine(structure))
        run_experiment(config_of(payload), Path(directory))
    return directory


def fake_folder_run(cfg, output_dir):
    """``run_in_folder`` of a composed config with `FakeEngine` windows: the ``run`` of a
    launched job (:func:`ketamine_sim.experiments.kinds.launch.launch_runs`; module level: pickled by name)."""
    import pytest

    from ketamine_sim.experiments.kinds import protocol_run, run_in_folder

    class Engine(FakeEngine):
        timings = {"build_s": 0.0}
        recompiled = False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol_run, "make_engine", lambda structure, **options: Engine(structure))
        return run_in_folder(cfg, output_dir, "hydra.sweep.dir")


def failing_folder_run(cfg, output_dir):
    """A launched job's ``run`` that fails for ``seed=13`` and runs `fake_folder_run` otherwise."""
    if cfg.seed == 13:
        raise RuntimeError("this run fails on purpose")
    return fake_folder_run(cfg, output_dir)


def interrupted_folder_run(cfg, output_dir):
    """A launched job's ``run`` interrupted (Ctrl-C) for ``seed=13``, `fake_folder_run` otherwise."""
    if cfg.seed == 13:
        raise KeyboardInterrupt
    return fake_folder_run(cfg, output_dir)
