"""A built wheel installs the project as the package ``ketamine_sim`` (the model, the
experiments, the configs and the published findings) and runs in a fresh virtual
environment, from a folder that is not the repository; the generic names ``circuits`` and
``experiments`` are not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built as pip builds it (an isolated build environment)."""
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = dist.glob("ketamine_sim-*.whl")
    return built


@pytest.mark.cli
def test_the_wheel_holds_the_package_its_configs_and_findings_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("ketamine_sim/", "ketamine_sim-")) for n in names), sorted(
        {n.split("/")[0] for n in names}
    )
    for name in (
        "ketamine_sim/__init__.py",
        "ketamine_sim/circuits/slow/pharmacokinetics.py",
        "ketamine_sim/experiments/api.py",
        "ketamine_sim/configs/config.yaml",
        "ketamine_sim/configs/hydra/launcher/local.yaml",
        "ketamine_sim/seeds/references.bib",
        "ketamine_sim/seeds/pharmacokinetics.yaml",
    ):
        assert name in names, name
    configs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert {f"ketamine_sim/{c}" for c in configs} <= set(names)


@pytest.mark.cli
@pytest.mark.compiles
def test_the_wheel_runs_the_default_experiment_in_a_fresh_venv(wheel, build_cache, tmp_path):
    """Installed from the wheel alone (the dependencies lent from this environment), the
    command runs the default experiment on the small circuit from an unrelated folder."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # the dependencies, not the project: a path line, so this environment's editable install is not loaded
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(KETAMINE_SIM_CACHE=str(build_cache), MPLBACKEND="Agg")
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import ketamine_sim, importlib.util; print(ketamine_sim.__file__); "
            "print(importlib.util.find_spec('experiments'), importlib.util.find_spec('circuits'))",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    location, generic = where.stdout.splitlines()
    assert Path(location).is_relative_to(env_dir) and generic == "None None"
    run = subprocess.run(
        [
            str(env_dir / "bin" / "ketamine-sim"),
            "circuit=small",
            "output.figure=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert (tmp_path / "run" / "results.h5").is_file()
