"""The examples in the docstrings run and show what they claim (doctest), and the docstrings
that the API reference renders use its Markdown cross-references, not Sphinx roles.

Examples that need a compiler, a simulation or an optional package are marked
``# doctest: +SKIP``; every other example runs here. Pure, no simulation: the examples build
small runs, tables and figures in memory or in temp folders, and a few Hydra composes take
a few seconds.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re

import pytest

#: Modules whose docstring examples run, with the least number of examples each must hold
#: (so that an example section cannot silently disappear or be skipped as a whole).
MODULES = {
    "ketamine_sim": 1,
    "ketamine_sim.circuits": 0,
    "ketamine_sim.circuits.compounds": 10,
    "ketamine_sim.circuits.pharmacology": 5,
    "ketamine_sim.circuits.units": 2,
    "ketamine_sim.circuits.spiking": 0,
    "ketamine_sim.circuits.spiking.cells": 2,
    "ketamine_sim.circuits.spiking.network": 8,
    "ketamine_sim.circuits.spiking.field_potential": 3,
    "ketamine_sim.circuits.spiking.receptors": 4,
    "ketamine_sim.circuits.spiking.vesicles": 5,
    "ketamine_sim.circuits.slow": 0,
    "ketamine_sim.circuits.slow.nmda_block": 10,
    "ketamine_sim.circuits.slow.neurochemistry": 4,
    "ketamine_sim.circuits.slow.pharmacokinetics": 16,
    "ketamine_sim.circuits.slow.pk_variability": 5,
    "ketamine_sim.circuits.slow.plasticity": 4,
    "ketamine_sim.experiments.analysis": 0,
    "ketamine_sim.experiments.analysis.course": 25,
    "ketamine_sim.experiments.analysis.dose_response": 8,
    "ketamine_sim.experiments.analysis.onset": 6,
    "ketamine_sim.experiments.analysis.runs": 26,
    "ketamine_sim.experiments.analysis.spiketrains": 27,
    "ketamine_sim.experiments.api": 4,
    "ketamine_sim.experiments.cohort": 3,
    "ketamine_sim.experiments.sensitivity": 2,
    "ketamine_sim.experiments.scoring.configured_runs": 2,
    "ketamine_sim.experiments.scoring.objective": 3,
    "ketamine_sim.experiments.config.compose": 8,
    "ketamine_sim.experiments.config.kept": 0,
    "ketamine_sim.experiments.config.settings": 1,
    "ketamine_sim.experiments.errors": 7,
    "ketamine_sim.experiments.interrupts": 1,
    "ketamine_sim.experiments.export": 3,
    "ketamine_sim.experiments.files": 10,
    "ketamine_sim.experiments.figures": 39,
    "ketamine_sim.experiments.kinds": 0,
    "ketamine_sim.experiments.kinds.folders": 11,
    "ketamine_sim.experiments.kinds.progress": 0,
    "ketamine_sim.experiments.kinds.protocol_run": 0,
    "ketamine_sim.experiments.kinds.catalog": 0,
    "ketamine_sim.experiments.kinds.jobs": 0,
    "ketamine_sim.experiments.kinds.launch": 0,
    "ketamine_sim.experiments.kinds.registry": 6,
    "ketamine_sim.experiments.paths": 0,
    "ketamine_sim.experiments.results": 33,
    "ketamine_sim.experiments.scoring.observables": 0,
    "ketamine_sim.experiments.scoring.scorecard": 6,
    "ketamine_sim.experiments.simulation.direct": 2,
    "ketamine_sim.experiments.simulation.engine": 2,
    "ketamine_sim.experiments.simulation.progress": 3,
    "ketamine_sim.experiments.simulation.readouts": 11,
    "ketamine_sim.experiments.simulation.spectra": 9,
    "ketamine_sim.experiments.simulation.timeline": 0,
    "ketamine_sim.experiments.simulation.tracks": 1,
    "ketamine_sim.experiments.simulation.tracks.base": 11,
    "ketamine_sim.experiments.simulation.tracks.block": 0,
    "ketamine_sim.experiments.simulation.tracks.chemistry": 0,
    "ketamine_sim.experiments.simulation.tracks.plasticity": 0,
}

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: A Sphinx role (:func:`x`, :class:`~a.b`, :mod:`.m`): literal text in the MkDocs reference.
SPHINX_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc|ref):`")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see above)"
    assert result.attempted >= MODULES[name], (
        f"{name}: {result.attempted} examples ran, expected at least {MODULES[name]}"
    )


def _docstrings(module) -> list[tuple[str, str]]:
    """(qualified name, docstring) of the module and of every class, function and method
    defined in it."""
    out = [(module.__name__, module.__doc__ or "")]
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__ or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        out.append((f"{module.__name__}.{name}", obj.__doc__ or ""))
        if inspect.isclass(obj):
            for member_name, member in vars(obj).items():
                doc = getattr(getattr(member, "fget", member), "__doc__", None)
                if isinstance(doc, str) and (inspect.isfunction(member) or isinstance(member, property)):
                    out.append((f"{module.__name__}.{name}.{member_name}", doc))
    return out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_sphinx_roles_in_docstrings(name):
    """MkDocs renders ``:func:`x``` as it stands: write ``[`x`][full.path.x]`` for an object on
    an API page, plain ``x`` in backticks otherwise."""
    module = importlib.import_module(name)
    found = [where for where, doc in _docstrings(module) if SPHINX_ROLE.search(doc)]
    assert not found, f"Sphinx roles in the docstrings of {found}"


def test_the_checker_sees_a_role():
    assert SPHINX_ROLE.search("see :func:`stream_seed`") and SPHINX_ROLE.search(":class:`~a.B`")
    assert not SPHINX_ROLE.search("see [`stream_seed`][ketamine_sim.circuits.spiking.network.stream_seed]")
