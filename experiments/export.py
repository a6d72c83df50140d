"""A run's spikes for other tools: NWB files (pynwb) and Neo `SpikeTrain`s (Elephant).

* [`to_nwb`][experiments.export.to_nwb] writes an NWB 2 file: one unit per neuron of every
  population, spike times in seconds of protocol time, each unit's observation intervals =
  the spiking windows, the windows as epochs. Any NWB reader (pynwb, MatNWB, NWB Widgets)
  opens it.
* [`to_neo`][experiments.export.to_neo] builds a `neo.Block` with one `Segment` per window
  and one `SpikeTrain` per neuron in each (ms, `t_start`/`t_stop` = the window's bounds);
  [`spiketrains`][experiments.export.spiketrains] gives the trains of one population in one
  window, ready for `elephant.statistics` and friends.

Both need the optional extra `export` (`pip install -e ".[export]"`: pynwb, neo);
[Export](../export.md) describes the mapping.

Examples
--------
>>> from experiments import export
>>> export.to_nwb("outputs/my_run", "my_run.nwb")  # doctest: +SKIP
PosixPath('my_run.nwb')
>>> block = export.to_neo("outputs/my_run")  # doctest: +SKIP
>>> trains = export.spiketrains("outputs/my_run", "pyr", window=1)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from experiments.analysis import Run, load_run
from experiments.analysis.runs import _group_name

__all__ = ["spiketrains", "to_neo", "to_nwb"]

#: Description of the NWB units table.
UNITS_DESCRIPTION = "ketamine-sim spiking neurons: one unit per simulated cell of every population"


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
) -> pathlib.Path:
    """Write the spikes of `run` (a [`Run`][experiments.analysis.Run], a run folder or a `results.h5`) to an NWB file.

    Units table (`nwbfile.units`): one row per neuron of each population, in population
    order and node id order (silent cells included, so unit counts match the circuit), with
    `spike_times` in **seconds of protocol time**, `obs_intervals` = every window's
    [start, start + duration] in s (spikes exist only there), and the columns `population`
    and `node_id` (index within the population, as in `/spikes/<population>/node_ids`).
    Epochs: one per window, tagged with its label. The session starts at the run's
    `/provenance` `start_time`; protocol time 0 is the timestamps' reference.
    `notes` holds the resolved config (YAML).

    Parameters
    ----------
    run : Run, str or os.PathLike
        The run: a loaded [`Run`][experiments.analysis.Run], a run folder or its `results.h5`.
    path : str or os.PathLike
        The NWB file to write (its folder is created; an existing file is replaced).
    populations : sequence of str, optional
        The populations to export, in this order; None: every population of the run.
    session_description : str, optional
        NWB `session_description`; None: the experiment and drug of the run.
    identifier : str, optional
        NWB `identifier`; None: a new random UUID.

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
        ([`ResultsFileError`][experiments.results.ResultsFileError], a ValueError).
    ModuleNotFoundError
        If pynwb is not installed (the `export` extra).

    Examples
    --------
    >>> from pynwb import NWBHDF5IO  # doctest: +SKIP
    >>> from experiments.export import to_nwb
    >>> path = to_nwb("outputs/my_run", "my_run.nwb", populations=["pyr"])  # doctest: +SKIP
    >>> with NWBHDF5IO(str(path), "r") as io:  # doctest: +SKIP
    ...     units = io.read().units.to_dataframe()
    ...     print(units[["population", "node_id"]].head(2))
    """
    from pynwb import NWBHDF5IO, NWBFile

    run = _as_run(run)
    pops = _populations(run, populations)
    bounds = _window_bounds_s(run)
    experiment, drug = (_group_name(run.config, g) or "?" for g in ("experiment", "drug"))
    nwb = NWBFile(
        session_description=session_description or f"ketamine-sim simulation: experiment {experiment}, drug {drug}",
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=_session_start(run),
        source_script="ketamine-sim",
        source_script_file_name=str(run.path) if run.path is not None else "results.h5",
        notes=run.data.config_yaml or "",
    )
    labels = _labels(run)
    for (start, stop), label in zip(bounds, labels):
        nwb.add_epoch(start_time=float(start), stop_time=float(stop), tags=[label])
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
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def spiketrains(run: Run | str | os.PathLike, population: str, window: int, n_neurons: int | None = None) -> list:
    """One `neo.SpikeTrain` per neuron of `population` in `window` (silent cells: empty trains).

    Times in ms of protocol time; `t_start`/`t_stop` = the window's start and end (spikes
    lie in [t_start, t_stop)). Each train is annotated with `population`, `node_id`,
    `window` and `label`.

    Parameters
    ----------
    run : Run, str or os.PathLike
        The run: a loaded [`Run`][experiments.analysis.Run], a run folder or its `results.h5`.
    population : str
        The population (`"pyr"`, `"pv"`, `"sst"`).
    window : int
        Index of the spiking window, in [0, number of windows).
    n_neurons : int, optional
        Number of trains; None: [`Run.n_neurons`][experiments.analysis.Run.n_neurons] (the
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
    >>> from experiments.export import spiketrains
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
    [`spiketrains`][experiments.export.spiketrains] of every population.

    Parameters
    ----------
    run : Run, str or os.PathLike
        The run: a loaded [`Run`][experiments.analysis.Run], a run folder or its `results.h5`.
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

    >>> from experiments.export import to_neo
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
