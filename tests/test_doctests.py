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
    "circuits": 0,
    "circuits.compounds": 10,
    "circuits.pharmacology": 5,
    "circuits.units": 2,
    "circuits.spiking": 0,
    "circuits.spiking.cells": 2,
    "circuits.spiking.network": 8,
    "circuits.spiking.receptors": 4,
    "circuits.spiking.vesicles": 5,
    "circuits.slow": 0,
    "circuits.slow.nmda_block": 10,
    "circuits.slow.neurochemistry": 4,
    "circuits.slow.pharmacokinetics": 16,
    "circuits.slow.pk_variability": 5,
    "circuits.slow.plasticity": 4,
    "experiments.analysis": 0,
    "experiments.analysis.course": 25,
    "experiments.analysis.dose_response": 8,
    "experiments.analysis.runs": 26,
    "experiments.analysis.spiketrains": 33,
    "experiments.api": 4,
    "experiments.cohort": 3,
    "experiments.sensitivity": 2,
    "experiments.scoring.configured_runs": 2,
    "experiments.scoring.objective": 3,
    "experiments.config.compose": 8,
    "experiments.config.kept": 0,
    "experiments.config.settings": 1,
    "experiments.errors": 7,
    "experiments.interrupts": 1,
    "experiments.export": 3,
    "experiments.files": 6,
    "experiments.figures": 39,
    "experiments.kinds": 0,
    "experiments.kinds.folders": 11,
    "experiments.kinds.progress": 0,
    "experiments.kinds.protocol_run": 0,
    "experiments.kinds.catalog": 0,
    "experiments.kinds.jobs": 0,
    "experiments.kinds.launch": 0,
    "experiments.kinds.registry": 6,
    "experiments.paths": 0,
    "experiments.results": 33,
    "experiments.scoring.observables": 0,
    "experiments.scoring.scorecard": 6,
    "experiments.simulation.direct": 2,
    "experiments.simulation.engine": 2,
    "experiments.simulation.progress": 3,
    "experiments.simulation.timeline": 0,
    "experiments.simulation.tracks": 1,
    "experiments.simulation.tracks.base": 11,
    "experiments.simulation.tracks.block": 0,
    "experiments.simulation.tracks.chemistry": 0,
    "experiments.simulation.tracks.plasticity": 0,
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
    assert not SPHINX_ROLE.search("see [`stream_seed`][circuits.spiking.network.stream_seed]")
