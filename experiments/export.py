"""A run for other tools: NWB files (pynwb), Neo `SpikeTrain`s (Elephant) and its circuit as
SONATA network files (libsonata, BMTK).

* [`to_nwb`][ketamine_sim.experiments.export.to_nwb] writes an NWB 2 file: one unit per neuron of every
  population, spike times in seconds of protocol time, each unit's observation intervals =
  the spiking windows, the windows as epochs. Any NWB reader (pynwb, MatNWB, NWB Widgets)
  opens it.
* [`to_neo`][ketamine_sim.experiments.export.to_neo] builds a `neo.Block` with one `Segment` per window
  and one `SpikeTrain` per neuron in each (ms, `t_start`/`t_stop` = the window's bounds);
  [`spiketrains`][ketamine_sim.experiments.export.spiketrains] gives the trains of one population in one
  window, ready for `elephant.statistics` and friends.
* [`to_sonata_network`][ketamine_sim.experiments.export.to_sonata_network] writes the circuit of a run
  stored with ``output.connectivity=true``: its cells as SONATA nodes (one population per
  cell type, node ids = the spikes' node ids), its synapses as SONATA edges with weights and
  delays, and a ``circuit_config.json``, as BMTK, NEST (via BMTK) and NetPyNE read them.

NWB and Neo need the optional extra `export` (`pip install -e ".[export]"`: pynwb, neo);
[Export](../export.md) describes the mapping.

Examples
--------
>>> from ketamine_sim.experiments import export
>>> export.to_nwb("outputs/my_run", "my_run.nwb")  # doctest: +SKIP
PosixPath('my_run.nwb')
>>> block = export.to_neo("outputs/my_run")  # doctest: +SKIP
>>> trains = export.spiketrains("outputs/my_run", "pyr", window=1)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import pathlib
import uuid
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from ketamine_sim.experiments.analysis import Run, load_run
from ketamine_sim.experiments.analysis.runs import _group_name
from ketamine_sim.experiments.files import as_new_folder

__all__ = ["spiketrains", "to_neo", "to_nwb", "to_sonata_network"]

#: Description of the NWB units table.
UNITS_DESCRIPTION = "ketamine-sim spiking neurons: one unit per simulated cell of every population"
#: NWB keywords of every export (the experiment and drug are added).
KEYWORDS = ("ketamine", "NMDA receptor", "spiking network model", "computational model", "prefrontal cortex")
#: The NWB subject of a simulation: the model, not an animal (NWB requires a subject).
SUBJECT_DESCRIPTION = (
    "A simulated cortical circuit (pyramidal, PV and SST cells; conductance-based "
    "leaky integrate-and-fire neurons), not an animal: ketamine-sim model, circuit '{circuit}', "
    "brain state '{state}', seed {seed}. Its parameters come from rodent and human data "
    "(see the config in the file's notes and seeds/ of the simulator)."
)
#: The subject's species, age and sex. The run's dosing and pharmacokinetics are human
#: (mg/kg doses of adult patients; the PK models of Domino 1984 and Kamp 2020), while the
#: circuit's constants come from rodent and primate data: ``subject=`` of `to_nwb` changes any
#: field. Age: an open-ended ISO 8601 range (adult); sex: "U" (unknown, not modelled).
SUBJECT_FIELDS = {"species": "Homo sapiens", "age": "P18Y/", "sex": "U"}
#: The spike-time resolution when the run's config has no ``circuit.dt_ms`` (s; Brian2's default step).
DEFAULT_DT_S = 1e-4


def _as_run(run: Run | str | os.PathLike) -> Run:
    """A `Run` as is, or a run folder / `results.h5` loaded with `load_run`."""
    return run if isinstance(run, Run) else load_run(run)


def _window_bounds_s(run: Run) -> np.ndarray:
    """(windows, 2) array of [start_s, stop_s) of every window, protocol time."""
    start = np.asarray(run.data.windows["start_s"], dtype=float)
    return np.column_stack([start, start + np.asarray(run.data.windows["duration_s"], dtype=float)])


def _labels(run: Run) -> list[str]:
    """Window labels (``"window <i>"`` where the run has none)."""
    labels = run.data.windows.get("label")
    return [str(x) for x in labels] if labels is not None else [f"window {i}" for i in range(run.n_windows)]


def _populations(run: Run, populations: Sequence[str] | None) -> list[str]:
    pops = list(run.populations if populations is None else populations)
    missing = [p for p in pops if p not in run.data.spikes]
    if missing:
        raise KeyError(f"populations {missing} not in the run (have {run.populations})")
    return pops


def _session_start(run: Run) -> datetime:
    """The run's start (``/provenance`` ``start_time``), timezone-aware; now (UTC) if absent."""
    text = run.data.provenance.get("start_time")
    try:
        t = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        t = None
    if t is None:
        return datetime.now(UTC)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def to_nwb(
    run: Run | str | os.PathLike,
    path: str | os.PathLike,
    populations: Sequence[str] | None = None,
    session_description: str | None = None,
    identifier: str | None = None,
    experimenter: str | Sequence[str] | None = None,
    institution: str | None = None,
    subject: dict[str, str] | None = None,
) -> pathlib.Path:
    """Write the spikes of `run` (a [`Run`][ketamine_sim.experiments.analysis.Run], a run folder or a `results.h5`) to an NWB file.

    Units table (`nwbfile.units`): one row per neuron of each population, in population
    order and node id order (silent cells included, so unit counts match the circuit), with
    `spike_times` in **seconds of protocol time**, `obs_intervals` = every window's
    [start, start + duration] in s (spikes exist only there), and the columns `population`
    and `node_id` (index within the population, as in `/spikes/<population>/node_ids`).
    The units table's `resolution` is the run's time step (`circuit.dt_ms`, in s).
    Epochs: one per window, tagged with its label. The session starts at the run's
    `/provenance` `start_time`; protocol time 0 is the timestamps' reference.
    `notes` holds the resolved config (YAML); `subject` describes the model (its
    description says it is a simulation; species, age and sex from `SUBJECT_FIELDS`,
    changed by ``subject``); `keywords`, `experiment_description`, `source_script` and
    `data_collection` (the code version) are filled from the run.

    Besides the spikes, the processing module `misc` holds the run's slow layer
    and readouts, so that the drug is seen with the spikes: one `TimeSeries` per
    `/timeline` trace (plasma and brain concentrations, NMDA block, glutamate, adenosine,
    plasticity; timestamps in s of protocol time, the unit and its explanation from
    `results.h5`), the field-potential proxy and its two currents (`field_potential_proxy`,
    `field_i_glu`, `field_i_gaba`: every window's samples in time order, nA) and the table
    `window_readouts`, one row per window with its label,
    start and duration and every per-population readout (`<population>_<readout>`; readouts
    that are NaN in every window, those of the pyramidal terminals for PV and SST cells, are
    left out).

    Parameters
    ----------
    run : Run, str or os.PathLike
        The run: a loaded [`Run`][ketamine_sim.experiments.analysis.Run], a run folder or its `results.h5`.
    path : str or os.PathLike
        The NWB file to write (its folder is created; an existing file is replaced).
    populations : sequence of str, optional
        The populations to export, in this order; None: every population of the run.
    session_description : str, optional
        NWB `session_description`; None: the experiment and drug of the run.
    identifier : str, optional
        NWB `identifier`; None: a new random UUID.
    experimenter : str or sequence of str, optional
        NWB `experimenter`, who ran the simulation ("Last, First"); None: not recorded.
    institution : str, optional
        NWB `institution`; None: not recorded.
    subject : dict of str to str, optional
        Fields of the NWB `Subject` that replace the defaults (`SUBJECT_FIELDS`, e.g.
        ``{"species": "Mus musculus", "age": "P8W/"}`` for a rodent reading of the model).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    KeyError
        If a population is not in the run.
    ResultsFileError
        If `run` is a path that does not hold a readable `results.h5`
        ([`ResultsFileError`][ketamine_sim.experiments.results.ResultsFileError], a ValueError).
    ModuleNotFoundError
        If pynwb is not installed (the `export` extra).

    Examples
    --------
    >>> from pynwb import NWBHDF5IO  # doctest: +SKIP
    >>> from ketamine_sim.experiments.export import to_nwb
    >>> path = to_nwb("outputs/my_run", "my_run.nwb", populations=["pyr"])  # doctest: +SKIP
    >>> with NWBHDF5IO(str(path), "r") as io:  # doctest: +SKIP
    ...     units = io.read().units.to_dataframe()
    ...     print(units[["population", "node_id"]].head(2))
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.misc import Units

    from ketamine_sim.experiments.files import atomic_write

    run = _as_run(run)
    pops = _populations(run, populations)
    bounds = _window_bounds_s(run)
    experiment, drug, circuit, state = (
        _group_name(run.config, g) or "?" for g in ("experiment", "drug", "circuit", "state")
    )
    provenance = run.data.provenance
    nwb = NWBFile(
        session_description=session_description or f"ketamine-sim simulation: experiment {experiment}, drug {drug}",
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=_session_start(run),
        source_script="ketamine-sim",
        source_script_file_name=str(run.path) if run.path is not None else "results.h5",
        notes=run.data.config_yaml or "",
        experiment_description=(
            f"Simulated experiment '{experiment}' with {drug} on the ketamine-sim circuit '{circuit}' "
            f"(seed {provenance.get('seed', '?')}): spiking windows inside a slow pharmacological timeline."
        ),
        keywords=[*KEYWORDS, str(experiment), str(drug)],
        data_collection=_code_version(provenance),
        experimenter=experimenter,
        institution=institution,
        subject=Subject(
            subject_id=f"ketamine-sim-{circuit}-seed{provenance.get('seed', '?')}",
            description=SUBJECT_DESCRIPTION.format(circuit=circuit, state=state, seed=provenance.get("seed", "?")),
            **{**SUBJECT_FIELDS, **(subject or {})},
        ),
    )
    labels = _labels(run)
    for (start, stop), label in zip(bounds, labels):
        nwb.add_epoch(start_time=float(start), stop_time=float(stop), tags=[label])
    nwb.units = Units(name="units", description=UNITS_DESCRIPTION, resolution=_dt_s(run))
    nwb.add_unit_column(name="population", description="population of the cell (circuit cell type)")
    nwb.add_unit_column(name="node_id", description="index of the cell within its population (SONATA node id)")
    obs = [[float(a), float(b)] for a, b in bounds]
    for pop in pops:
        t_ms, ids = run.spikes(pop)
        ids = ids.astype(np.int64)
        n = max(run.n_neurons(pop), int(ids.max()) + 1 if ids.size else 0)
        order = np.lexsort((t_ms, ids))
        t_s, ids = t_ms[order] * 1e-3, ids[order]
        cuts = np.searchsorted(ids, np.arange(n + 1))
        for node in range(n):
            nwb.add_unit(spike_times=t_s[cuts[node] : cuts[node + 1]], obs_intervals=obs, population=pop, node_id=node)
    _add_slow_layer(nwb, run, pops)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: pathlib.Path) -> None:
        with warnings.catch_warnings():  # the temp file's name ends in .tmp, not .nwb
            warnings.filterwarnings("ignore", message="The file path provided.*does not end in '.nwb'")
            with NWBHDF5IO(str(tmp), "w") as io:
                io.write(nwb)

    return atomic_write(path, write)


def _dt_s(run: Run) -> float:
    """The run's integration step in s (``circuit.dt_ms``): the spike times' resolution."""
    circuit = run.config.get("circuit")
    dt_ms = circuit.get("dt_ms") if isinstance(circuit, dict) else None
    return float(dt_ms) * 1e-3 if dt_ms else DEFAULT_DT_S


def _code_version(provenance: dict) -> str:
    """The simulator's version and commit, as recorded in ``/provenance``."""
    versions = provenance.get("versions") or {}
    parts = [f"ketamine-sim {versions.get('ketamine-sim', '?')}"]
    if provenance.get("git_commit"):
        dirty = " with uncommitted changes" if provenance.get("git_dirty") is True else ""
        parts.append(f"commit {provenance['git_commit']}{dirty}")
    parts.append(f"brian2 {versions.get('brian2', '?')}")
    return "simulated with " + ", ".join(parts)


def _add_field_potential(module, run: Run) -> None:
    """``field_potential_proxy``, ``field_i_glu`` and ``field_i_gaba``: the window samples of
    ``/field_potential`` one after another on protocol time (s), nA; nothing if not recorded."""
    from pynwb import TimeSeries

    from ketamine_sim.experiments.results import FIELD_POTENTIAL_DATASETS

    field = run.data.field_potential
    if not field:
        return
    starts = np.asarray(run.data.windows["start_s"], dtype=float)
    timestamps = (starts[:, None] + 1e-3 * np.asarray(field["time_ms"], dtype=float)[None, :]).ravel()
    for name, series in (("proxy", "field_potential_proxy"), ("i_glu", "field_i_glu"), ("i_gaba", "field_i_gaba")):
        unit, description = FIELD_POTENTIAL_DATASETS[name]
        module.add(
            TimeSeries(
                name=series,
                data=np.asarray(field[name], dtype=np.float32).ravel(),
                timestamps=timestamps,
                unit=unit,
                description=description,
                comments="ketamine-sim /field_potential: the spiking windows' samples in time order "
                "(protocol time in s; nothing between windows)",
            )
        )


def _add_slow_layer(nwb, run: Run, populations: Sequence[str]) -> None:
    """The processing module ``misc``: the timeline traces, the field potential's samples and
    the window readouts."""
    from hdmf.common import DynamicTable, VectorData
    from pynwb import TimeSeries

    from ketamine_sim.experiments.results import split_units

    module = nwb.create_processing_module(
        name="misc", description="ketamine-sim: the simulation's slow layer (timeline) and per-window readouts"
    )
    timeline, units = run.data.timeline, run.data.timeline_units
    time_s = np.asarray(timeline["time_s"], dtype=float)
    for name, values in timeline.items():
        if name == "time_s":
            continue
        unit, explanation = split_units(units.get(name, ""))
        module.add(
            TimeSeries(
                name=name,
                data=np.asarray(values, dtype=float),
                timestamps=time_s,
                unit=unit or "1",
                description=explanation or name.replace("_", " "),
                comments="ketamine-sim /timeline; time in s of protocol time",
            )
        )
    _add_field_potential(module, run)
    columns = [
        VectorData(name="label", description="window label", data=_labels(run)),
        VectorData(name="start_s", description="window start (s, protocol time)", data=run.data.windows["start_s"]),
        VectorData(name="duration_s", description="window duration (s)", data=run.data.windows["duration_s"]),
    ]
    for pop in populations:
        for name, values in run.data.readouts.get(pop, {}).items():
            if np.issubdtype(np.asarray(values).dtype, np.floating) and np.all(np.isnan(values)):
                continue  # not measured for this population (the pyramidal terminals' readouts)
            unit, explanation = split_units(run.data.readout_units.get(name, ""))
            text = f"{pop} {name.replace('_', ' ')} ({unit or '1'}{'; ' + explanation if explanation else ''})"
            columns.append(VectorData(name=f"{pop}_{name}", description=text, data=np.asarray(values)))
    module.add(
        DynamicTable(
            name="window_readouts",
            description="per-window readouts of every population (ketamine-sim /readouts)",
            columns=columns,
        )
    )


def spiketrains(run: Run | str | os.PathLike, population: str, window: int, n_neurons: int | None = None) -> list:
    """One `neo.SpikeTrain` per neuron of `population` in `window` (silent cells: empty trains).

    Times in ms of protocol time; `t_start`/`t_stop` = the window's start and end (spikes
    lie in [t_start, t_stop)). Each train is annotated with `population`, `node_id`,
    `window` and `label`.

    Parameters
    ----------
    run : Run, str or os.PathLike
        The run: a loaded [`Run`][ketamine_sim.experiments.analysis.Run], a run folder or its `results.h5`.
    population : str
        The population (`"pyr"`, `"pv"`, `"sst"`).
    window : int
        Index of the spiking window, in [0, number of windows).
    n_neurons : int, optional
        Number of trains; None: [`Run.n_neurons`][ketamine_sim.experiments.analysis.Run.n_neurons] (the
        config's cell count).

    Returns
    -------
    list of neo.SpikeTrain
        `n_neurons` trains, in node id order, times in ms.

    Raises
    ------
    KeyError
        If `population` is not in the run.
    IndexError
        If `window` is out of range.
    ValueError
        If a spiking node id is >= `n_neurons`.
    ModuleNotFoundError
        If neo is not installed (the `export` extra).

    Examples
    --------
    Spike counts and rates (Hz) of the pyramidal cells in window 1 with Elephant:

    >>> import elephant.statistics as es  # doctest: +SKIP
    >>> from ketamine_sim.experiments.export import spiketrains
    >>> trains = spiketrains("outputs/my_run", "pyr", window=1)  # doctest: +SKIP
    >>> counts = [len(st) for st in trains]  # doctest: +SKIP
    >>> rates = [es.mean_firing_rate(st).rescale("Hz") for st in trains]  # doctest: +SKIP
    """
    import neo
    import quantities as pq

    run = _as_run(run)
    _populations(run, [population])
    if not 0 <= int(window) < run.n_windows:
        raise IndexError(f"window {window} out of range: the run has {run.n_windows} windows")
    start_ms, stop_ms = run.window_bounds_ms(int(window))
    t_rel, ids = run.spikes(population, int(window))
    ids = ids.astype(np.int64)
    n = run.n_neurons(population) if n_neurons is None else int(n_neurons)
    if ids.size and int(ids.max()) >= n:
        raise ValueError(f"{population}: node id {int(ids.max())} >= n_neurons {n}")
    order = np.lexsort((t_rel, ids))
    t_abs, ids = start_ms + t_rel[order], ids[order]
    cuts = np.searchsorted(ids, np.arange(n + 1))
    label = _labels(run)[int(window)]
    return [
        neo.SpikeTrain(
            t_abs[cuts[i] : cuts[i + 1]],
            units=pq.ms,
            t_start=start_ms * pq.ms,
            t_stop=stop_ms * pq.ms,
            name=f"{population} {i}",
            population=population,
            node_id=i,
            window=int(window),
            label=label,
        )
        for i in range(n)
    ]


def to_neo(run: Run | str | os.PathLike, populations: Sequence[str] | None = None):
    """The spikes of `run` as a `neo.Block`: one `Segment` per window (`name` = its label,
    annotations `window`, `start_s`, `duration_s`), holding
    [`spiketrains`][ketamine_sim.experiments.export.spiketrains] of every population.

    Parameters
    ----------
    run : Run, str or os.PathLike
        The run: a loaded [`Run`][ketamine_sim.experiments.analysis.Run], a run folder or its `results.h5`.
    populations : sequence of str, optional
        The populations to include; None: every population of the run.

    Returns
    -------
    neo.Block
        One `Segment` per window, each with one `SpikeTrain` per neuron of each population
        (times in ms of protocol time); annotated with the run's `seed`.

    Raises
    ------
    KeyError
        If a population is not in the run.
    ModuleNotFoundError
        If neo is not installed (the `export` extra).

    Examples
    --------
    Select one population of one window:

    >>> from ketamine_sim.experiments.export import to_neo
    >>> block = to_neo("outputs/my_run")  # doctest: +SKIP
    >>> pyr = block.segments[1].filter(population="pyr", objects="SpikeTrain")  # doctest: +SKIP
    """
    import neo

    run = _as_run(run)
    pops = _populations(run, populations)
    block = neo.Block(name=str(run.path) if run.path is not None else "ketamine-sim run", seed=run.seed)
    for w, label in enumerate(_labels(run)):
        seg = neo.Segment(
            name=label,
            window=w,
            start_s=float(run.data.windows["start_s"][w]),
            duration_s=float(run.data.windows["duration_s"][w]),
        )
        for pop in pops:
            seg.spiketrains.extend(spiketrains(run, pop, w))
        block.segments.append(seg)
    block.check_relationships()
    return block


# --------------------------------------------------------------------------- SONATA network
#: SONATA's ``model_template`` of each cell type and of each synapse kind (the equations are
#: the simulator's own, written out in ``components/``; another simulator maps them to its models).
SONATA_CELL_MODEL = "ketamine_sim:conductance_lif"
SONATA_SYNAPSE_MODEL = {"pyr": "ketamine_sim:ampa_nmda", "pv": "ketamine_sim:gaba_a", "sst": "ketamine_sim:gaba_a"}


def to_sonata_network(run: Run | str | os.PathLike, folder: str | os.PathLike) -> pathlib.Path:
    """Write a run's circuit as SONATA network files.

    The cells become one node population per cell type (``pyr``, ``pv``, ``sst``; node ids =
    the node ids of the run's spike report), the synapses of the run's first window one edge
    population per pathway (``pv_to_pyr``: ``source_node_id`` in ``pv``, ``target_node_id``
    in ``pyr``) with ``syn_weight`` (nS: one presynaptic spike's conductance step, AMPA at
    baseline release for pyramidal synapses) and ``delay`` (ms), indexed for fast lookup.

    Parameters
    ----------
    run : Run, str or os.PathLike
        A run stored with ``output.connectivity=true`` (a `Run`, a run folder or its
        ``results.h5``).
    folder : str or os.PathLike
        The folder to create: ``circuit_config.json``, ``network/nodes.h5``,
        ``network/node_types.csv``, ``network/edges.h5``, ``network/edge_types.csv`` and each
        cell type's constants in ``components/cell_models/<type>.json``.

    Returns
    -------
    pathlib.Path
        ``folder/circuit_config.json`` (``libsonata.CircuitConfig.from_file`` reads it).

    Raises
    ------
    ValueError
        The run holds no synapses (it ran without ``output.connectivity=true``).
    FileExistsError
        ``folder`` exists. The files are written into a temporary folder beside it first, so
        that an interrupted export leaves nothing.

    Examples
    --------
    >>> from ketamine_sim.experiments import export
    >>> export.to_sonata_network("outputs/my_run", "my_run_circuit")  # doctest: +SKIP
    PosixPath('my_run_circuit/circuit_config.json')
    """
    import json
    import shutil
    import tempfile

    from omegaconf import OmegaConf

    from ketamine_sim.experiments.config import circuit_structure

    run, folder = _as_run(run), pathlib.Path(folder)
    if not run.data.connectivity:
        raise ValueError(f"{run.path}: no synapses stored; rerun with output.connectivity=true to export its circuit")
    if folder.exists():
        raise FileExistsError(f"{folder} exists; choose a new folder")
    structure = circuit_structure(OmegaConf.create(run.config))
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (work / "network").mkdir()
        (work / "components" / "cell_models").mkdir(parents=True)
        _sonata_nodes(work, structure)
        _sonata_edges(work, run.data.connectivity, structure)
        config = {
            "manifest": {
                "$BASE_DIR": ".",
                "$NETWORK_DIR": "$BASE_DIR/network",
                "$COMPONENTS_DIR": "$BASE_DIR/components",
            },
            "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models"},
            "networks": {
                "nodes": [
                    {
                        "nodes_file": "$NETWORK_DIR/nodes.h5",
                        "node_types_file": "$NETWORK_DIR/node_types.csv",
                        "populations": {pop: {"type": "point_neuron"} for pop in structure.counts},
                    }
                ],
                "edges": [
                    {
                        "edges_file": "$NETWORK_DIR/edges.h5",
                        "edge_types_file": "$NETWORK_DIR/edge_types.csv",
                        "populations": {name: {"type": "chemical"} for name in sorted(run.data.connectivity)},
                    }
                ],
            },
        }
        (work / "circuit_config.json").write_text(json.dumps(config, indent=2) + "\n")
        as_new_folder(work)
        os.replace(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder / "circuit_config.json"


def _sonata_header(f) -> None:
    """SONATA's file attributes: its magic number and the format version."""
    f.attrs["magic"] = np.uint32(0x0A7A)
    f.attrs["version"] = np.array([0, 1], dtype=np.uint32)


def _sonata_nodes(work: pathlib.Path, structure) -> None:
    """``nodes.h5`` (one population per cell type), ``node_types.csv`` and each type's constants."""
    import dataclasses
    import json

    import h5py

    rows = ["node_type_id pop_name ei model_type model_template dynamics_params"]
    with h5py.File(work / "network" / "nodes.h5", "w") as f:
        _sonata_header(f)
        for type_id, pop in enumerate(structure.counts, start=100):
            n = structure.counts[pop]
            g = f.create_group(f"nodes/{pop}")
            g.create_dataset("node_id", data=np.arange(n, dtype=np.int64))  # BMTK reads it; libsonata implies it
            g.create_dataset("node_type_id", data=np.full(n, type_id, dtype=np.int64))
            g.create_dataset("node_group_id", data=np.zeros(n, dtype=np.int64))
            g.create_dataset("node_group_index", data=np.arange(n, dtype=np.int64))
            g.create_group("0")
            ei = "e" if pop == "pyr" else "i"
            rows.append(f"{type_id} {pop} {ei} point_neuron {SONATA_CELL_MODEL} {pop}.json")
            constants = dataclasses.asdict(structure.cells[pop])
            (work / "components" / "cell_models" / f"{pop}.json").write_text(json.dumps(constants, indent=2) + "\n")
    (work / "network" / "node_types.csv").write_text("\n".join(rows) + "\n")


def _sonata_edges(work: pathlib.Path, connectivity: dict, structure) -> None:
    """``edges.h5`` (one population per pathway, with syn_weight in nS and delay in ms, indexed)
    and ``edge_types.csv``."""
    import h5py
    import libsonata

    delay_ms = float(structure.synapses.delay_ms)
    rows = ["edge_type_id pathway model_template"]
    path = work / "network" / "edges.h5"
    with h5py.File(path, "w") as f:
        _sonata_header(f)
        for type_id, (name, synapses) in enumerate(sorted(connectivity.items()), start=100):
            pre, _, post = name.partition("_to_")
            n = len(synapses["source_ids"])
            g = f.create_group(f"edges/{name}")
            source = g.create_dataset("source_node_id", data=np.asarray(synapses["source_ids"], dtype=np.uint64))
            source.attrs["node_population"] = pre
            target = g.create_dataset("target_node_id", data=np.asarray(synapses["target_ids"], dtype=np.uint64))
            target.attrs["node_population"] = post
            g.create_dataset("edge_type_id", data=np.full(n, type_id, dtype=np.int64))
            g.create_dataset("edge_group_id", data=np.zeros(n, dtype=np.int64))
            g.create_dataset("edge_group_index", data=np.arange(n, dtype=np.int64))
            group = g.create_group("0")
            group.create_dataset("syn_weight", data=np.asarray(synapses["weight_nS"], dtype=np.float64))
            group.create_dataset("delay", data=np.full(n, delay_ms))
            rows.append(f"{type_id} {name} {SONATA_SYNAPSE_MODEL[pre]}")
    for name in sorted(connectivity):
        pre, _, post = name.partition("_to_")
        libsonata.EdgePopulation.write_indices(str(path), name, structure.counts[pre], structure.counts[post])
    with h5py.File(path, "r+") as f:  # BMTK's reader names the lookup node_id_to_range: the same data, linked
        for name in connectivity:
            for index in f[f"edges/{name}/indices"].values():
                index["node_id_to_range"] = index["node_id_to_ranges"]
    (work / "network" / "edge_types.csv").write_text("\n".join(rows) + "\n")
