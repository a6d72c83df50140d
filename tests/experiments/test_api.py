"""Running an experiment from Python gives what the command line gives."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.config import ConfigError

SCRIPT = """
import sys
from ketamine_sim.experiments.api import run
result = run(["experiment=bath", "circuit=small", "bath.concentrations_uM=[0]", "output.figure=false"], sys.argv[1])
frame = result.readouts_frame()
print("ROWS", len(frame), "SEED", result.seed)
"""


def test_compose_config_matches_the_command_line_defaults():
    cfg = compose_config(["drug=esketamine", "seed=4"])
    assert cfg.experiment.name == "iv_infusion" and cfg.drug.name == "esketamine" and cfg.seed == 4
    assert cfg.circuit.name == "pfc" and "hydra" not in cfg


def test_run_from_python_equals_the_command_line(ketamine_sim, build_cache, tmp_path):
    """Same overrides, same seed: identical spikes (the run happens in a fresh interpreter,
    as in a notebook kernel)."""
    env = dict(os.environ, KETAMINE_SIM_CACHE=str(build_cache), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "api")], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "ROWS 3 SEED 1" in proc.stdout  # one window x three populations
    cli = ketamine_sim("experiment=bath", "circuit=small", "bath.concentrations_uM=[0]", "output.figure=false").read()
    from ketamine_sim.experiments.results import read_results

    api = read_results(tmp_path / "api" / "results.h5")
    np.testing.assert_array_equal(api.spikes["pyr"][0], cli.spikes["pyr"][0])


def test_bad_override_from_python_raises_config_error():
    from ketamine_sim.experiments.api import run

    with pytest.raises(ConfigError, match="dosing.dose_mg_per_kg"):
        run(["dosing.dose_mg_per_kg=-3"], "unused")
