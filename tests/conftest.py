"""Shared fixtures and the test markers.

``block_sim`` runs the real NMDA-block equations (:func:`ketamine_sim.circuits.spiking.receptors.block_equations`)
in a small Brian2 group (runtime device, numpy code generation) with clamped ``v`` and
``s_nmda``; one neuron per condition. Used by test_pharmacology.py and test_coupling.py.

The fixtures of :mod:`helpers` (``ketamine_sim``, ``build_cache``, ``small_run``) are registered
through ``pytest_plugins``. Markers by what a test needs (registered in pyproject.toml):
``compiles`` (a C++ compiler: compiles or runs a circuit with cpp_standalone or Cython, or runs
``ketamine-sim`` for a simulation), ``notebook`` (executes the notebooks) and ``docs`` (builds
the documentation site). ``compiles`` is added below to every test that uses a fixture of
:data:`COMPILING_FIXTURES`; tests that compile otherwise carry the mark themselves. Brian2 in its
runtime device with numpy code generation (``brian2_numpy``, ``block_sim``) needs no compiler.
``slow`` marks the tests that need none of these but take a second or more (a whole experiment
with stand-in windows, a Brian2 numpy build, a file validator). ``make test-fast`` runs
``-m "not compiles and not notebook and not docs and not cli and not fuzz and not slow"``.
"""

from __future__ import annotations

import gc
from types import SimpleNamespace

import numpy as np
import pytest

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.spiking.receptors import SynapseParameters
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config

#: The synaptic constants a configured run uses (configs/circuit/pfc.yaml, Wang 2002's values),
#: for unit tests of the receptor equations.
WANG2002_SYNAPSES: SynapseParameters = C.circuit_structure(compose_config([])).synapses


@pytest.fixture
def wang2002_synapses() -> SynapseParameters:
    return WANG2002_SYNAPSES


@pytest.fixture
def brian2_numpy():
    """Runtime device with numpy code generation in a fresh scope; restores the previous target."""
    import brian2 as b2

    previous = b2.prefs.codegen.target
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    yield b2
    b2.prefs.codegen.target = previous


def _run_block(params, conditions, duration_s, dt_ms=1.0, record_dt_ms=None, syn=WANG2002_SYNAPSES):
    """Step the block equations for ``duration_s`` as the circuit does (the exact step of
    :func:`ketamine_sim.circuits.spiking.receptors.block_update_code`, run before the state update).

    ``conditions``: one dict per neuron with ``v_mV`` (default -70), ``s`` (open fraction,
    default 1), ``c`` ({species: uM}) and ``b0`` ({species: initial blocked fraction}).
    Returns ``final`` ({species: array over conditions}), ``final_total`` and, with
    ``record_dt_ms``, ``t_s`` and ``traces`` ({species: array (conditions, times)}, last
    column = final state) plus ``total`` (sum over species).
    """
    import brian2 as b2

    from ketamine_sim.circuits.spiking.receptors import block_equations, block_update_code, namespace

    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    eqs = block_equations(SPECIES) + "v : volt (constant)\ns_nmda : 1 (constant)\n"
    group = b2.NeuronGroup(len(conditions), eqs, dt=dt_ms * b2.ms, namespace=namespace(syn, params))
    group.run_regularly(
        block_update_code(SPECIES), when="groups", order=-1
    )  # as in ketamine_sim.circuits.spiking.network.build_circuit
    group.v = np.array([c.get("v_mV", -70.0) for c in conditions]) * b2.mV
    group.s_nmda = np.array([c.get("s", 1.0) for c in conditions])
    for k in SPECIES:
        setattr(group, f"c_{k}", np.array([c.get("c", {}).get(k, 0.0) for c in conditions], dtype=float))
        setattr(group, f"b_{k}", np.array([c.get("b0", {}).get(k, 0.0) for c in conditions], dtype=float))
    objects = [group]
    if record_dt_ms is not None:
        monitor = b2.StateMonitor(group, [f"b_{k}" for k in SPECIES], record=True, dt=record_dt_ms * b2.ms)
        objects.append(monitor)
    b2.Network(objects).run(duration_s * b2.second)
    out = SimpleNamespace(final={k: np.array(getattr(group, f"b_{k}")[:], dtype=float) for k in SPECIES})
    out.final_total = sum(out.final.values())
    if record_dt_ms is not None:
        out.t_s = np.append(np.asarray(monitor.t / b2.second), duration_s)
        out.traces = {k: np.column_stack([np.asarray(getattr(monitor, f"b_{k}")), out.final[k]]) for k in SPECIES}
        out.total = sum(out.traces.values())
    return out


@pytest.fixture
def block_sim(brian2_numpy):
    """The function ``_run_block`` (see its docstring), in a numpy runtime scope."""
    return _run_block


#: Command-line runs with the session's shared build cache, and one small simulated run shared
#: by the export and figure tests.
pytest_plugins = ["helpers.cli", "helpers.small_run"]

#: Fixtures that build or run a compiled circuit: ``build_cache`` is the compiled-circuit cache
#: every command-line run of the suite shares, ``ketamine_sim`` and ``small_run`` use it. A
#: fixture that uses one of them counts too (``item.fixturenames`` holds every fixture a test
#: needs, directly or through other fixtures).
COMPILING_FIXTURES = frozenset({"build_cache", "ketamine_sim", "small_run"})


def pytest_collection_modifyitems(config, items):
    """Mark ``compiles`` every test that uses a compiled circuit through a shared fixture."""
    for item in items:
        if COMPILING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.compiles)


def pytest_collection_finish(session):
    """Move every object alive after collection (the imported packages, the collected tests)
    out of the garbage collector's reach (``gc.freeze``): Brian2 runs a full collection at
    the start of every ``Network.run``, which otherwise walks this whole heap each time (about
    0.3 s a run, a fifth of the quick subset's time). Objects made later are collected as
    usual; the frozen ones live for the whole session anyway."""
    gc.collect()
    gc.freeze()
