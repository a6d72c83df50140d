"""The prefrontal microcircuit: pyramidal, PV and SST populations with background drive.

The circuit is split in two parts on purpose:

* [`CircuitStructure`][ketamine_sim.circuits.spiking.network.CircuitStructure] is what the compiled
  code depends on (cell counts, connection probabilities, cell and receptor constants,
  time step, window length). One structure is compiled once.
* [`CircuitDrive`][ketamine_sim.circuits.spiking.network.CircuitDrive] holds what a window may change
  without recompiling: synaptic weights, NMDA content per cell type, background strength,
  drug concentrations and the carried-over block state. They enter as per-neuron variables
  (Brian2 `run_args` in standalone mode).

Connectivity is random, one of two rules (``CircuitStructure.connectivity``):

* ``fixed_probability`` (default): every pair is connected with the pathway's probability p
  (Bernoulli). Weights are given for `reference_counts` presynaptic cells and scaled by
  reference/actual count, so that a smaller circuit keeps the mean synaptic input (the
  1600/N_E scaling of Wang 2002 [@wang2002probabilistic]); synapses grow with N^2.
* ``fixed_indegree``: every postsynaptic cell receives exactly K = round(p x reference count)
  synapses per pathway from distinct presynaptic cells drawn at random, and weights are not
  scaled: each cell sees the reference circuit's mean input at any size, and synapses grow
  with N (the rule of Brunel's sparse networks, C_E and C_I inputs per cell, Brunel 2000
  [@brunel2000dynamics]; NEST's ``fixed_indegree``). Needs K <= the presynaptic count.

Every random stream of a run (connectivity, initial potentials, noise per window) is
seeded from the run's seed by [`stream_seed`][ketamine_sim.circuits.spiking.network.stream_seed] or
[`stream_rng`][ketamine_sim.circuits.spiking.network.stream_rng].
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..compounds import SPECIES
from ..pharmacology import BlockParameters
from .background import BACKGROUND_DRAWS, PER_POPULATION_EQUATIONS, per_cell_draw, per_population_draw
from .cells import MEMBRANE_EQUATION, POPULATIONS, CellParameters
from .field_potential import FIELD_CURRENTS, FIELD_EQUATIONS, FIELD_SUMS, field_step_ms
from .receptors import (
    ACCUMULATOR_EQUATIONS,
    ACCUMULATORS,
    SYNAPTIC_EQUATIONS,
    SynapseParameters,
    block_equations,
    namespace,
    on_pre_code,
    receptor_update_code,
)
from .vesicles import VESICLE_EQUATIONS, VESICLE_RESET, VESICLE_UPDATE, VesicleParameters
from .window import DRIVE_VARIABLES, NETWORK_STATE_VARIABLES, SPINE_SITE_VARIABLES

Pathway = tuple[str, str]  # (presynaptic population, postsynaptic population)

#: How synapses are drawn (``circuit.connectivity``; see the module's docstring).
CONNECTIVITY_RULES = ("fixed_probability", "fixed_indegree")
#: Largest accepted run seed: seeds are integers in [0, 2**32 - 1].
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class BackgroundInput:
    """Poisson background: ``n_sources`` independent AMPA inputs at ``rate_hz`` per neuron,
    their events per step drawn ``draw`` (one of `BACKGROUND_DRAWS`, see
    [`background`][ketamine_sim.circuits.spiking.background])."""

    n_sources: int
    rate_hz: float
    draw: str

    def __post_init__(self) -> None:
        if self.draw not in BACKGROUND_DRAWS:
            raise ValueError(f"background draw must be one of {BACKGROUND_DRAWS}, got {self.draw!r}")

    def code(self, group: str, n_cells: int, dt_ms: float) -> tuple[str, dict]:
        """The per-step statement of population ``group`` and its namespace."""
        if self.draw == "per_population":
            return per_population_draw(group, n_cells, self.n_sources, self.rate_hz, dt_ms)
        return per_cell_draw(group, self.n_sources, self.rate_hz, dt_ms)


@dataclass(frozen=True)
class CircuitStructure:
    """Everything the compiled circuit depends on (values: ``configs/circuit/*.yaml``,
    ``block.*``). Its
    [`digest`][ketamine_sim.circuits.spiking.network.CircuitStructure.digest] names it in the provenance (the
    build cache is keyed on the generated code itself, see `experiments/simulation/engine.py`)."""

    name: str
    counts: dict[str, int]
    reference_counts: dict[str, int]
    connection_probability: dict[Pathway, float]
    cells: dict[str, CellParameters]
    synapses: SynapseParameters
    g_nmda_max_nS: dict[str, float]
    background: BackgroundInput
    block: BlockParameters
    dt_ms: float
    window_s: float
    transient_s: float  #: release is counted from here on (spikes are recorded throughout)
    threads: int
    #: Fraction of potential pyramidal-to-pyramidal sites present in the healthy steady state
    #: (circuits/slow/plasticity.py): pyr->pyr is compiled with probability p / spine_occupancy.
    spine_occupancy: float
    #: ``fixed_probability`` or ``fixed_indegree`` (see the module's docstring).
    connectivity: str
    #: Compile the state updates to vector instructions (``backend.vectorise``): finite math
    #: and enough run-time alias checks for GCC to vectorise the per-neuron loops.
    vectorise: bool

    def __post_init__(self) -> None:
        for pop in POPULATIONS:
            if self.counts.get(pop, 0) < 1:
                raise ValueError(f"counts.{pop} must be >= 1, got {self.counts.get(pop)}")
        for (pre, post), p in self.connection_probability.items():
            if pre not in POPULATIONS or post not in POPULATIONS:
                raise ValueError(f"unknown pathway {pre}->{post}; populations are {POPULATIONS}")
            if not 0 <= p <= 1:
                raise ValueError(f"connection probability {pre}->{post} must be in [0, 1], got {p}")
        if self.dt_ms <= 0 or self.window_s <= 0:
            raise ValueError("dt_ms and window_s must be > 0")
        p_ee = self.connection_probability.get(("pyr", "pyr"), 0.0)
        if not (0 < self.spine_occupancy <= 1 and p_ee <= self.spine_occupancy):
            raise ValueError(
                f"spine_occupancy must be in (0, 1] and >= the pyr->pyr connection probability ({p_ee}), "
                f"got {self.spine_occupancy}"
            )
        if not 0 <= self.transient_s < self.window_s:
            raise ValueError(f"transient_s must be in [0, window_s), got {self.transient_s}")
        if self.connectivity not in CONNECTIVITY_RULES:
            raise ValueError(f"connectivity must be one of {CONNECTIVITY_RULES}, got {self.connectivity!r}")
        if self.connectivity == "fixed_indegree":
            for pre, post in self.connection_probability:
                if self.in_degree(pre, post) > self.counts[pre]:
                    raise ValueError(
                        f"fixed_indegree: {pre}->{post} needs {self.in_degree(pre, post)} distinct {pre} cells "
                        f"per {post} cell, the circuit has {self.counts[pre]}"
                    )

    def in_degree(self, pre: str, post: str) -> int:
        """``fixed_indegree``: the synapses (pyr->pyr: potential spine sites) each ``post`` cell
        receives from ``pre``, round(p x reference count of ``pre``): on pfc 230 from PV
        (0.5 x 460) and 400 pyramidal spine sites (0.1 / 0.8 x 3200) per pyramidal cell."""
        p = self.connection_probability.get((pre, post), 0.0)
        if pre == post == "pyr":
            p = p / self.spine_occupancy
        return int(round(p * self.reference_counts[pre]))

    def weight_scale(self, pre: str) -> float:
        """Factor on the weights from ``pre`` cells: reference/actual count for
        ``fixed_probability``, 1 for ``fixed_indegree``."""
        if self.connectivity == "fixed_indegree":
            return 1.0
        return self.reference_counts[pre] / self.counts[pre]

    def digest(self) -> str:
        """Stable hash of the structure (pathways as 'pre->post' keys)."""
        data = asdict(self)
        data["connection_probability"] = {f"{a}->{b}": p for (a, b), p in self.connection_probability.items()}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CircuitDrive:
    """Per-window parameters: weights (nS per spike, at the reference size), NMDA content, background."""

    weight_nS: dict[Pathway, float]
    nmda_ratio: dict[str, float]  #: NMDA conductance per spike relative to AMPA, per postsynaptic type (TARGETS C6)
    background_weight_nS: dict[str, float]
    vesicles: VesicleParameters
    ampa_available: float  #: fraction of AMPA receptors of local synapses not blocked (NBQX: 1 - block)
    #: populations whose NMDA receptors the drug reaches (the others see no drug): the
    #: disinhibition hypotheses restrict the block to PV or SST cells
    drug_targets: tuple[str, ...]
    hnk_ampa_gain: (
        float  #: largest relative rise of local AMPA transmission onto pyramidal cells by (2R,6R)-HNK (Zanos 2016)
    )
    hnk_ampa_ec50_uM: float  #: HNK brain concentration of half that rise

    def __post_init__(self) -> None:
        for key, w in list(self.weight_nS.items()) + list(self.background_weight_nS.items()):
            if w < 0:
                raise ValueError(f"weight {key} must be >= 0 nS, got {w}")
        for pop, r in self.nmda_ratio.items():
            if r < 0:
                raise ValueError(f"nmda_ratio.{pop} must be >= 0, got {r}")
        if not 0 <= self.ampa_available <= 1:
            raise ValueError(f"ampa_available must be in [0, 1], got {self.ampa_available}")
        unknown = set(self.drug_targets) - set(POPULATIONS)
        if unknown:
            raise ValueError(f"drug_targets: unknown populations {sorted(unknown)}; allowed: {', '.join(POPULATIONS)}")
        if self.hnk_ampa_gain < 0 or self.hnk_ampa_ec50_uM <= 0:
            raise ValueError("hnk_ampa_gain must be >= 0 and hnk_ampa_ec50_uM > 0")

    def ampa_scale(self, hnk_uM: float) -> float:
        """Local AMPA transmission relative to control: NBQX availability x the HNK rise
        1 + gain c / (c + EC50)."""
        return self.ampa_available * (1.0 + self.hnk_ampa_gain * hnk_uM / (hnk_uM + self.hnk_ampa_ec50_uM))


@dataclass
class Circuit:
    """Brian2 objects of one built circuit."""

    structure: CircuitStructure
    groups: dict[str, object]
    spike_monitors: dict[str, object]
    network: object
    objects: list = field(default_factory=list)
    synapses: dict[str, object] = field(default_factory=dict)
    #: Every ``Synapses`` object by its pathway's name (``pv_to_pyr``); ``synapses`` holds the
    #: pyr->pyr spine sites among them.
    pathways: dict[str, object] = field(default_factory=dict)
    #: The ``StateMonitor`` of the summed pyramidal currents of the field-potential proxy
    #: ([`field_potential`][ketamine_sim.circuits.spiking.field_potential]), one sample per
    #: `field_step_ms`.
    field_monitor: object = None


#: Per pyramidal cell: draw the cell's spine sites at the window start (first window) with
#: probability ``spine_init``; otherwise the sites come in as a run argument.
SPINE_SITE_EQUATIONS = "".join(f"{name} : 1 (constant)\n" for name in SPINE_SITE_VARIABLES)
#: Per pyr->pyr synapse at each window's start: draw the site (``spine_sample``) or keep the one set.
SPINE_SITE_DRAW = "spine = spine_sample_post * int(rand() < spine_init_post) + (1 - spine_sample_post) * spine"


def neuron_equations(excitatory: bool = False) -> str:
    """Full per-neuron equations (membrane, receptors, block, accumulators, drive variables;
    the vesicle pool for excitatory cells)."""
    drive = "\n".join(f"{name} : {'siemens' if name.startswith('w_') else '1'} (constant)" for name in DRIVE_VARIABLES)
    eqs = MEMBRANE_EQUATION + SYNAPTIC_EQUATIONS + block_equations(SPECIES) + ACCUMULATOR_EQUATIONS + drive + "\n"
    eqs += (
        "ampa_local : 1  # local glutamate release events that reached available AMPA receptors, after the transient\n"
    )
    if excitatory:
        eqs += VESICLE_EQUATIONS + SPINE_SITE_EQUATIONS
    return eqs


def build_circuit(
    structure: CircuitStructure,
    after_groups: Callable[[], None] = lambda: None,
    after_connect: Callable[[], None] = lambda: None,
) -> Circuit:
    """Create the Brian2 objects. ``after_groups`` runs before random connectivity is drawn,
    ``after_connect`` after it (the engine seeds the random generators there)."""
    import brian2 as b2

    shared = namespace(structure.synapses, structure.block)
    groups, monitors, objects, synapses, pathways = {}, {}, [], {}, {}
    for pop in POPULATIONS:
        cell = structure.cells[pop]
        background, background_names = structure.background.code(pop, structure.counts[pop], structure.dt_ms)
        ns = dict(
            shared,
            c_m=cell.c_m_nF * b2.nF,
            g_l=cell.g_l_nS * b2.nS,
            e_l=cell.e_l_mV * b2.mV,
            v_th=cell.v_th_mV * b2.mV,
            v_reset=cell.v_reset_mV * b2.mV,
            g_nmda_max=structure.g_nmda_max_nS[pop] * b2.nS,
            t_settle=structure.transient_s * b2.second,
            **background_names,
        )
        excitatory = pop == "pyr"
        reset = "v = v_reset" + (VESICLE_RESET if excitatory else "")
        group = b2.NeuronGroup(
            structure.counts[pop],
            neuron_equations(excitatory)
            + (PER_POPULATION_EQUATIONS if structure.background.draw == "per_population" else ""),
            threshold="v > v_th",
            reset=reset,
            refractory=cell.t_ref_ms * b2.ms,
            method="euler",
            namespace=ns,
            name=pop,
        )
        # the fractions (vesicle pool, block, NMDA open fraction) take implicit steps: in [0, 1] at any rate
        group.run_regularly(
            (VESICLE_UPDATE if excitatory else "") + receptor_update_code(SPECIES),
            when="groups",
            order=-1,
            name=f"{pop}_fractions",
        )
        group.run_regularly(background, when="synapses", name=f"{pop}_background")
        groups[pop] = group
        monitors[pop] = b2.SpikeMonitor(group, name=f"spikes_{pop}")
        objects += [group, monitors[pop]]
    after_groups()
    for (pre, post), p in sorted(structure.connection_probability.items()):
        if p == 0:
            continue
        model, sites = "", pre == "pyr" and post == "pyr"
        on_pre = on_pre_code(pre, spine_sites=sites)
        if sites:  # every potential E->E synapse is a spine site, present (1) or not (0)
            model, p = "spine : 1", p / structure.spine_occupancy
        syn = b2.Synapses(
            groups[pre],
            groups[post],
            model=model,
            on_pre=on_pre,
            delay=structure.synapses.delay_ms * b2.ms,
            namespace={
                "nmda_capacity": structure.g_nmda_max_nS[post] * b2.nS,
                "t_settle": structure.transient_s * b2.second,
            },
            name=f"{pre}_to_{post}",
        )
        if structure.connectivity == "fixed_indegree":  # K distinct presynaptic cells per postsynaptic cell
            syn.connect(i=f"k for k in sample(N_pre, size={structure.in_degree(pre, post)})")
        else:
            syn.connect(p=p)
        if sites:
            syn.run_regularly(
                SPINE_SITE_DRAW,
                dt=structure.window_s * b2.second,
                when="start",
                name="spine_sites",
            )
            synapses[f"{pre}_to_{post}"] = syn
        pathways[f"{pre}_to_{post}"] = syn
        objects.append(syn)
    names = dict(shared, g_nmda_max=structure.g_nmda_max_nS["pyr"] * b2.nS)
    field_monitor = _field_recording(groups["pyr"], names, field_step_ms(structure.dt_ms) * b2.ms, objects)
    after_connect()
    network = b2.Network(objects, name="circuit")  # explicit names keep generated code identical across processes
    return Circuit(
        structure=structure,
        groups=groups,
        spike_monitors=monitors,
        network=network,
        objects=objects,
        synapses=synapses,
        pathways=pathways,
        field_monitor=field_monitor,
    )


def _field_recording(pyramidal, names: dict, step, objects: list):
    """The one-cell ``field`` group, the pyramidal-to-field synapses that sum the currents of
    the field-potential proxy into it every ``step`` (a Brian2 time), and the monitor recording
    the sums (appended to ``objects``; no random numbers drawn). ``names``: the constants of
    the pyramidal currents (reversal potentials, the Mg block, the NMDA capacity)."""
    import brian2 as b2

    # the sums run on the clock of the group they sum into: the group's dt is the step
    field_group = b2.NeuronGroup(1, FIELD_EQUATIONS, dt=step, name="field")
    sums = b2.Synapses(pyramidal, field_group, model=FIELD_SUMS, namespace=names, dt=step, name="pyr_to_field")
    sums.connect()
    # at the step's end: sample k holds the currents the sums took at t = k step
    monitor = b2.StateMonitor(field_group, list(FIELD_CURRENTS), record=0, when="end", dt=step, name="field_monitor")
    objects += [field_group, sums, monitor]
    return monitor


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    return int(seed)


def _seed_sequence(seed: int, purpose: str, index: tuple[int, ...]) -> np.random.SeedSequence:
    seed = _check_seed(seed)
    if any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0 for i in index):
        raise ValueError(f"stream indices must be integers >= 0, got {index!r}")
    # the purpose enters as a 32-bit checksum of its name; the spawn key keeps (purpose, index)
    # apart from the seed, so no two (seed, purpose, index) share their hash input
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(purpose.encode()), *map(int, index)))


def _mix32(x: int) -> int:
    """MurmurHash3's 32-bit finaliser (Appleby 2011, public domain): a bijection of [0, 2**32)
    that spreads neighbouring inputs over the whole range."""
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    return x ^ (x >> 16)


def stream_seed(seed: int, purpose: str, *index: int) -> int:
    """A 32-bit generator seed for one random stream of a run.

    Parameters
    ----------
    seed : int
        The run's seed, in [0, `SEED_MAX`].
    purpose : str
        What the stream draws (`"connectivity"`, `"noise"`, `"window_noise"`,
        `"window_values"`, `"spine_sites"`).
    *index : int
        Further position of the stream (window, thread), each >= 0.

    Returns
    -------
    int
        The generator seed, in [0, 2**32): what Brian2's generators take (`std::mt19937`
        in the compiled code, `numpy.random.seed` in the runtime).

    Raises
    ------
    ValueError
        If `seed` is not an integer in [0, `SEED_MAX`] or an index is not an integer >= 0.

    Notes
    -----
    (purpose, index) is hashed with `numpy.random.SeedSequence` into a 32-bit key that is
    XORed into the seed and mixed by a bijection (MurmurHash3's 32-bit finaliser), so for
    one purpose and index distinct seeds always give distinct generator seeds (seed `2**29`
    and `0` do not coincide), and streams of different purposes or indices are unrelated.

    Examples
    --------
    The same arguments give the same seed, in every process and on every platform:

    >>> from ketamine_sim.circuits.spiking.network import stream_seed
    >>> stream_seed(1, "connectivity") == stream_seed(1, "connectivity")
    True
    >>> stream_seed(1, "connectivity")
    1697532668
    >>> stream_seed(1, "connectivity") != stream_seed(1, "window_noise", 0)
    True
    >>> stream_seed(0, "window_noise", 3) != stream_seed(2**29, "window_noise", 3)
    True
    >>> 0 <= stream_seed(2**32 - 1, "window_noise", 3) < 2**32
    True
    >>> stream_seed(-1, "connectivity")
    Traceback (most recent call last):
    ...
    ValueError: seed must be an integer in [0, 4294967295], got -1
    """
    key = int(_seed_sequence(0, purpose, index).generate_state(1, np.uint32)[0])
    return _mix32(_check_seed(seed) ^ key)


def stream_rng(seed: int, purpose: str, *index: int) -> np.random.Generator:
    """A numpy generator for one random stream of a run.

    Parameters
    ----------
    seed : int
        The run's seed, in [0, `SEED_MAX`].
    purpose : str
        What the stream draws.
    *index : int
        Further position of the stream (window, thread), each >= 0.

    Returns
    -------
    numpy.random.Generator
        A generator seeded by a `numpy.random.SeedSequence` of (`seed`, `purpose`, `index`)
        (arguments as in [`stream_seed`][ketamine_sim.circuits.spiking.network.stream_seed]).

    Raises
    ------
    ValueError
        If `seed` or an index is out of range (as for `stream_seed`).

    Examples
    --------
    >>> from ketamine_sim.circuits.spiking.network import stream_rng
    >>> a = stream_rng(7, "spine_sites", 2).random(3)
    >>> b = stream_rng(7, "spine_sites", 2).random(3)
    >>> bool((a == b).all())
    True
    """
    return np.random.default_rng(_seed_sequence(seed, purpose, index))


def initial_values(
    structure: CircuitStructure,
    drive: CircuitDrive,
    concentrations_uM: dict[str, float],
    block_state: dict[str, dict[str, np.ndarray]] | None,
    rng: np.random.Generator,
    u_release: float | None = None,
    vesicle_pool: np.ndarray | None = None,
    spines: np.ndarray | None = None,
    spine_init: np.ndarray | float | None = None,
    ee_weight_scale: np.ndarray | float = 1.0,
    network_state: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, dict[str, object]]:
    """Per-population values to set before a window: the network state (``network_state``, the
    last window's final membrane potential, conductances and NMDA gating per population, or
    potentials uniform between rest and threshold and no synaptic activity), drive variables,
    concentrations, the carried-over block state, and for the
    pyramidal cells the release fraction U (default: baseline), the carried-over vesicle pool,
    the E->E weight scale per cell and the spine sites: ``spines`` (0/1 per pyr->pyr site, in
    the compiled synapse order) or, if None, sites drawn at the window start with probability
    ``spine_init`` per postsynaptic cell (default: the structure's healthy occupancy).

    Values are plain numbers in the equations' units (V, S, s, uM-as-number, fractions).
    """
    ves = drive.vesicles
    u = ves.u_release if u_release is None else u_release
    values: dict[str, dict[str, object]] = {}
    for pop in POPULATIONS:
        cell, n = structure.cells[pop], structure.counts[pop]
        # drawn even when the state is carried, so that every other draw stays where it was
        v = 1e-3 * rng.uniform(cell.e_l_mV, cell.v_th_mV, size=n)
        carried = network_state[pop] if network_state is not None else {"v": v}
        pop_values: dict[str, object] = {
            **{name: carried.get(name, 0.0) for name in NETWORK_STATE_VARIABLES},
            "nmda_ratio": float(drive.nmda_ratio[pop]),
            "w_ext": 1e-9 * drive.background_weight_nS[pop],
            # HNK's rise was measured at synapses onto pyramidal cells (Zanos 2016): applied there only
            "ampa_scale": drive.ampa_scale(float(concentrations_uM.get("hnk", 0.0)) if pop == "pyr" else 0.0),
        }
        for pre in POPULATIONS:
            scale = structure.weight_scale(pre)
            pop_values[f"w_from_{pre}"] = 1e-9 * drive.weight_nS.get((pre, pop), 0.0) * scale
        for k in SPECIES:
            pop_values[f"c_{k}"] = float(concentrations_uM.get(k, 0.0)) if pop in drive.drug_targets else 0.0
            pop_values[f"b_{k}"] = block_state[pop][k] if block_state else 0.0
        if pop == "pyr":
            nominal = 1.0 / (1.0 + u * ves.initial_rate_hz * 1e-3 * ves.tau_rec_ms) if ves.depression else 1.0
            pop_values.update(
                {
                    "tau_rec": 1e-3 * ves.tau_rec_ms,
                    "recycling_slowing": ves.recycling_slowing,
                    "u_release": float(u),
                    "depression": 1.0 if ves.depression else 0.0,
                    "u_baseline": ves.u_release,
                    "x_ves": vesicle_pool if vesicle_pool is not None else nominal,
                    "spine_sample": 1.0 if spines is None else 0.0,
                    "spine_init": structure.spine_occupancy if spine_init is None else spine_init,
                }
            )
            pop_values["w_from_pyr"] = pop_values["w_from_pyr"] * np.asarray(ee_weight_scale, dtype=float)
        values[pop] = pop_values
    if spines is not None:
        values["pyr_to_pyr"] = {"spine": np.asarray(spines, dtype=float)}
    return values


__all__ = [
    "ACCUMULATORS",
    "BackgroundInput",
    "CONNECTIVITY_RULES",
    "Circuit",
    "CircuitDrive",
    "CircuitStructure",
    "DRIVE_VARIABLES",
    "SPINE_SITE_DRAW",
    "SEED_MAX",
    "build_circuit",
    "initial_values",
    "neuron_equations",
    "stream_rng",
    "stream_seed",
]
