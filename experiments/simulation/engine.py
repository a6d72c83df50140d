"""Run spiking windows of a circuit on a Brian2 backend.

``cpp_standalone`` (default): the circuit is generated once per process and compiled once
per distinct generated code into the build cache, ``<cache>/<circuit name>-<key>/``, where
the key hashes the generated source files, the Brian2 version, the compiler flags (without
the environment's include and library paths) and the compiler with its ``-march=native``
target. Every environment and process that would compile the same binary reuses that
build; different code never shares a folder. A build is compiled in a temporary folder and
renamed into place after a completion marker (the binary's size and SHA-256) was written,
so a folder with that name is complete; one whose binary does not match its marker is
rebuilt. Every window reruns the binary with new per-neuron values
(``device.run(run_args=...)``); the run's files (argument arrays, results) live in a
temporary folder, so a finished build on a read-only cache is usable.

Random numbers: every generator seed is derived from the run's seed, a purpose and an
index (:func:`circuits.spiking.network.stream_seed`). The compiled code seeds its generators (one
per OpenMP thread) from two environment variables holding one seed per thread:
``KETAMINE_SIM_CONNECT_SEEDS`` before the connectivity is drawn (the same for every window
of a run, so all windows see one network) and ``KETAMINE_SIM_NOISE_SEEDS`` after it
(different per window).

``cython`` / ``numpy`` (Brian2 runtime): the objects are rebuilt per window with the same
derived seeds (runtime code is cached by Brian2 itself); for debugging and cross-checks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from circuits.spiking.cells import POPULATIONS
from circuits.spiking.network import CircuitStructure, build_circuit, stream_seed
from circuits.spiking.window import OUTPUT_VARIABLES, variables
from experiments.paths import BACKENDS, default_cache_dir

log = logging.getLogger(__name__)


#: Environment variables with one generator seed per thread (decimal, space separated).
CONNECT_SEEDS_ENV, NOISE_SEEDS_ENV = "KETAMINE_SIM_CONNECT_SEEDS", "KETAMINE_SIM_NOISE_SEEDS"

_SEED_CODE = """{{
    const char* _seed_text = getenv("{env}");
    const size_t _n_generators = brian::_random_generators.size();
    for (size_t _i = 0; _i < _n_generators; _i++) {{
        char* _seed_end = 0;
        const unsigned long _seed = _seed_text ? strtoul(_seed_text, &_seed_end, 10) : 0UL;
        if (!_seed_text || _seed_end == _seed_text) {{
            std::cerr << "{env} must hold " << _n_generators << " generator seeds" << std::endl;
            exit(3);
        }}
        brian::_random_generators[_i].seed(_seed);
        _seed_text = _seed_end;
    }}
}}"""

#: The completion marker of a build, written last (before the folder is renamed into place).
BUILD_MARKER = "build_complete.json"
#: Files of a build folder that are not generated code: the makefiles (which hold the
#: environment's include and library paths) and what compiling adds.
_NOT_CODE = frozenset({"makefile", "win_makefile", "sourcefiles.txt", "make.deps", "main", BUILD_MARKER})


@dataclass
class WindowOutput:
    """Spikes (times in s from the window start, neuron indices) and final state per population."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    state: dict[str, dict[str, np.ndarray]]
    wall_s: float
    sites: dict[str, np.ndarray] | None = None  #: pyr->pyr spine sites: ``pre``, ``post``, ``spine`` (0/1)


def safe_name(name: str) -> str:
    """``name`` as one harmless path component: letters, digits, ``_``, ``-``, ``.``; not
    starting with ``.``; at most 64 characters (``"circuit"`` if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).lstrip(".")[:64] or "circuit"


def make_engine(structure: CircuitStructure, backend: str = "cpp_standalone", cache_dir: Path | None = None):
    """The engine of ``backend`` for ``structure`` (``cache_dir``: the build cache of
    ``cpp_standalone``, default :func:`default_cache_dir`)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "cpp_standalone":
        return StandaloneEngine(structure, cache_dir or default_cache_dir())
    return RuntimeEngine(structure, backend)


def _fresh_brian_state() -> None:
    """Forget objects and devices of any earlier job in this process (sweep workers are reused)."""
    import gc

    import brian2 as b2
    from brian2.devices.device import reinit_devices

    gc.collect()  # free names of dead objects, so generated code (and the build) stays identical
    b2.set_device("runtime")
    reinit_devices()
    b2.BrianLogger.suppress_name("openmp")  # "OpenMP code is not yet well tested": results are checked in tests


class _ClocksByName(set):
    """A set of clocks that iterates in name order (see :func:`_order_clock_code`)."""

    def __iter__(self):
        return iter(sorted(set.__iter__(self), key=lambda clock: clock.name))


def _order_clock_code(device) -> None:
    """Brian2 writes main.cpp's per-clock code (the clock set-up blocks and the lines that reset
    each clock's time) in the iteration order of sets of clocks, which depends on object
    identity and so changes from process to process, forcing a relink of an unchanged build.
    Put both in name order (uses the device's ``clocks`` and ``main_queue``, present in
    Brian2 2.9 and 2.10)."""
    device.clocks = _ClocksByName(device.clocks)
    queue = device.main_queue
    resets = [
        i
        for i, (kind, args) in enumerate(queue)
        if kind == "set_by_single_value" and re.fullmatch(r"_array_\w*clock_(timestep|t)", str(args[0]))
    ]
    for i, entry in zip(resets, sorted((queue[i] for i in resets), key=lambda e: str(e[1][0]))):
        queue[i] = entry


def _flags(makefile: str) -> list[str]:
    """The compiler and linker flags of a generated makefile without the environment's paths
    (``-I"..."``, ``-L"..."``, ``-R"..."``: the venv's include and library folders)."""
    flags = []
    for line in makefile.splitlines():
        name, _, value = line.partition("=")
        if name.strip() in ("OPTIMISATIONS", "CXXFLAGS", "LFLAGS"):
            flags += shlex.split(re.sub(r'-[ILR]\s*"[^"]*"', "", value))
    return flags


@functools.lru_cache(maxsize=8)
def _compiler_identity(compiler: str, flags: tuple[str, ...]) -> str:
    """What the compiler makes of ``flags`` (``-###``: version, target and the expanded
    ``-march=native``), so that a build is shared only by machines that compile it alike."""
    try:
        probe = subprocess.run(
            [compiler, "-###", *flags, "-x", "c++", "-c", os.devnull, "-o", os.devnull],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise RuntimeError(
            f"cannot run the C++ compiler {compiler!r} ({error}); install one (or set $CXX), "
            "or use backend=numpy, which needs none"
        ) from None
    text = probe.stdout + probe.stderr
    for folder in {tempfile.gettempdir(), os.environ.get("TMPDIR", "/tmp"), "/tmp"}:  # the compiler's own temp files
        text = re.sub(re.escape(folder.rstrip("/")) + r"/[^\s'\"]+", "<temp>", text)
    return text


def build_key(directory: Path) -> str:
    """Hash of a generated (not yet compiled) project: every generated file but the makefiles
    (relative path and content), the Brian2 version, the compiler flags without paths and the
    compiler's identity. Equal keys compile to the same binary."""
    import brian2 as b2

    directory = Path(directory)
    digest = hashlib.sha256(f"brian2 {b2.__version__}\n".encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative in _NOT_CODE or relative.startswith("results/") or path.suffix == ".o":
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    flags = _flags((directory / "makefile").read_text()) if (directory / "makefile").exists() else []
    compile_flags = tuple(f for f in flags if f not in ("-c",) and not f.startswith(("-Wl,", "-I")))
    digest.update(json.dumps(flags).encode())
    digest.update(_compiler_identity(os.environ.get("CXX", "g++"), compile_flags).encode())
    return digest.hexdigest()[:20]


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def build_is_complete(directory: Path) -> bool:
    """Whether ``directory`` holds a finished build: its completion marker names the size and
    SHA-256 of an executable ``main`` that matches them."""
    binary = Path(directory) / "main"
    try:
        marker = json.loads((Path(directory) / BUILD_MARKER).read_text())
        return (
            binary.is_file()
            and binary.stat().st_size == marker["main_bytes"]
            and os.access(binary, os.X_OK)
            and _file_sha256(binary) == marker["main_sha256"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_marker(directory: Path) -> None:
    binary = directory / "main"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise RuntimeError(f"the compiler left no executable {binary}")
    with open(binary, "rb") as f:
        os.fsync(f.fileno())
    marker = {"main_bytes": binary.stat().st_size, "main_sha256": _file_sha256(binary)}
    with open(directory / BUILD_MARKER, "w") as f:
        json.dump(marker, f)
        f.flush()
        os.fsync(f.fileno())


def _remove(path: Path) -> None:
    """Move ``path`` aside (one rename) and delete it."""
    trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _interrupted(error: RuntimeError) -> bool:
    """Whether Brian2's "Project compilation failed (error code: N)" reports a ``make`` ended by
    SIGINT (Ctrl-C to the process group). Brian2 runs make through ``os.system``, which ignores
    SIGINT in this process while it waits, and reports the raw wait status: ``N & 0x7f`` is the
    signal that ended the shell."""
    match = re.search(r"compilation failed \(error code: (\d+)\)", str(error))
    return bool(match) and int(match.group(1)) & 0x7F == signal.SIGINT


def _compile(device, generated: Path, final: Path) -> None:
    """Compile the project generated in ``generated`` into ``final``: in a temporary folder
    beside it, then marker, then one rename (a killed build leaves no ``final``)."""
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    for prefix in (".building", ".trash"):  # left by killed earlier builds of this key (we hold its lock)
        for stale in final.parent.glob(f"{prefix}-{final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    building = final.with_name(f".building-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(generated, building)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(building, 0o777 & ~umask)  # mkdtemp made the generated folder private; a cache may be shared
        try:
            device.compile_source(str(building), get_compiler_and_args()[0], debug=False, clean=False)
        except RuntimeError as error:
            if _interrupted(error):
                raise KeyboardInterrupt("interrupted while compiling: no build was kept") from error
            raise
        _write_marker(building)
        if final.exists():  # an incomplete or damaged build of the same key
            _remove(final)
        os.rename(building, final)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _cached_build(device, structure: CircuitStructure, cache: Path) -> tuple[Path, bool]:
    """The build folder of the project the device holds, and whether this call compiled it."""
    from filelock import FileLock

    generated = Path(tempfile.mkdtemp(prefix="ketamine-sim-code-"))
    try:
        device.build(directory=str(generated), compile=False, run=False, with_output=False)
        final = cache / f"{safe_name(structure.name)}-{build_key(generated)}"
        if build_is_complete(final):
            return final, False
        if not _writable(cache):
            from experiments.errors import ConfigError

            state = "an incomplete build" if final.exists() else "no build"
            raise ConfigError(
                "backend.cache_dir",
                f"the build cache {cache} is not writable and holds {state} of "
                f"circuit {structure.name!r} ({final.name}); choose a writable "
                "folder with backend.cache_dir=PATH (or $KETAMINE_SIM_CACHE)",
            )
        with FileLock(str(final) + ".lock"):
            if build_is_complete(final):  # another process finished it while we waited
                return final, False
            log.info("compiling circuit %s into %s: once per generated code, about a minute", structure.name, final)
            _compile(device, generated, final)
            return final, True
    finally:
        shutil.rmtree(generated, ignore_errors=True)


def _with_units(view, value):
    import brian2 as b2

    return b2.Quantity(np.asarray(value, dtype=float), dim=view.dim)


def _collect(circuit, start_time_s: float = 0.0) -> tuple[dict, dict]:
    spikes, state = {}, {}
    for pop in POPULATIONS:
        mon = circuit.spike_monitors[pop]
        spikes[pop] = (np.asarray(mon.t_[:], dtype=float) - start_time_s, np.asarray(mon.i[:], dtype=np.int64))
        group = circuit.groups[pop]
        names = variables(OUTPUT_VARIABLES, pop)
        state[pop] = {name: np.array(getattr(group, name + "_")[:], dtype=float) for name in names}
    return spikes, state


def _sites(circuit, with_indices: bool) -> dict[str, np.ndarray]:
    syn = circuit.synapses["pyr_to_pyr"]
    out = {"spine": np.asarray(syn.spine[:], dtype=float) > 0.5}
    if with_indices:
        out.update(pre=np.asarray(syn.i[:], dtype=np.int64), post=np.asarray(syn.j[:], dtype=np.int64))
    return out


def _target(circuit, name: str):
    return circuit.groups[name] if name in circuit.groups else circuit.synapses[name]


def _thread_seeds(seed: int, purpose: str, threads: int) -> str:
    """One derived generator seed per OpenMP thread, as the compiled code reads them."""
    return " ".join(str(stream_seed(seed, purpose, thread)) for thread in range(max(threads, 1)))


class StandaloneEngine:
    """One compiled binary per generated code, rerun per window with ``run_args``."""

    backend = "cpp_standalone"

    def __init__(self, structure: CircuitStructure, cache_dir: Path):
        import brian2 as b2

        self.structure = structure
        self.timings: dict[str, float] = {}
        start = time.perf_counter()
        _fresh_brian_state()
        b2.set_device("cpp_standalone", directory=None, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = structure.threads
        # Brian2's default `make -j` starts every compile job at once; bound it by the cores
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        b2.defaultclock.dt = structure.dt_ms * b2.ms
        insert = b2.get_device().insert_code
        self.circuit = build_circuit(
            structure,
            after_groups=lambda: insert("main", _SEED_CODE.format(env=CONNECT_SEEDS_ENV)),
            after_connect=lambda: insert("main", _SEED_CODE.format(env=NOISE_SEEDS_ENV)),
        )
        self.circuit.network.run(structure.window_s * b2.second)
        device = b2.get_device()
        _order_clock_code(device)  # main.cpp identical in every process: one build for all of them
        self.directory, self.recompiled = _cached_build(device, structure, Path(cache_dir).expanduser())
        device.project_dir = str(self.directory)
        self.timings["build_s"] = time.perf_counter() - start
        log.info(
            "circuit %s (%s): %s in %.1f s",
            structure.name,
            self.directory.name,
            "compiled" if self.recompiled else "reused the compiled build",
            self.timings["build_s"],
        )

    def _run_arguments(self, device, values: dict[str, dict[str, object]], folder: Path) -> list[str]:
        """``name=value`` arguments of the binary; arrays are written into ``folder`` (per run),
        never into the build."""
        arguments = []
        for target, target_values in values.items():
            group = _target(self.circuit, target)
            for name, value in target_values.items():
                view = getattr(group, name)
                key, text, file_name, array = device._prepare_variableview_run_arg(view, _with_units(view, value))
                if file_name:
                    text = str(folder / file_name)
                    array.tofile(text)
                arguments.append(f"{key}={text}")
        return arguments

    def run_window(self, values: dict[str, dict[str, object]], connect_seed: int, noise_seed: int) -> WindowOutput:
        import brian2 as b2

        device = b2.get_device()
        # read by the binary (see _SEED_CODE)
        os.environ[CONNECT_SEEDS_ENV] = _thread_seeds(connect_seed, "connectivity", self.structure.threads)
        os.environ[NOISE_SEEDS_ENV] = _thread_seeds(noise_seed, "noise", self.structure.threads)
        scratch = Path(tempfile.mkdtemp(prefix="ketamine-sim-window-"))
        start = time.perf_counter()
        try:
            run_args = self._run_arguments(device, values, scratch)
            device.results_dir = os.path.join(str(scratch / "results"), "")  # absolute: outside the build
            device.run(directory=str(self.directory), results_directory=None, with_output=False, run_args=run_args)
            # The binary ends its run loop early on SIGINT ("Simulation stop requested") and still
            # exits 0; its last_run_info.txt ("<wall s> <completed fraction>") says how far it got.
            try:
                completed = float((scratch / "results" / "last_run_info.txt").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                completed = float(getattr(device, "_last_run_completed_fraction", 1.0))
            if completed < 1.0 - 1e-9:
                raise KeyboardInterrupt(
                    f"the window's binary was interrupted after {100 * completed:.1f}% of the "
                    f"window: a truncated window is never used"
                )
            spikes, state = _collect(self.circuit)
            sites = _sites(self.circuit, with_indices="pyr_to_pyr" not in values)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return WindowOutput(spikes=spikes, state=state, wall_s=time.perf_counter() - start, sites=sites)


class RuntimeEngine:
    """Brian2 runtime (``cython`` or ``numpy`` code generation), rebuilt per window."""

    def __init__(self, structure: CircuitStructure, backend: str):
        self.structure = structure
        self.backend = backend
        self.timings = {"build_s": 0.0}
        self.recompiled = False
        _fresh_brian_state()

    def run_window(self, values: dict[str, dict[str, object]], connect_seed: int, noise_seed: int) -> WindowOutput:
        import brian2 as b2

        b2.prefs.codegen.target = self.backend
        b2.defaultclock.dt = self.structure.dt_ms * b2.ms
        start = time.perf_counter()
        # the generator seeds of thread 0 of the compiled code
        circuit = build_circuit(
            self.structure,
            after_groups=lambda: b2.seed(stream_seed(connect_seed, "connectivity", 0)),
            after_connect=lambda: b2.seed(stream_seed(noise_seed, "noise", 0)),
        )
        for target, target_values in values.items():
            group = _target(circuit, target)
            for name, value in target_values.items():
                setattr(group, name, _with_units(getattr(group, name), value))
        t0 = float(circuit.network.t_)
        circuit.network.run(self.structure.window_s * b2.second)
        if float(circuit.network.t_) < t0 + self.structure.window_s - 0.5e-3 * self.structure.dt_ms:
            # Brian2's SIGINT handler stops a runtime run early ("Simulation stop requested")
            raise KeyboardInterrupt("the window was interrupted before its end: a truncated window is never used")
        spikes, state = _collect(circuit, t0)
        return WindowOutput(
            spikes=spikes,
            state=state,
            wall_s=time.perf_counter() - start,
            sites=_sites(circuit, with_indices="pyr_to_pyr" not in values),
        )
