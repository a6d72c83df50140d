"""Run spiking windows of a circuit on a Brian2 backend.

``cpp_standalone`` (default): the circuit is generated and compiled once per structure
into ``<cache>/<digest>/`` (under a file lock, so concurrent processes share one build)
and every window reruns that binary with new per-neuron values through
``device.run(run_args=...)``. A later process regenerates the code (identical files are
not rewritten) and ``make`` finds nothing to recompile.

Random numbers: the compiled code seeds its generators from two environment
variables, ``KETAMINE_SIM_CONNECT_SEED`` before the connectivity is drawn (the same for
every window of a run, so all windows see one network) and ``KETAMINE_SIM_NOISE_SEED``
after it (different per window).

``cython`` / ``numpy`` (Brian2 runtime): the objects are rebuilt per window with the same
seeds (runtime code is cached by Brian2 itself); for debugging and cross-checks.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from circuits.cells import POPULATIONS
from circuits.compounds import SPECIES
from circuits.network import ACCUMULATORS, CircuitStructure, build_circuit

log = logging.getLogger(__name__)

BACKENDS = ("cpp_standalone", "cython", "numpy")
STATE_VARIABLES: tuple[str, ...] = ("v", "s_nmda") + tuple(f"b_{k}" for k in SPECIES) + ACCUMULATORS
#: Read out of the pyramidal cells only: the vesicle pool and the release counted in the window.
EXCITATORY_STATE_VARIABLES: tuple[str, ...] = ("x_ves", "released", "ampa_local")

_SEED_CODE = """{{
    const char* _seed_text = getenv("{env}");
    unsigned long _seed = _seed_text ? strtoul(_seed_text, 0, 10) : 0UL;
    for (size_t _i = 0; _i < brian::_random_generators.size(); _i++)
        brian::_random_generators[_i].seed(_seed * 1000UL + _i);
}}"""


@dataclass
class WindowOutput:
    """Spikes (times in s from the window start, neuron indices) and final state per population."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    state: dict[str, dict[str, np.ndarray]]
    wall_s: float
    sites: dict[str, np.ndarray] | None = None  #: pyr->pyr spine sites: ``pre``, ``post``, ``spine`` (0/1)


def default_cache_dir() -> Path:
    """``$KETAMINE_SIM_CACHE`` or ``~/.cache/ketamine-sim`` (shared by all runs of a user)."""
    return Path(os.environ.get("KETAMINE_SIM_CACHE", Path.home() / ".cache" / "ketamine-sim")).expanduser()


def make_engine(structure: CircuitStructure, backend: str = "cpp_standalone", cache_dir: Path | None = None):
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
    resets = [i for i, (kind, args) in enumerate(queue) if kind == "set_by_single_value"
              and re.fullmatch(r"_array_\w*clock_(timestep|t)", str(args[0]))]
    for i, entry in zip(resets, sorted((queue[i] for i in resets), key=lambda e: str(e[1][0]))):
        queue[i] = entry


def _prune_run_arguments(directory: Path, max_age_s: float = 86400.0) -> None:
    """Remove per-window run-argument arrays older than a day (each window writes a few)."""
    cutoff = time.time() - max_age_s
    for path in (directory / "static_arrays").glob("init_*.dat"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def _with_units(view, value):
    import brian2 as b2

    return b2.Quantity(np.asarray(value, dtype=float), dim=view.dim)


def _collect(circuit, start_time_s: float = 0.0) -> tuple[dict, dict]:
    spikes, state = {}, {}
    for pop in POPULATIONS:
        mon = circuit.spike_monitors[pop]
        spikes[pop] = (np.asarray(mon.t_[:], dtype=float) - start_time_s, np.asarray(mon.i[:], dtype=np.int64))
        group = circuit.groups[pop]
        names = STATE_VARIABLES + (EXCITATORY_STATE_VARIABLES if pop == "pyr" else ())
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


class StandaloneEngine:
    """One compiled binary per structure, rerun per window with ``run_args``."""

    backend = "cpp_standalone"

    def __init__(self, structure: CircuitStructure, cache_dir: Path):
        import brian2 as b2
        from filelock import FileLock

        self.structure = structure
        self.directory = Path(cache_dir) / f"{structure.name}-{structure.digest()}-brian2-{b2.__version__}"
        self.directory.parent.mkdir(parents=True, exist_ok=True)
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
            after_groups=lambda: insert("main", _SEED_CODE.format(env="KETAMINE_SIM_CONNECT_SEED")),
            after_connect=lambda: insert("main", _SEED_CODE.format(env="KETAMINE_SIM_NOISE_SEED")),
        )
        self.circuit.network.run(structure.window_s * b2.second)
        binary = self.directory / "main"
        if not binary.exists():
            log.info("compiling circuit %s (%s) into %s: once per structure, about a minute", structure.name,
                     structure.digest(), self.directory)
        device = b2.get_device()
        _order_clock_code(device)  # main.cpp identical in every process: no relink of an unchanged build
        with FileLock(str(self.directory) + ".lock"):
            _prune_run_arguments(self.directory)
            before = binary.stat().st_mtime_ns if binary.exists() else None
            b2.get_device().build(directory=str(self.directory), compile=True, run=False, with_output=False)
            self.recompiled = before is None or binary.stat().st_mtime_ns != before
        self.timings["build_s"] = time.perf_counter() - start
        log.info("circuit %s (%s): %s in %.1f s", structure.name, structure.digest(),
                 "compiled" if self.recompiled else "reused the compiled build", self.timings["build_s"])

    def run_window(self, values: dict[str, dict[str, object]], connect_seed: int, noise_seed: int) -> WindowOutput:
        import brian2 as b2

        device = b2.get_device()
        run_args = {}
        for target, target_values in values.items():
            group = _target(self.circuit, target)
            for name, value in target_values.items():
                view = getattr(group, name)
                run_args[view] = _with_units(view, value)
        os.environ["KETAMINE_SIM_CONNECT_SEED"] = str(int(connect_seed))  # read by the binary (see _SEED_CODE)
        os.environ["KETAMINE_SIM_NOISE_SEED"] = str(int(noise_seed))
        results = f"results/{os.getpid()}_{uuid.uuid4().hex[:8]}"
        start = time.perf_counter()
        try:
            device.run(directory=str(self.directory), results_directory=results, with_output=False, run_args=run_args)
            # The binary ends its run loop early on SIGINT ("Simulation stop requested") and still
            # exits 0; its last_run_info.txt ("<wall s> <completed fraction>") says how far it got.
            try:
                completed = float((self.directory / results / "last_run_info.txt").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                completed = float(getattr(device, "_last_run_completed_fraction", 1.0))
            if completed < 1.0 - 1e-9:
                raise KeyboardInterrupt(f"the window's binary was interrupted after {100 * completed:.1f}% of the "
                                        f"window: a truncated window is never used")
            spikes, state = _collect(self.circuit)
            sites = _sites(self.circuit, with_indices="pyr_to_pyr" not in values)
        finally:
            shutil.rmtree(self.directory / results, ignore_errors=True)
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
        circuit = build_circuit(self.structure, after_groups=lambda: b2.seed(connect_seed),
                                after_connect=lambda: b2.seed(noise_seed))
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
        return WindowOutput(spikes=spikes, state=state, wall_s=time.perf_counter() - start,
                            sites=_sites(circuit, with_indices="pyr_to_pyr" not in values))
