"""The Poisson background input of every cell, and two ways of drawing it per time step.

Each cell receives ``n`` independent Poisson AMPA inputs at rate ``r`` (cortico-cortical and
thalamic drive; Wang 2002 [@wang2002probabilistic]); each input event adds ``w_ext`` to the
cell's AMPA conductance. Per step of length ``dt`` the number of events a cell receives is
drawn in one of two ways (``backend.background_draw``; part of the compiled structure):

* ``per_cell``: one Binomial(n, p = r dt) count per cell and step, by inversion of one uniform
  number per cell and step (Brian2's ``PoissonInput`` rule). The reference: every
  runtime backend uses it.
* ``per_population``: per population and step a total K ~ Poisson(N n p) for its N cells,
  each of the K events added to a cell drawn uniformly. By the colouring theorem of Poisson
  processes (Kingman 1993 [@kingman1993poisson], ch. 5) each cell then receives an
  independent Poisson(n p) count per step: the same mean as the binomial and the variance
  n p instead of n p (1 - p), a relative difference of p (2e-4 for 1000 inputs at 2 Hz and
  dt = 0.1 ms). About N n p + 1 random numbers per population and step instead of N (five
  times fewer at the default rates), from C++'s ``std::mt19937_64``,
  ``std::poisson_distribution`` and ``std::uniform_int_distribution``, seeded from the window's
  noise generator; the population's total does not depend on the OpenMP thread count. The
  statement runs once per step in the scalar part of the background's code object and adds
  to the group's arrays directly, so it exists for ``backend=cpp_standalone`` only.

Both draws are statistically the same input; their random numbers differ, so a run's spikes
differ between them as between two seeds.
"""

from __future__ import annotations

#: How the background's events are drawn per step (module docstring).
BACKGROUND_DRAWS = ("per_cell", "per_population")

_SPREAD_CODE = """
#include <random>
#include <cstdint>
int32_t {name}(const double t)
{{
    // {n_cells} cells, Poisson({mean:.17g}) events in total per step, each to a uniformly drawn cell
    static std::mt19937_64 _generator;
    static std::poisson_distribution<int64_t> _total({mean:.17g});
    static std::uniform_int_distribution<int32_t> _cell(0, {last_cell});
    static bool _seeded = false;
    if (!_seeded) {{  // from the window's noise generator (seeded before the run starts)
        std::seed_seq _seeds{{
            (uint32_t)(brian::_random_generators[0].rand() * 4294967296.0),
            (uint32_t)(brian::_random_generators[0].rand() * 4294967296.0),
            (uint32_t)(brian::_random_generators[0].rand() * 4294967296.0),
            (uint32_t)(brian::_random_generators[0].rand() * 4294967296.0)}};
        _generator.seed(_seeds);
        _seeded = true;
    }}
    double* const _g = brian::_array_{group}_g_ampa;
    const double* const _w = brian::_array_{group}_w_ext;
    const int64_t _events = _total(_generator);
    for (int64_t _k = 0; _k < _events; _k++) {{
        const int32_t _i = _cell(_generator);
        _g[_i] += _w[_i];
    }}
    return (int32_t)_events;
}}
"""


def events_per_step(n_sources: int, rate_hz: float, dt_ms: float) -> float:
    """Mean background events per cell and step, n r dt.

    >>> round(events_per_step(1000, 2.0, 0.1), 12)
    0.2
    """
    return n_sources * rate_hz * dt_ms * 1e-3


def per_cell_draw(group: str, n_sources: int, rate_hz: float, dt_ms: float) -> tuple[str, dict]:
    """The ``per_cell`` draw of population ``group``: its per-neuron statement and namespace
    (a Brian2 ``BinomialFunction`` with an explicit name, so that generated code is the same in
    every process)."""
    import brian2 as b2

    name = f"background_{group}"
    draw = b2.BinomialFunction(n_sources, rate_hz * dt_ms * 1e-3, name=name)
    return f"g_ampa += w_ext * {name}()", {name: draw}


def per_population_draw(group: str, n_cells: int, n_sources: int, rate_hz: float, dt_ms: float) -> tuple[str, dict]:
    """The ``per_population`` draw of population ``group`` (``n_cells`` cells): its scalar
    statement (the step's event count into the shared variable ``background_events``) and
    namespace (a C++ function that adds the events to ``g_ampa``; ``backend=cpp_standalone``)."""
    import brian2 as b2

    name = f"background_spread_{group}"
    mean = n_cells * events_per_step(n_sources, rate_hz, dt_ms)
    code = _SPREAD_CODE.format(name=name, n_cells=n_cells, mean=mean, last_cell=n_cells - 1, group=group)

    @b2.implementation("cpp", code)
    @b2.check_units(t=b2.second, result=1)
    def spread(t):
        raise NotImplementedError("backend.background_draw=per_population needs backend=cpp_standalone")

    # Brian2 runs statements of shared variables and stateless functions once per step (its
    # scalar code): the function has effects, but none that Brian2 could reorder or merge
    return f"background_events = {name}(t)", {name: spread}


#: The group variable of the ``per_population`` draw: the population's events of the last step.
PER_POPULATION_EQUATIONS = "background_events : integer (shared)\n"
