"""The notebooks in notebooks/: stored without outputs, and each runs top to bottom in small mode.

Each notebook runs in a fresh kernel (nbclient) with ``KETAMINE_SIM_SMALL=1`` and the session's
build cache, in a temporary folder (its ``outputs/`` land there); a cell appended by the test
then checks what the notebook computed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "ketamine-sim-tests"
#: Every notebook and the checks run after it in its kernel (its own variables).
CHECKS = {
    "01_quickstart": """
assert result.n_windows == 3 and len(readouts) == 3 * 3
assert (OUT / "iv_infusion" / "results.h5").is_file() and (OUT / "pk_curve.png").is_file()
assert (OUT / "pk_curve.svg").is_file() and nwb_path.is_file()
assert [s.name for s in block.segments] == list(result.data.windows["label"])
assert readouts.attrs["units"]["rate"] == "Hz"
""",
    "02_disinhibition_demo": """
r = rates(default)
# disinhibition (TARGETS C1-C3): pyramidal cells up, SST cells down
assert r.loc["pyr", "ketamine"] > 1.5 * r.loc["pyr", "baseline"], r
assert r.loc["sst", "ketamine"] < r.loc["sst", "baseline"], r
# without interneuron NMDA receptors: SST cells weaker before the drug, and no disinhibition
assert rates(no_nmda).loc["sst", "baseline"] < r.loc["sst", "baseline"], comparison
assert change_pct(no_nmda)["pyr"] < 0.25 * change_pct(default)["pyr"], comparison
assert controls.children[0].value == 1.0 and controls.children[1].value == 1.0
""",
    "04_treatment_course": """
assert "spine_density" in timeline and (OUT / "spine_density.png").is_file()
assert summary.loc["spine_density_peak", "one infusion"] > summary.loc["spine_density_baseline", "one infusion"]
assert gain(blocked, 1) > 0.5 * gain(single, 1) and gain(blocked, 7) < 0.2 * gain(single, 7)
assert summary.loc["outcome_peak", "six infusions"] > summary.loc["outcome_peak", "one infusion"]
""",
    "05_virtual_cohort": """
assert len(one) == len(six) == len(nasal) == N and set(one["responded"]) <= {0.0, 1.0}
assert {"responded_rate", "response_after_last_dose_rate"} <= set(summary("six_infusions").index)
assert (OUT / "six_infusions_cohort.png").is_file()
assert exposure["Cmax (ng/mL)"].nunique() == N  # every patient absorbs and clears in its own way
assert (one["seed"].to_numpy() == six["seed"].to_numpy()).all()  # the same patients
assert (one["state_ee_weight_scale"] == nasal["state_ee_weight_scale"]).all()  # whatever the pk model
""",
    "03_sweep_analysis": """
assert len(df) == len(DRUGS) * len(SEEDS) * 2 * 3
assert sorted(df.drug.unique()) == sorted(DRUGS) and sorted(df.seed.unique()) == SEEDS
# the more potent enantiomer blocks more NMDA receptors at the same concentration
assert block.loc["esketamine", "pyr"] > block.loc["arketamine", "pyr"], block
""",
}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_checked():
    assert sorted(p.stem for p in notebook_paths()) == sorted(CHECKS)


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    """Outputs, execution counts and widget state stay out of the repository."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    assert "widgets" not in nb.metadata, f"{path.name}: stored widget state in the metadata"


@pytest.mark.notebook
@pytest.mark.compiles
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs_in_small_mode(name, build_cache, tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[name]))
    monkeypatch.setenv("KETAMINE_SIM_SMALL", "1")
    monkeypatch.setenv("KETAMINE_SIM_CACHE", str(build_cache))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    # the kernel imports this checkout, as the tests do
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")]))
    )
    # a kernel of this interpreter, whatever other "python3" kernels the machine has registered
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "ketamine-sim tests",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    start = time.perf_counter()
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name=KERNEL, resources={"metadata": {"path": str(run_dir)}}
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"{name}: {time.perf_counter() - start:.1f} s")
