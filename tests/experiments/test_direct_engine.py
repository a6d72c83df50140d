"""Running a compiled circuit from its call file (experiments/simulation/direct.py): the same
windows as Brian2's ``device.run`` of the same build, without Brian2 in the process, and a
structure key that changes with whatever changes the generated code."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from experiments import config as C
from experiments.api import compose_config
from experiments.simulation import direct as D

SMALL = ["circuit=small", "backend.threads=1"]


# --- no compiler ------------------------------------------------------------------------------
def test_the_structure_key_follows_the_structure():
    structure = C.circuit_structure(compose_config(SMALL))
    key = D.structure_key(structure)
    assert D.structure_key(structure) == key  # stable
    for changed in (
        replace(structure, threads=2),
        replace(structure, window_s=structure.window_s + 0.1),
        replace(structure, counts={**structure.counts, "pyr": structure.counts["pyr"] + 1}),
    ):
        assert D.structure_key(changed) != key


def test_the_structure_key_follows_brians_preferences_and_the_compiler(tmp_path, monkeypatch):
    structure = C.circuit_structure(compose_config(SMALL))
    key = D.structure_key(structure)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "brian_preferences").write_text("codegen.cpp.extra_compile_args_gcc = ['-O1']\n")
    assert D.structure_key(structure) != key
    (tmp_path / "brian_preferences").unlink()
    assert D.structure_key(structure) == key
    monkeypatch.setenv("CXXFLAGS", "-O0")
    assert D.structure_key(structure) != key


KEY = """
import sys
from experiments import config as C
from experiments.api import compose_config
from experiments.simulation.direct import structure_key
if sys.argv[1] != "plain":
    import brian2
    brian2.prefs.codegen.target = "numpy"  # what a runtime engine sets: not read by standalone code
if sys.argv[1] == "changed":
    brian2.prefs["codegen.cpp.extra_compile_args_gcc"] = ["-O1"]
print(structure_key(C.circuit_structure(compose_config(["circuit=small"]))))
"""


@pytest.mark.cli
def test_the_structure_key_is_the_same_with_brian2_imported_unless_a_preference_changed():
    def key(mode: str) -> str:
        proc = subprocess.run([sys.executable, "-c", KEY, mode], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout.strip().splitlines()[-1]

    plain = key("plain")
    assert key("imported") == plain
    assert key("changed") != plain


def test_a_call_file_without_its_build_is_not_used(tmp_path):
    structure = C.circuit_structure(compose_config(SMALL))
    path = D.call_file(tmp_path, structure)
    assert D.DirectEngine.find(structure, tmp_path) is None  # none written
    D.write_call(path, {"version": D.CALL_VERSION, "build": "small-gone", "inputs": {}})
    assert D.DirectEngine.find(structure, tmp_path) is None  # its build is missing
    (tmp_path / "small-gone").mkdir()
    (tmp_path / "small-gone" / "main").write_bytes(b"not the binary the marker names")
    assert D.DirectEngine.find(structure, tmp_path) is None  # no completion marker
    path.write_text("{not json")
    assert D.DirectEngine.find(structure, tmp_path) is None


def test_run_arguments_are_written_as_brian2_writes_them(tmp_path):
    spec = {"arg": "pyr.v", "dtype": "<f8", "size": 3}
    assert D._argument(spec, "pyr", "v", -0.07, tmp_path) == "pyr.v=-0.07"
    assert D._argument(spec, "pyr", "v", [0.5], tmp_path) == "pyr.v=0.5"
    text = D._argument(spec, "pyr", "v", [1.0, 2.0, 3.0], tmp_path)
    assert np.array_equal(np.fromfile(text.partition("=")[2]), [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="pyr.v: expected 3"):
        D._argument(spec, "pyr", "v", [1.0, 2.0], tmp_path)
    dynamic = {"arg": "pyr_to_pyr.spine", "dtype": "<f8", "size": None}  # drawn in the binary: any size
    assert D._argument(dynamic, "pyr_to_pyr", "spine", np.ones(7), tmp_path).startswith("pyr_to_pyr.spine=")


def test_the_binary_gets_the_thread_count_and_wait_policy():
    assert D.binary_environment(3, "active")["OMP_NUM_THREADS"] == "3"
    assert D.binary_environment(1)["OMP_WAIT_POLICY"] == "passive"
    with pytest.raises(ValueError, match="wait_policy"):
        D.binary_environment(1, "spin")


# --- compiled ---------------------------------------------------------------------------------
#: Runs two windows of circuit=small (the second with the first's spine sites carried in) with
#: the engine ``args["mode"]`` asks for and saves every output, the engine's type and whether
#: Brian2 was imported.
WINDOWS = """
import json, sys
from pathlib import Path
import numpy as np
from circuits.spiking.network import initial_values
from experiments import config as C
from experiments.api import compose_config
from experiments.simulation.engine import make_engine

args = json.loads(sys.argv[1])
cfg = compose_config(["circuit=small", "backend.threads=1", *args.get("extra", [])])
structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
engine = make_engine(structure, "cpp_standalone", Path(args["cache"]), direct=args["mode"] != "brian2")
out, sites = {}, None
for k in range(2):
    values = initial_values(structure, drive, {"s_ket": 1.0}, None, np.random.default_rng(k))
    if sites is not None:
        values["pyr_to_pyr"] = {"spine": sites["spine"].astype(float)}
    window = engine.run_window(values, connect_seed=5, noise_seed=7 + k)
    sites = window.sites
    for pop, (t, i) in window.spikes.items():
        out[f"{k}/spikes/{pop}/t"], out[f"{k}/spikes/{pop}/i"] = t, i
    for pop, state in window.state.items():
        out.update({f"{k}/state/{pop}/{name}": value for name, value in state.items()})
    out.update({f"{k}/sites/{name}": value for name, value in window.sites.items()})
np.savez(args["out"], **out)
print(json.dumps({"engine": type(engine).__name__, "brian2": "brian2" in sys.modules}))
"""


def _windows(tmp_path: Path, cache: Path, mode: str, extra=()) -> tuple[dict, dict]:
    out = tmp_path / f"{mode}{len(extra)}.npz"
    args = {"cache": str(cache), "mode": mode, "out": str(out), "extra": list(extra)}
    proc = subprocess.run(
        [sys.executable, "-c", WINDOWS, json.dumps(args)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with np.load(out) as data:
        return {key: data[key] for key in data.files}, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.compiles
def test_direct_windows_equal_brian2s_device_run_without_brian2(build_cache, tmp_path):
    reference, how = _windows(tmp_path, build_cache, "brian2")
    assert how == {"engine": "StandaloneEngine", "brian2": True}
    direct, how = _windows(tmp_path, build_cache, "direct")
    assert how == {"engine": "DirectEngine", "brian2": False}  # the call file was found: no code generation
    assert sorted(direct) == sorted(reference)
    assert "1/sites/pre" not in direct  # sites carried in: indices not read again
    for key in reference:
        assert np.array_equal(direct[key], reference[key], equal_nan=True), key
    assert len(reference["0/spikes/pyr/t"]) > 0 and not np.array_equal(reference["0/sites/spine"], [])


@pytest.mark.compiles
def test_vectorised_windows_keep_the_rates_of_brian2s_flags(build_cache, tmp_path):
    """backend.vectorise (finite math, vector exp) against Brian2's own flags: the same circuit
    and seeds give each population's spike count within 10% in both windows (in the
    benchmark on pfc they were identical)."""
    vector, _ = _windows(tmp_path, build_cache, "direct")
    plain, _ = _windows(tmp_path, build_cache, "direct", ["backend.vectorise=false"])
    for k in range(2):
        for pop in ("pyr", "pv", "sst"):
            a, b = len(vector[f"{k}/spikes/{pop}/t"]), len(plain[f"{k}/spikes/{pop}/t"])
            assert b > 100 and abs(a - b) <= 0.1 * b, (k, pop, a, b)
