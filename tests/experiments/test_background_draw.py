"""``backend.background_draw``: the background's events per step drawn per cell (a binomial,
the reference) or per population (a Poisson total spread over the cells;
`ketamine_sim.circuits.spiking.background`): the config's checks, and in compiled windows the
events each cell received, read from its AMPA charge, against the Poisson numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.errors import ConfigError

SMALL = ["circuit=small", "backend.threads=1"]


def test_the_draw_is_part_of_the_structure():
    per_population = C.circuit_structure(compose_config(SMALL))  # the compiled circuit's default
    per_cell = C.circuit_structure(compose_config([*SMALL, "backend.background_draw=per_cell"]))
    assert per_cell.background.draw == "per_cell" and per_population.background.draw == "per_population"
    assert per_cell.digest() != per_population.digest()


def test_an_unknown_draw_names_the_allowed_ones():
    with pytest.raises(
        ConfigError, match=r"backend.background_draw: unknown value 'fast'; allowed: per_cell, per_population"
    ):
        C.circuit_structure(compose_config([*SMALL, "backend.background_draw=fast"]))


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_the_per_population_draw_needs_the_compiled_circuit(backend):
    cfg = compose_config([*SMALL, f"backend={backend}", "backend.background_draw=per_population"])
    with pytest.raises(
        ConfigError,
        match=rf"backend.background_draw: per_population needs backend=cpp_standalone \(got backend={backend}\)",
    ):
        C.circuit_structure(cfg)


# --- compiled ---------------------------------------------------------------------------------
#: One 2-s window of circuit=small with the draw ``args["draw"]``, without recurrent input
#: (every w_from_* 0) and with each cell's background weight scaled by a random factor in
#: [0.5, 1.5): saves per population the AMPA charge q_ampa, the weights and the spike count,
#: and the spike counts of an ordinary window (all inputs).
ISOLATED = """
import json, sys
from pathlib import Path
import numpy as np
from ketamine_sim.circuits.spiking.network import initial_values
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation.engine import make_engine

args = json.loads(sys.argv[1])
cfg = compose_config(["circuit=small", "backend.threads=1", f"backend.background_draw={args['draw']}"])
structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
engine = make_engine(structure, "cpp_standalone", Path(args["cache"]), direct=True)
rng = np.random.default_rng(3)
values = initial_values(structure, drive, {}, None, rng)
out = {}
ordinary = engine.run_window(values, connect_seed=4, noise_seed=5)
for pop in ("pyr", "pv", "sst"):
    out[f"{pop}/ordinary_spikes"] = np.array(len(ordinary.spikes[pop][0]))
    for name in ("w_from_pyr", "w_from_pv", "w_from_sst"):
        values[pop][name] = np.zeros_like(np.asarray(values[pop][name], dtype=float))
    values[pop]["w_ext"] = np.asarray(values[pop]["w_ext"], dtype=float) * rng.uniform(0.5, 1.5, structure.counts[pop])
    out[f"{pop}/w_ext"] = values[pop]["w_ext"]
window = engine.run_window(values, connect_seed=4, noise_seed=6)
for pop in ("pyr", "pv", "sst"):
    out[f"{pop}/q_ampa"] = window.state[pop]["q_ampa"]
np.savez(args["out"], **out)
"""


@pytest.fixture(scope="module")
def isolated(build_cache, tmp_path_factory):
    """``isolated(draw)``: the saved arrays of `ISOLATED` with that draw (run once per module)."""
    folder, done = tmp_path_factory.mktemp("background"), {}

    def run(draw: str) -> dict:
        if draw not in done:
            out = folder / f"{draw}.npz"
            args = {"cache": str(build_cache), "draw": draw, "out": str(out)}
            proc = subprocess.run(
                [sys.executable, "-c", ISOLATED, json.dumps(args)], capture_output=True, text=True, timeout=900
            )
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            with np.load(out) as data:
                done[draw] = {key: data[key] for key in data.files}
        return done[draw]

    return run


@pytest.mark.compiles
@pytest.mark.parametrize("draw", ["per_cell", "per_population"])
def test_every_cell_receives_its_poisson_count_of_background_events(isolated, draw):
    """Without recurrent input a cell's AMPA charge is w_ext x tau_ampa per background event
    (the Euler decay's geometric series), so q_ampa / (w_ext tau_ampa) counts its events:
    Poisson(n r T) = 4000 per cell in 2 s at 1000 inputs of 2 Hz. Over each population the mean
    count is within 4 standard errors of 4000 (less the last ~2 ms of decay), the variance
    across cells is that of independent Poisson counts (a wrong cell index, an event counted
    twice or a share that differs between cells would change one or the other), and the count
    does not follow the cell's weight."""
    cfg = compose_config(SMALL)
    structure = C.circuit_structure(cfg)
    tau_ampa = structure.synapses.tau_ampa_ms * 1e-3
    bg = structure.background
    expected = bg.n_sources * bg.rate_hz * structure.window_s
    data = isolated(draw)
    for pop in ("pyr", "pv", "sst"):
        events = data[f"{pop}/q_ampa"] / (data[f"{pop}/w_ext"] * tau_ampa)
        n = len(events)
        assert n == structure.counts[pop]
        mean, var = events.mean(), events.var(ddof=1)
        truncated = expected * (1 - tau_ampa / structure.window_s)  # events of the last ms not yet integrated
        assert abs(mean - truncated) < 4 * np.sqrt(expected / n), (pop, mean, truncated)
        # (n - 1) s^2 / sigma^2 ~ chi2(n - 1): within +-4 of its standard deviation sqrt(2 (n - 1))
        assert abs((n - 1) * var / expected - (n - 1)) < 4 * np.sqrt(2 * (n - 1)), (pop, var, expected)
        assert abs(np.corrcoef(events, data[f"{pop}/w_ext"])[0, 1]) < 4 / np.sqrt(n), pop


@pytest.mark.compiles
def test_both_draws_give_the_same_rates(isolated):
    """An ordinary window (all inputs, one seed): each population's spike count with the
    per-population draw within 10% of the per-cell draw's (they differ as two seeds do: 2-4%)."""
    per_cell, per_population = isolated("per_cell"), isolated("per_population")
    for pop in ("pyr", "pv", "sst"):
        a, b = int(per_population[f"{pop}/ordinary_spikes"]), int(per_cell[f"{pop}/ordinary_spikes"])
        assert b > 100 and abs(a - b) <= 0.1 * b, (pop, a, b)
