"""Seeds and the build cache.

Seeds: every generator seed is derived from (seed, purpose, index), so distinct seeds give
distinct networks (the compiled code used ``seed*1000 + thread`` mod 2**32: seeds 0, 2**29
and 2**32 built one network), and seeds outside [0, 2**32 - 1] are refused on every backend.

Build cache: a build is keyed on the generated code (not on the environment's include
paths), is complete or absent (a killed build is never reused), is usable from a read-only
cache (per-run files go elsewhere), and names that become paths stay inside the cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.config import ConfigError, validate

SMALL = ("circuit=small", "backend.threads=1")
SEED_MAX = 2**32 - 1
#: Seeds that the compiled code's old derivation (seed*1000 + i, mod 2**32) mapped onto one network.
ALIASED = (0, 536_870_912, 2 * 536_870_912, 3 * 536_870_912)


# --- seeds -------------------------------------------------------------------------------


@pytest.mark.slow
def test_distinct_seeds_give_distinct_generator_seeds_for_every_stream():
    from ketamine_sim.circuits.spiking.network import stream_seed

    seeds = list(range(20_000)) + list(ALIASED) + [2**k for k in range(32)] + [SEED_MAX, SEED_MAX - 1]
    seeds = sorted(set(seeds))
    for purpose, index in (
        ("connectivity", (0,)),
        ("connectivity", (1,)),
        ("window_noise", (0,)),
        ("window_noise", (7,)),
        ("noise", (3,)),
    ):
        derived = [stream_seed(seed, purpose, *index) for seed in seeds]
        assert len(set(derived)) == len(seeds), (purpose, index)
        assert all(0 <= d <= SEED_MAX for d in derived)


def test_streams_of_one_seed_are_unrelated():
    """Different purposes, windows and threads of one seed get different generator seeds."""
    from ketamine_sim.circuits.spiking.network import stream_seed

    for seed in (0, 1, 536_870_912, SEED_MAX):
        streams = [
            stream_seed(seed, purpose, i) for purpose in ("connectivity", "noise", "window_noise") for i in range(64)
        ]
        assert len(set(streams)) == len(streams), seed


def test_the_binary_gets_a_distinct_seed_per_thread_and_seed():
    """What the compiled code reads: one derived seed per OpenMP thread."""
    from ketamine_sim.experiments.simulation.windows import _thread_seeds

    texts = {seed: _thread_seeds(seed, "connectivity", 4).split() for seed in ALIASED + (1, SEED_MAX)}
    everything = [s for seeds in texts.values() for s in seeds]
    assert all(len(seeds) == 4 for seeds in texts.values())
    assert len(set(everything)) == len(everything)


def test_window_generators_differ_by_seed_and_window_and_repeat():
    from ketamine_sim.circuits.spiking.network import stream_rng

    draws = {
        (seed, w): stream_rng(seed, "window_values", w).uniform(size=4).tolist()
        for seed in ALIASED + (1,)
        for w in range(3)
    }
    assert len({tuple(v) for v in draws.values()}) == len(draws)
    assert stream_rng(1, "window_values", 2).uniform(size=4).tolist() == draws[(1, 2)]


@pytest.mark.cli
def test_derived_seeds_are_the_same_in_another_process():
    from ketamine_sim.circuits.spiking.network import stream_rng, stream_seed

    code = (
        "from ketamine_sim.circuits.spiking.network import stream_rng, stream_seed; "
        "print(stream_seed(536870912, 'connectivity', 1), stream_rng(3, 'window_values', 2).integers(1 << 30))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONHASHSEED="123"),
    ).stdout.split()
    here = [stream_seed(536870912, "connectivity", 1), stream_rng(3, "window_values", 2).integers(1 << 30)]
    assert other == [str(value) for value in here]


@pytest.mark.parametrize("backend", ["cpp_standalone", "cython", "numpy"])
@pytest.mark.parametrize("value", ["4294967296", "99999999999999999999", str(2**63)])
def test_seeds_outside_the_range_are_refused_on_every_backend(backend, value):
    cfg = compose_config([*SMALL, f"backend={backend}", f"seed={value}"])
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    assert error.value.field == "seed"
    assert "\n" not in str(error.value)


def test_the_largest_seed_is_accepted_and_scorecard_seeds_are_checked():
    validate(compose_config([*SMALL, f"seed={SEED_MAX}"]))
    with pytest.raises(ConfigError) as error:
        validate(compose_config([*SMALL, "experiment=scorecard", "scorecard.seeds=[1,4294967296]"]))
    assert error.value.field == "scorecard.seeds.1"
    with pytest.raises(ValueError):
        from ketamine_sim.circuits.spiking.network import stream_seed

        stream_seed(2**32, "connectivity", 0)


# --- names, cache folders ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../somewhere", "/tmp/x", "a/b", ".hidden", "..", "", "-rf", "x" * 65, "a b"])
def test_circuit_names_that_would_leave_the_cache_are_refused(name):
    with pytest.raises(ConfigError) as error:
        validate(compose_config([*SMALL, f"circuit.name='{name}'"]))
    assert error.value.field == "circuit.name"


def test_the_engine_turns_any_name_into_one_path_component():
    from ketamine_sim.experiments.simulation.builds import safe_name

    for name in ("../../somewhere", "/etc/passwd", "..", "", "a/../../b", "name with spaces"):
        safe = safe_name(name)
        assert safe and "/" not in safe and not safe.startswith(".") and Path(safe).name == safe
    assert safe_name("small") == "small"


def test_bad_cache_folders_are_refused(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    for value in ("/dev/null", "123", "true", f"{a_file}", f"{a_file}/sub", "''"):
        with pytest.raises(ConfigError) as error:
            validate(compose_config([*SMALL, f"backend.cache_dir={value}"]))
        assert error.value.field == "backend.cache_dir", value
    validate(compose_config([*SMALL, f"backend.cache_dir={tmp_path / 'new' / 'cache'}"]))  # creatable
    validate(compose_config([*SMALL, f"backend.cache_dir={tmp_path}"]))


@pytest.mark.cli
def test_a_bad_cache_folder_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketamine_sim.experiments.app",
            *SMALL,
            "backend.cache_dir=/dev/null",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip()
    assert "\n" not in line and "backend.cache_dir" in line and "Traceback" not in line


# --- build keys and completion -----------------------------------------------------------

MAKEFILE = """PROGRAM = main
OPTIMISATIONS = -I"{prefix}/include" -w -O3 -ffast-math -march=native -std=c++11
CXXFLAGS = -c -Wno-write-strings $(OPTIMISATIONS) -I. -fopenmp
LFLAGS = -fopenmp -L"{prefix}/lib" -Wl,--enable-new-dtags,-R"{prefix}/lib"
"""


def _project(folder: Path, prefix: str, source: str = "int main() { return 0; }\n", flags: str = "-O3") -> Path:
    (folder / "code_objects").mkdir(parents=True)
    (folder / "main.cpp").write_text(source)
    (folder / "code_objects" / "a.cpp").write_text("// generated\n")
    (folder / "makefile").write_text(MAKEFILE.format(prefix=prefix).replace("-O3", flags))
    return folder


def _key_in_new_process(folder: Path) -> str:
    code = f"from ketamine_sim.experiments.simulation.builds import build_key; print(build_key({str(folder)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.compiles  # the key holds the C++ compiler's identity (it runs the compiler)
def test_the_build_key_ignores_the_environment_and_follows_the_code(tmp_path):
    """Two virtual environments (their include and library paths in the makefile) share a
    build; other code, other flags do not; the key is the same in every process."""
    from ketamine_sim.experiments.simulation.builds import build_key

    one = _project(tmp_path / "one", "/home/a/venv-one")
    other_env = _project(tmp_path / "two", "/opt/conda/envs/two")
    other_code = _project(tmp_path / "three", "/home/a/venv-one", source="int main() { return 1; }\n")
    other_flags = _project(tmp_path / "four", "/home/a/venv-one", flags="-O2")
    key = build_key(one)
    assert _key_in_new_process(one) == key == _key_in_new_process(other_env)
    assert build_key(other_code) != key and build_key(other_flags) != key


def test_a_build_without_a_matching_marker_is_not_complete(tmp_path):
    from ketamine_sim.experiments.simulation.builds import BUILD_MARKER, _write_marker, build_is_complete

    binary = tmp_path / "main"
    binary.write_bytes(b"")  # what kill -9 during linking leaves: 0 bytes, not executable
    assert not build_is_complete(tmp_path)
    binary.write_bytes(b"\x7fELF" + bytes(100))
    binary.chmod(0o755)
    assert not build_is_complete(tmp_path)  # no marker
    _write_marker(tmp_path)
    assert build_is_complete(tmp_path)
    binary.write_bytes(b"\x7fELF" + bytes(99) + b"x")  # same size, other content
    assert not build_is_complete(tmp_path)
    (tmp_path / BUILD_MARKER).write_text("{")
    assert not build_is_complete(tmp_path)


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` read-only for this process: chmod (non-root) or a read-only bind mount
    (root, where allowed); yields the path to use, or skips."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    view = folder.with_name(folder.name + "-read-only")
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(folder), str(view)], capture_output=True).returncode == 0
    if mounted and subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(view)], capture_output=True)
        mounted = False
    if not mounted:
        pytest.skip("cannot make a read-only folder here (root without mount permission)")
    try:
        yield view
    finally:
        subprocess.run(["umount", str(view)], capture_output=True)


@pytest.mark.compiles
def test_a_read_only_cache_without_the_build_is_one_line(tmp_path):
    empty = tmp_path / "cache"
    empty.mkdir()
    with _read_only(empty) as cache:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ketamine_sim.experiments.app",
                *SMALL,
                "experiment=bath",
                "bath.concentrations_uM=[0]",
                f"backend.cache_dir={cache}",
                f"hydra.run.dir={tmp_path / 'run'}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = proc.stderr.strip()
    assert "\n" not in line and str(cache) in line and "backend.cache_dir=" in line and "Traceback" not in line


# --- one compiled circuit ---------------------------------------------------------------

#: Runs windows of circuit=small in its own process: builds (or reuses) in ``cache``, runs
#: one window per seed (connect seed = the seed, fixed noise seed), and saves the pyr->pyr
#: synapses, pyramidal spikes, whether it compiled, the build folder and whether any file of
#: the cache changed while the windows ran.
WINDOWS = """
import json, sys
from pathlib import Path
import brian2 as b2, numpy as np
from ketamine_sim.circuits.spiking.network import initial_values
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.simulation.engine import make_engine

args = json.loads(sys.argv[1])
for key, value in args["prefs"].items():
    b2.prefs[key] = value
cfg = compose_config(["circuit=small", "backend.threads=1"])
structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
cache = Path(args["cache"])
engine = make_engine(structure, "cpp_standalone", cache)

def snapshot():
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in cache.rglob("*") if p.is_file())

before, out = snapshot(), {}
for seed in args["seeds"]:
    values = initial_values(structure, drive, {}, None, np.random.default_rng(seed))
    window = engine.run_window(values, connect_seed=seed, noise_seed=1)
    out[f"pre_{seed}"], out[f"post_{seed}"] = window.sites["pre"], window.sites["post"]
    out[f"t_{seed}"], out[f"i_{seed}"] = window.spikes["pyr"]
np.savez(args["out"], recompiled=engine.recompiled, directory=str(engine.directory),
         build_untouched=snapshot() == before, **out)
"""


def _windows(tmp_path: Path, name: str, cache: Path, seeds, prefs=None) -> dict:
    out = tmp_path / f"{name}.npz"
    args = {"cache": str(cache), "seeds": list(seeds), "prefs": prefs or {}, "out": str(out)}
    proc = subprocess.run(
        [sys.executable, "-c", WINDOWS, json.dumps(args)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.compiles
def test_one_build_for_every_environment_reused_read_only_and_rebuilt_when_damaged(build_cache, tmp_path):
    first = _windows(tmp_path, "first", build_cache, ALIASED[:2] + (0,))
    # seeds the old derivation aliased build different networks
    assert not (
        np.array_equal(first["pre_0"], first[f"pre_{ALIASED[1]}"])
        and np.array_equal(first["post_0"], first[f"post_{ALIASED[1]}"])
    )
    assert first["build_untouched"], "a window wrote into the build cache"

    # another environment (other include and library paths), another process: the same build, the same spikes
    other = tmp_path / "other-venv"
    prefs = {
        "codegen.cpp.include_dirs": [str(other / "include")],
        "codegen.cpp.library_dirs": [str(other / "lib")],
        "codegen.cpp.runtime_library_dirs": [str(other / "lib")],
    }
    second = _windows(tmp_path, "second", build_cache, (0,), prefs)
    assert not second["recompiled"] and str(second["directory"]) == str(first["directory"])
    assert second["build_untouched"]
    for key in ("pre_0", "post_0", "t_0", "i_0"):
        np.testing.assert_array_equal(first[key], second[key])

    # kill -9 while linking leaves a 0-byte, non-executable main: never reused, rebuilt
    build = Path(str(first["directory"]))
    damaged = tmp_path / "damaged-cache"
    shutil.copytree(build, damaged / build.name)
    binary = damaged / build.name / "main"
    binary.write_bytes(b"")
    binary.chmod(0o644)
    fourth = _windows(tmp_path, "fourth", damaged, (0,))
    assert fourth["recompiled"]
    np.testing.assert_array_equal(first["t_0"], fourth["t_0"])

    # a finished build on a read-only cache is usable (last: skipped where no folder can be made read-only)
    with _read_only(build_cache) as read_only:
        third = _windows(tmp_path, "third", read_only, (0,))
    assert not third["recompiled"]
    np.testing.assert_array_equal(first["t_0"], third["t_0"])
