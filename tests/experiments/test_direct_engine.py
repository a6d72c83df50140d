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

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation import direct as D

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


def test_the_write_guard_wraps_every_array_write_and_leaves_other_code_as_it_is(caplog):
    from ketamine_sim.experiments.simulation.builds import WRITE_ONLY_ENV, guard_result_writes

    def write(name: str, mode: str = "ios::binary | ios::out") -> str:
        return (
            f"    ofstream outfile_{name};\n"
            f'    outfile_{name}.open(results_dir + "{name}_7", {mode});\n'
            f"    if(outfile_{name}.is_open())\n    {{\n        x;\n    }} else\n    {{\n"
            f'        std::cout << "Error writing output file for {name}." << endl;\n    }}\n'
        )

    code = (
        "int a;\nvoid _write_arrays()\n{\n"
        + write("_array_a")
        + write("_array_b")
        + write("info", "ios::out")
        + "}\nint b;\n"
    )
    guarded = guard_result_writes(code)
    assert guarded.count("if (_ketamine_sim_writes(") == 2  # the two arrays, not the text file
    assert f'std::getenv("{WRITE_ONLY_ENV}")' in guarded and guarded.endswith("}\nint b;\n")
    other = "void _write_arrays()\n{\n    save_everything();\n}\n"
    assert guard_result_writes(other) == other and "every result is written" in caplog.text


KEY = """
import sys
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation.direct import structure_key
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


def _fake_build(cache: Path, name: str, content: bytes = b"#!/bin/sh\n") -> str:
    """A folder with an executable ``main`` and its completion marker; returns main's SHA-256."""
    from ketamine_sim.experiments.simulation.builds import _write_marker

    (cache / name).mkdir(parents=True)
    (cache / name / "main").write_bytes(content)
    (cache / name / "main").chmod(0o755)
    _write_marker(cache / name)
    return json.loads((cache / name / "build_complete.json").read_text())["main_sha256"]


def _call(structure, build: str, sha: str) -> dict:
    """A call file as Brian2 names the arrays of ``structure``."""
    real, index = "<f8", "<i4"
    inputs, outputs = {}, {}
    for target in ("pyr", "pv", "sst", "pyr_to_pyr"):
        prefix, size = ("_dynamic_array", None) if "_to_" in target else ("_array", structure.counts[target])
        inputs[target] = {
            name: {"file": D.array_file(prefix, target, name), "dtype": real, "size": size, "arg": f"{target}.{name}"}
            for name in D.variables(D.INIT_VARIABLES, target)
        }
        outputs[target] = {
            name: {"file": D.array_file(prefix, target, name), "dtype": real}
            for name in D.variables(D.OUTPUT_VARIABLES, target)
        }
    spikes = {
        pop: {
            n: {"file": D.array_file("_dynamic_array", f"spikes_{pop}", n), "dtype": t}
            for n, t in (("t", real), ("i", index))
        }
        for pop in ("pyr", "pv", "sst")
    }
    sites = {
        k: {"file": D.array_file("_dynamic_array", "pyr_to_pyr", n), "dtype": index}
        for k, n in (("pre", "_synaptic_pre"), ("post", "_synaptic_post"))
    }
    edges = {
        f"{pre}_to_{post}": {
            k: {"file": D.array_file("_dynamic_array", f"{pre}_to_{post}", n), "dtype": index}
            for k, n in (("pre", "_synaptic_pre"), ("post", "_synaptic_post"))
        }
        for (pre, post), p in structure.connection_probability.items()
        if p > 0 and (pre, post) != ("pyr", "pyr")
    }
    return {
        "version": D.CALL_VERSION,
        "build": build,
        "main_sha256": sha,
        "inputs": inputs,
        "outputs": outputs,
        "spikes": spikes,
        "sites": sites,
        "edges": edges,
        "field": {
            n: {"file": D.array_file("_dynamic_array", "field_monitor", n), "dtype": real} for n in ("i_glu", "i_gaba")
        },
    }


def test_only_a_sound_call_file_of_its_own_build_is_used(tmp_path):
    structure = C.circuit_structure(compose_config(SMALL))
    path = D.call_file(tmp_path, structure)
    assert D.DirectEngine.find(structure, tmp_path) is None  # none written
    sha = _fake_build(tmp_path, "small-one")
    D.write_call(path, _call(structure, "small-one", sha))
    assert D.DirectEngine.find(structure, tmp_path).directory == tmp_path / "small-one"  # sound: used

    def refused(edit) -> bool:
        call = _call(structure, "small-one", sha)
        edit(call)
        D.write_call(path, call)
        return D.DirectEngine.find(structure, tmp_path) is None

    other = _fake_build(tmp_path, "small-other", b"#!/bin/sh\nexit 0\n")
    assert refused(lambda c: c.update(build="small-other"))  # another build than it was written for
    assert refused(lambda c: c.update(build="small-other", main_sha256=other)) is False  # consistent: used
    assert refused(lambda c: c.update(build="../elsewhere/small-one"))
    assert refused(lambda c: c.update(build="pfc-one"))
    assert refused(lambda c: c.update(build="small-gone"))
    assert refused(lambda c: c.update(version=D.CALL_VERSION + 1))
    assert refused(lambda c: c["inputs"]["pyr"].pop("v"))
    assert refused(lambda c: c.pop("inputs"))
    assert refused(lambda c: c["inputs"]["pyr"]["v"].update(dtype="<f4"))
    assert refused(lambda c: c["inputs"]["pyr"]["v"].update(size=10))
    assert refused(lambda c: c["spikes"]["pv"]["t"].update(file="nonexistent_file"))
    assert refused(lambda c: c["edges"].pop("pv_to_pyr"))
    assert refused(lambda c: c["edges"]["pv_to_pyr"]["pre"].update(file="_dynamic_array_pv_to_sst__synaptic_pre"))
    assert refused(lambda c: c.pop("field"))  # a call file of version 3 has none
    assert refused(lambda c: c["field"]["i_glu"].update(dtype="<f4"))
    (tmp_path / "small-one" / "main").write_bytes(b"not the binary the marker names")
    assert refused(lambda c: None)
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
    assert D.binary_environment(1)["OMP_WAIT_POLICY"] == "active"
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
from ketamine_sim.circuits.spiking.network import initial_values
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation.engine import make_engine

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
    for name, edges in (window.edges or {}).items():
        out.update({f"{k}/edges/{name}/{key}": value for key, value in edges.items()})
    out.update({f"{k}/field/{name}": value for name, value in window.field.items()})
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
    assert "1/sites/pre" not in direct and "1/edges/pv_to_pyr/pre" not in direct  # not read again
    assert len(direct["0/edges/pv_to_pyr/pre"]) > 0  # every pathway's synapses with the first window
    for key in reference:
        assert np.array_equal(direct[key], reference[key], equal_nan=True), key
    assert len(reference["0/spikes/pyr/t"]) > 0 and not np.array_equal(reference["0/sites/spine"], [])
    # the field proxy's currents: one sample per 0.5 ms of the 2-s window, inward excitation
    assert reference["1/field/i_glu"].shape == (4000,) and np.all(reference["1/field/i_glu"][1:] < 0)


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


def test_a_missing_compiler_is_one_line_naming_the_backend():
    from ketamine_sim.experiments.errors import ConfigError
    from ketamine_sim.experiments.simulation.builds import _compiler_identity

    with pytest.raises(ConfigError, match=r"backend.name: cannot run the C\+\+ compiler '/nonexistent/g\+\+'"):
        _compiler_identity("/nonexistent/g++", ("-march=native",))


@pytest.mark.compiles
def test_the_compiler_identity_ignores_its_temp_files_in_a_folder_with_spaces(tmp_path, monkeypatch):
    """g++ -### names temp files in $TMPDIR; with a space in it they changed every key (and
    every run recompiled)."""
    import tempfile

    from ketamine_sim.experiments.simulation.builds import _compiler_identity

    folder = tmp_path / "a folder"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    identities = []
    for _ in range(2):
        _compiler_identity.cache_clear()
        identities.append(_compiler_identity("g++", ("-march=native",)))
    _compiler_identity.cache_clear()
    assert identities[0] == identities[1] and str(folder) not in identities[0]


@pytest.mark.compiles
def test_a_direct_window_writes_only_the_files_it_reads(build_cache, tmp_path, monkeypatch):
    """The binary writes the files `read_files` names (WRITE_ONLY_ENV), the synapse tables with
    the first window only; Brian2's own runs (no variable) still get every array."""
    from ketamine_sim.circuits.spiking.network import initial_values
    from ketamine_sim.experiments.simulation.engine import make_engine

    _windows(tmp_path, build_cache, "direct")  # the build and its call file
    cfg = compose_config(SMALL)
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    engine = make_engine(structure, "cpp_standalone", build_cache, direct=True)
    assert isinstance(engine, D.DirectEngine)
    written, run = [], engine._run

    def listing(arguments, environment, results):
        run(arguments, environment, results)
        written.append({p.name for p in results.iterdir()} - {"stdout.txt", "last_run_info.txt"})

    monkeypatch.setattr(engine, "_run", listing)
    values = initial_values(structure, drive, {}, None, np.random.default_rng(0))
    first = engine.run_window(values, connect_seed=5, noise_seed=7)
    values["pyr_to_pyr"] = {"spine": first.sites["spine"].astype(float)}
    engine.run_window(values, connect_seed=5, noise_seed=8)
    assert written[0] == set(D.read_files(engine.call, with_indices=True))
    assert written[1] == set(D.read_files(engine.call, with_indices=False))
    assert len(written[1]) < len(written[0]) and not any("_synaptic_pre" in name for name in written[1])
