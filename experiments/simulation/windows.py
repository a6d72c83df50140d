"""What a spiking window returns, and the generator seeds its compiled binary reads.

Random numbers: every generator seed is derived from the run's seed, a purpose and an index
([`stream_seed`][ketamine_sim.circuits.spiking.network.stream_seed]). The compiled code seeds its generators (one
per OpenMP thread) from two environment variables holding one seed per thread:
``KETAMINE_SIM_CONNECT_SEEDS`` before the connectivity is drawn (the same for every window of
a run, so all windows see one network) and ``KETAMINE_SIM_NOISE_SEEDS`` after it (different
per window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketamine_sim.circuits.spiking.network import stream_seed

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


@dataclass
class WindowOutput:
    """Spikes (times in s from the window start, neuron indices) and final state per population."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    state: dict[str, dict[str, np.ndarray]]
    wall_s: float
    sites: dict[str, np.ndarray] | None = None  #: pyr->pyr spine sites: ``pre``, ``post``, ``spine`` (0/1)
    #: The synapses of every other pathway (``pv_to_pyr``: ``pre``, ``post`` cell indices), with
    #: the sites' indices (the first window of a run); None otherwise.
    edges: dict[str, dict[str, np.ndarray]] | None = None
    #: The summed pyramidal currents of the field-potential proxy, one sample per ``field_step_ms``
    #: from the window's start (``i_glu``, ``i_gaba``: A; `ketamine_sim.circuits.spiking.field_potential`).
    field: dict[str, np.ndarray] | None = None


def _thread_seeds(seed: int, purpose: str, threads: int) -> str:
    """One derived generator seed per OpenMP thread, as the compiled code reads them."""
    return " ".join(str(stream_seed(seed, purpose, thread)) for thread in range(max(threads, 1)))
