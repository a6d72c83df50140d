"""Run a compiled circuit's binary directly: no Brian2 objects, no code generation.

A window of ``cpp_standalone`` is one run of the build's ``main`` with the window's values as
run arguments (``group.variable=value`` or ``=file``). Brian2 needs the circuit's objects and
its generated code to name those arguments and the result files; it generates the whole
project again in every process (about a third of a small run's CPU) although the binary
exists. Once a build has been found or compiled, its *call file* records what calling it
takes, and later processes run it from that alone:

- ``inputs``: per target (population or synapse group) and variable, the run-argument name,
  its dtype and size (None for a synapse variable, whose size is drawn in the binary);
- ``outputs``: per target and variable, the result file and dtype; ``spikes``: the spike
  monitors' time and index files; ``sites``: the pyramidal synapses' spine flags and indices;
  ``edges``: every other pathway's indices; ``field``: the summed currents of the
  field-potential proxy.

The call file lives in the cache as ``calls/<circuit>-<structure key>.json``
(`structure_key`): a hash of the circuit structure, of the source code that generates
the project (the ``circuits`` package and the engine modules), of the Brian2 version, of
Brian2's preference files and compiler variables, and of the compiler's identity. What would
change the generated code or its compilation changes the key; a changed key finds no call
file and the process generates the project once, as before (the generated code's own key
still decides whether it compiles). Windows from a call file are bit-identical to Brian2's
``device.run`` of the same build (tests/experiments/test_direct_engine.py).

The binary writes only the result files this module reads (`read_files`, through
``KETAMINE_SIM_WRITE_ONLY``, which ``builds.guard_result_writes`` makes the binary honour): the
synapse tables only with a run's first window, whose synapses are returned.

The binary runs with ``OMP_NUM_THREADS`` set to the structure's threads (the team size its
array set-up loops start before ``main`` sets it) and ``OMP_WAIT_POLICY`` (``active`` by
default: waiting threads spin; see ``backend.wait_policy``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.spiking.field_potential import FIELD_CURRENTS
from ketamine_sim.circuits.spiking.network import CircuitStructure
from ketamine_sim.circuits.spiking.window import INIT_VARIABLES, OUTPUT_VARIABLES, variables
from ketamine_sim.experiments.files import atomic_write
from ketamine_sim.experiments.paths import ROOT, WAIT_POLICIES
from ketamine_sim.experiments.simulation.builds import (
    BUILD_MARKER,
    WRITE_ONLY_ENV,
    _compiler_identity,
    build_is_complete,
    safe_name,
)
from ketamine_sim.experiments.simulation.windows import CONNECT_SEEDS_ENV, NOISE_SEEDS_ENV, WindowOutput, _thread_seeds

#: Version of the call file's layout; another version is ignored (the project is generated anew).
CALL_VERSION = 4
#: The source code that generates the project: a change to any of it changes the structure key.
_GENERATING_SOURCES = (
    "circuits",
    "experiments/simulation/engine.py",
    "experiments/simulation/builds.py",
    "experiments/simulation/windows.py",
    "experiments/simulation/direct.py",
)
#: Environment variables that change how Brian2 compiles.
_COMPILER_VARIABLES = ("CXX", "CC", "CXXFLAGS", "CFLAGS", "LDFLAGS", "CPATH", "LIBRARY_PATH")


def _source_digest() -> str:
    digest = hashlib.sha256()
    for entry in _GENERATING_SOURCES:
        path = ROOT / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _brian_preference_files() -> list[Path]:
    """Brian2's preference files: the user's and the working folder's (its defaults are code,
    covered by its version)."""
    return [Path.home() / ".brian" / "user_preferences", Path.cwd() / "brian_preferences"]


#: Brian2 preferences outside the key: those the engine sets itself for every build, and the
#: runtime target (the runtime engines set it; standalone code does not read it).
_MANAGED_PREFERENCES = frozenset(
    {
        "codegen.target",
        "devices.cpp_standalone.openmp_threads",
        "devices.cpp_standalone.extra_make_args_unix",
        "devices.cpp_standalone.run_environment_variables",
    }
)
#: Brian2 preference categories that change generated code or its compilation.
_CODE_PREFERENCES = ("codegen", "core", "devices.cpp_standalone", "GSL")


def _changed_brian_preferences() -> dict[str, str]:
    """Brian2 preferences that differ from their defaults in this process (set in Python or
    from a preference file), if Brian2 is imported; ``{}`` when it is not (then only the
    preference files can differ, and their content is in the key)."""
    if "brian2" not in sys.modules:
        return {}
    from brian2 import prefs

    changed = {}
    for category, (registered, _) in prefs.pref_register.items():
        if not category.startswith(_CODE_PREFERENCES):
            continue
        for name, preference in registered.items():
            key = f"{category}.{name}"
            if key not in _MANAGED_PREFERENCES and repr(prefs[key]) != repr(preference.default):
                changed[key] = repr(prefs[key])
    return changed


def structure_key(structure: CircuitStructure) -> str:
    """What decides a circuit's generated project and its compilation, hashed.

    Parameters
    ----------
    structure : CircuitStructure
        The compiled structure (sizes, connectivity, time step, window, threads, ...).

    Returns
    -------
    str
        20 hexadecimal digits of a SHA-256 over the structure, the generating source code,
        the Brian2 version, Brian2's preference files and (where Brian2 is imported) its
        preferences that differ from the defaults, the compiler variables and the compiler's
        identity (``$CXX -### -march=native``). Computed once per engine, before Brian2
        builds anything in the process.
    """
    digest = hashlib.sha256(structure.digest().encode())
    digest.update(_source_digest().encode())
    digest.update(f"brian2 {importlib.metadata.version('brian2')}".encode())
    for role, file in enumerate(_brian_preference_files()):  # their content, not where they are
        digest.update(f"{role}:".encode() + (file.read_bytes() if file.is_file() else b"-") + b"\0")
    digest.update(json.dumps(_changed_brian_preferences(), sort_keys=True).encode())
    digest.update(json.dumps({k: os.environ.get(k) for k in _COMPILER_VARIABLES}).encode())
    digest.update(_compiler_identity(os.environ.get("CXX", "g++"), ("-march=native",)).encode())
    return digest.hexdigest()[:20]


def call_file(cache: Path, structure: CircuitStructure) -> Path:
    """Where the call file of ``structure``'s build lives in ``cache``."""
    return Path(cache) / "calls" / f"{safe_name(structure.name)}-{structure_key(structure)}.json"


# --------------------------------------------------------------------------- writing the call file
def call_of(circuit, device, build: Path) -> dict:
    """The call file's content for a built circuit (Brian2 objects and the standalone device)."""

    def spec(variable, size=True) -> dict:
        out = {"file": device.get_array_filename(variable), "dtype": np.dtype(variable.dtype).str}
        if size:
            out["size"] = None if variable.dynamic else int(variable.size)
        return out

    inputs, outputs, spikes = {}, {}, {}
    for target in (*POPULATIONS, "pyr_to_pyr"):
        group = circuit.groups[target] if target in circuit.groups else circuit.synapses[target]
        inputs[target] = {
            name: {**spec(group.variables[name]), "arg": f"{group.name}.{name}"}
            for name in variables(INIT_VARIABLES, target)
        }
        outputs[target] = {name: spec(group.variables[name], False) for name in variables(OUTPUT_VARIABLES, target)}
    for pop in POPULATIONS:
        monitor = circuit.spike_monitors[pop]
        spikes[pop] = {"t": spec(monitor.variables["t"], False), "i": spec(monitor.variables["i"], False)}
    synapses = circuit.synapses["pyr_to_pyr"]
    sites = {
        "pre": spec(synapses.variables["_synaptic_pre"], False),
        "post": spec(synapses.variables["_synaptic_post"], False),
    }
    edges = {
        name: {
            "pre": spec(syn.variables["_synaptic_pre"], False),
            "post": spec(syn.variables["_synaptic_post"], False),
        }
        for name, syn in circuit.pathways.items()
        if name != "pyr_to_pyr"
    }
    field = {name: spec(circuit.field_monitor.variables[name], False) for name in FIELD_CURRENTS}
    marker = json.loads((build / BUILD_MARKER).read_text())
    return {
        "version": CALL_VERSION,
        "build": build.name,
        "main_sha256": marker["main_sha256"],
        "inputs": inputs,
        "outputs": outputs,
        "spikes": spikes,
        "sites": sites,
        "edges": edges,
        "field": field,
    }


def write_call(path: Path, call: dict) -> bool:
    """Write the call file (atomically); False where the cache is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(call, indent=1) + "\n"))
        return True
    except OSError:
        return False


def array_file(prefix: str, owner: str, name: str) -> str:
    """Brian2's result file of an array: ``<varname>_<crc32 of varname>``, varname
    ``<prefix>_<owner>_<name>`` (prefix ``_array`` or ``_dynamic_array``).

    >>> array_file("_array", "pyr", "v")
    '_array_pyr_v_741694870'
    """
    varname = f"{prefix}_{owner}_{name}"
    return f"{varname}_{zlib.crc32(varname.encode())}"


def _valid_call(call: dict, structure: CircuitStructure) -> bool:
    """Whether ``call`` names every input and output of the window contract as Brian2 names them
    for ``structure`` (file names, dtypes, sizes): a damaged or hand-edited call file is not
    used."""
    real, index = np.dtype(float).str, np.dtype(np.int32).str
    for target in (*POPULATIONS, "pyr_to_pyr"):
        prefix = "_dynamic_array" if "_to_" in target else "_array"
        size = None if "_to_" in target else structure.counts[target]
        for name in variables(INIT_VARIABLES, target):
            spec = call["inputs"][target][name]
            if (spec["arg"], spec["dtype"], spec["size"]) != (f"{target}.{name}", real, size):
                return False
            if spec["file"] != array_file(prefix, target, name):
                return False
        for name in variables(OUTPUT_VARIABLES, target):
            if call["outputs"][target][name] != {"file": array_file(prefix, target, name), "dtype": real}:
                return False
    for pop in POPULATIONS:
        for name, dtype in (("t", real), ("i", index)):
            if call["spikes"][pop][name] != {
                "file": array_file("_dynamic_array", f"spikes_{pop}", name),
                "dtype": dtype,
            }:
                return False
    for name in FIELD_CURRENTS:
        if call["field"].get(name) != {"file": array_file("_dynamic_array", "field_monitor", name), "dtype": real}:
            return False
    pathways = [f"{pre}_to_{post}" for (pre, post), p in structure.connection_probability.items() if p > 0]
    if set(call["edges"]) != {name for name in pathways if name != "pyr_to_pyr"}:
        return False
    for key, name in (("pre", "_synaptic_pre"), ("post", "_synaptic_post")):
        if call["sites"][key] != {"file": array_file("_dynamic_array", "pyr_to_pyr", name), "dtype": index}:
            return False
        for pathway, spec in call["edges"].items():
            if spec[key] != {"file": array_file("_dynamic_array", pathway, name), "dtype": index}:
                return False
    return True


def read_call(path: Path, structure: CircuitStructure) -> dict | None:
    """The call file at ``path`` if it is readable, of this version, names every input and output
    as Brian2 does for ``structure``, and names a finished build of the cache whose binary is
    the one the call file was written for (its SHA-256); else None."""
    try:
        call = json.loads(Path(path).read_text())
        if call.get("version") != CALL_VERSION or not _valid_call(call, structure):
            return None
        name = call["build"]
        if not isinstance(name, str) or Path(name).name != name or not name.startswith(f"{safe_name(structure.name)}-"):
            return None  # a build of this cache for this circuit, nothing else
        build = Path(path).parent.parent / name
        marker = json.loads((build / BUILD_MARKER).read_text())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if marker.get("main_sha256") != call.get("main_sha256") or not build_is_complete(build):
        return None
    return call


# --------------------------------------------------------------------------- running the binary
def read_files(call: dict, with_indices: bool) -> list[str]:
    """The result files of a window that `DirectEngine` reads (the binary writes only these,
    `WRITE_ONLY_ENV`): spikes, every state output, the field sums, and with ``with_indices``
    the synapse indices of every pathway (the first window of a run)."""
    specs = [spec for target in call["spikes"].values() for spec in target.values()]
    specs += [spec for target in call["outputs"].values() for spec in target.values()]
    specs += list(call["field"].values())
    if with_indices:
        specs += list(call["sites"].values()) + [spec for edge in call["edges"].values() for spec in edge.values()]
    return sorted(spec["file"] for spec in specs)


def binary_environment(threads: int, wait_policy: str = "active") -> dict[str, str]:
    """The variables a window's binary runs with (besides the seeds).

    >>> binary_environment(2)
    {'LD_BIND_NOW': '1', 'OMP_NUM_THREADS': '2', 'OMP_WAIT_POLICY': 'active'}
    """
    if wait_policy not in WAIT_POLICIES:
        raise ValueError(f"wait_policy must be one of {WAIT_POLICIES}, got {wait_policy!r}")
    # LD_BIND_NOW: what Brian2's device.run sets (prefs.devices.cpp_standalone.run_environment_variables)
    environment = {"LD_BIND_NOW": "1", "OMP_NUM_THREADS": str(max(int(threads), 1))}
    if wait_policy != "auto":
        environment["OMP_WAIT_POLICY"] = wait_policy
    return environment


def _argument(spec: dict, target: str, name: str, value, folder: Path) -> str:
    """``arg=value`` for a scalar, else ``arg=file`` with the array written into ``folder``
    (as Brian2's ``_prepare_variableview_run_arg`` does)."""
    array = np.asarray(value, dtype=np.dtype(spec["dtype"]))
    if array.ndim == 0 or array.size == 1:
        return f"{spec['arg']}={array.item()!r}"
    if array.ndim != 1 or (spec["size"] is not None and array.size != spec["size"]):
        raise TypeError(f"incorrect size for {target}.{name}: expected {spec['size']}, got shape {array.shape}")
    file = folder / f"init_{target}_{name}.dat"
    array.tofile(file)
    return f"{spec['arg']}={file}"


def _read(folder: Path, spec: dict) -> np.ndarray:
    return np.fromfile(folder / spec["file"], dtype=np.dtype(spec["dtype"]))


class DirectEngine:
    """A finished build run from its call file: one process of ``main`` per window.

    Parameters
    ----------
    structure : CircuitStructure
        The circuit (its threads set ``OMP_NUM_THREADS``).
    build : Path
        The build folder (holds ``main``).
    call : dict
        The build's call file content (`call_of`).
    wait_policy : {"passive", "active", "auto"}
        ``OMP_WAIT_POLICY`` of the binary (``auto``: left to the OpenMP runtime).
    build_s : float
        Seconds spent finding (or building) the binary, reported as the run's build time.
    recompiled : bool
        Whether this process compiled the build.
    """

    backend = "cpp_standalone"

    def __init__(
        self,
        structure: CircuitStructure,
        build: Path,
        call: dict,
        wait_policy: str = "active",
        build_s: float = 0.0,
        recompiled: bool = False,
    ):
        self.structure, self.directory, self.call = structure, Path(build), call
        self.environment = binary_environment(structure.threads, wait_policy)
        self.timings = {"build_s": build_s}
        self.recompiled = recompiled

    @classmethod
    def find(
        cls, structure: CircuitStructure, cache: Path, wait_policy: str = "active", path: Path | None = None
    ) -> DirectEngine | None:
        """The engine of ``structure``'s finished build in ``cache``, or None (no call file for
        this structure key, or its build is gone or damaged). ``path``: the call file, if
        already known (`call_file`)."""
        start = time.perf_counter()
        path = path or call_file(cache, structure)
        call = read_call(path, structure)
        if call is None:
            return None
        return cls(structure, path.parent.parent / call["build"], call, wait_policy, time.perf_counter() - start)

    def run_window(self, values: dict[str, dict[str, object]], connect_seed: int, noise_seed: int):
        """Run one window: the contract of ``ketamine_sim.experiments.simulation.engine.StandaloneEngine.run_window``."""
        threads = self.structure.threads
        with_indices = "pyr_to_pyr" not in values  # the synapse tables, read once per run
        environment = {
            **os.environ,
            **self.environment,
            CONNECT_SEEDS_ENV: _thread_seeds(connect_seed, "connectivity", threads),
            NOISE_SEEDS_ENV: _thread_seeds(noise_seed, "noise", threads),
            WRITE_ONLY_ENV: ",".join(read_files(self.call, with_indices)),
        }
        scratch = Path(tempfile.mkdtemp(prefix="ketamine-sim-window-"))
        start = time.perf_counter()
        try:
            results = scratch / "results"
            results.mkdir()
            arguments = [
                _argument(self.call["inputs"][target][name], target, name, value, scratch)
                for target, target_values in values.items()
                for name, value in target_values.items()
            ]
            self._run(["--results_dir", f"{results}/", *arguments], environment, results)
            spikes = {
                pop: (
                    np.asarray(_read(results, self.call["spikes"][pop]["t"]), dtype=float),
                    np.asarray(_read(results, self.call["spikes"][pop]["i"]), dtype=np.int64),
                )
                for pop in POPULATIONS
            }
            state = {
                pop: {
                    name: np.asarray(_read(results, spec), dtype=float)
                    for name, spec in self.call["outputs"][pop].items()
                }
                for pop in POPULATIONS
            }
            sites = {"spine": _read(results, self.call["outputs"]["pyr_to_pyr"]["spine"]).astype(float) > 0.5}
            edges = None
            if with_indices:
                sites.update({key: _read(results, spec).astype(np.int64) for key, spec in self.call["sites"].items()})
                edges = {
                    name: {key: _read(results, spec).astype(np.int64) for key, spec in specs.items()}
                    for name, specs in self.call["edges"].items()
                }
            field = {name: np.asarray(_read(results, spec), dtype=float) for name, spec in self.call["field"].items()}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return WindowOutput(
            spikes=spikes, state=state, wall_s=time.perf_counter() - start, sites=sites, edges=edges, field=field
        )

    def _run(self, arguments: list[str], environment: dict[str, str], results: Path) -> None:
        with open(results / "stdout.txt", "w") as stdout:
            code = subprocess.call(["./main", *arguments], cwd=self.directory, env=environment, stdout=stdout)
        output = (results / "stdout.txt").read_text(errors="replace").strip().splitlines()
        errors = [line for line in output if line.startswith("Error")]  # Brian2's main reports and goes on
        if code or errors:
            text = errors or output[-5:]
            raise RuntimeError(
                f"the circuit's binary failed (exit {code}) in {self.directory}: {' | '.join(text) or 'no output'}"
            )
        # The binary ends its run loop early on SIGINT ("Simulation stop requested") and still
        # exits 0; its last_run_info.txt ("<wall s> <completed fraction>") says how far it got.
        try:
            completed = float((results / "last_run_info.txt").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            completed = 0.0
        if completed < 1.0 - 1e-9:
            raise KeyboardInterrupt(
                f"the window's binary was interrupted after {100 * completed:.1f}% of the "
                f"window: a truncated window is never used"
            )
