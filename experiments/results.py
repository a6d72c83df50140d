"""Writer and reader of one run's ``results.h5`` (layout: [Output format](../output_format.md)).

The spikes are a SONATA spike report at the file root (``/spikes/<population>``),
so ``libsonata.SpikeReader(path)`` and BMTK read the file as is. The file is
written atomically ([`atomic_write`][ketamine_sim.experiments.files.atomic_write]: a temp file in the
same folder, flushed to disk, then ``os.replace``), the helper every writer of a run's files
uses.

This is the only module that opens ``results.h5`` with h5py: the rest of the package reads
through [`read_results`][ketamine_sim.experiments.results.read_results],
[`read_config`][ketamine_sim.experiments.results.read_config] and
[`read_summary`][ketamine_sim.experiments.results.read_summary].

Examples
--------
Write a small run by hand and read it back (spike times in ms of protocol time, window
starts and durations in s):

>>> import pathlib, tempfile
>>> import numpy as np
>>> from ketamine_sim.experiments.results import RunData, read_results, spikes_in_window, write_results
>>> data = RunData(
...     spikes={"pyr": (np.array([120.0, 1250.0, 1900.0]), np.array([3, 0, 3]))},
...     windows={"start_s": np.array([0.0, 1.0]), "duration_s": np.array([1.0, 1.0])},
...     window_units={"start_s": "s", "duration_s": "s"},
...     timeline={"time_s": np.array([0.0, 1.0, 2.0])},
...     timeline_units={"time_s": "s"},
...     readouts={"pyr": {"rate": np.array([0.25, 0.5])}},
...     readout_units={"rate": "Hz"},
...     config_yaml="seed: 1\\n",
...     provenance={"seed": 1},
... )
>>> path = write_results(pathlib.Path(tempfile.mkdtemp()) / "results.h5", data)
>>> back = read_results(path)
>>> back.readouts["pyr"]["rate"]
array([0.25, 0.5 ])
>>> spikes_in_window(back, "pyr", 1)  # times from the start of window 1 (ms), node ids
(array([250., 900.]), array([0, 3], dtype=uint64))
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import h5py
import numpy as np
import yaml

from ketamine_sim.experiments.files import atomic_write
from ketamine_sim.experiments.simulation.readouts import in_window

FORMAT = "ketamine-sim results"
FORMAT_VERSION = 1
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype=np.uint8)
_STR = h5py.string_dtype("utf-8")


def split_units(text: str) -> tuple[str, str]:
    """A unit as the model writes it, ``"UNIT"`` or ``"UNIT (explanation)"``, as the unit
    alone (parseable by units libraries: pint, UDUNITS) and the explanation.

    Parameters
    ----------
    text : str
        E.g. ``"Hz"``, ``"1 (relative to baseline)"``.

    Returns
    -------
    (str, str)
        The unit and the explanation ('' if none). ``results.h5`` stores them as the
        ``units`` and ``description`` attributes of a dataset.

    Examples
    --------
    >>> split_units("1 (relative to baseline)")
    ('1', 'relative to baseline')
    >>> split_units("pC/mV")
    ('pC/mV', '')
    """
    unit, _, rest = text.partition(" (")
    if rest.endswith(")"):
        return unit.strip(), rest[:-1].strip()
    return text.strip(), ""


def _set_units(ds: h5py.Dataset, text: str) -> None:
    """The ``units`` attribute (and ``description`` where the text explains the unit)."""
    unit, description = split_units(text)
    ds.attrs["units"] = unit
    if description:
        ds.attrs["description"] = description


def _units_text(ds: h5py.Dataset) -> str | None:
    """The model's unit text of a dataset: ``units`` with ``description`` in brackets."""
    unit = _attr_text(ds.attrs["units"])
    description = _attr_text(ds.attrs.get("description", ""))
    return f"{unit} ({description})" if unit is not None and description else unit


@dataclass
class RunData:
    """Everything one run writes, as numpy arrays and plain Python values.

    Each field is one group of ``results.h5`` ([Output format](../output_format.md) lists
    every dataset and its unit); [`write_results`][ketamine_sim.experiments.results.write_results] checks
    and writes it, [`read_results`][ketamine_sim.experiments.results.read_results] returns it.

    Attributes
    ----------
    spikes : dict of str to (numpy.ndarray, numpy.ndarray)
        ``/spikes/<population>``: ``(timestamps, node_ids)`` of shape (n_spikes,) each;
        times in ms of protocol time (not from the window start), ids non-negative integers.
        Written sorted by time, ties by node id.
    windows : dict of str to numpy.ndarray
        ``/windows/<column>``, one row per window (shape (n_windows,)); ``start_s`` and
        ``duration_s`` (s) are required, ``label`` and the conditions
        (``brain_<species>_uM``, ...) as the experiment writes them.
    window_units : dict of str to str
        Unit of each window column (every numeric column needs one).
    timeline : dict of str to numpy.ndarray
        ``/timeline/<name>``: the slow layer's traces, first axis aligned with the required
        ``time_s`` (s, protocol time).
    timeline_units : dict of str to str
        Unit of each timeline trace.
    readouts : dict of str to dict of str to numpy.ndarray
        ``/readouts/<population>/<name>``: first axis one value per window (``rate`` in Hz,
        ``cv_isi``, ``nmda_blocked``, ...; ``train_release`` has shape (n_windows, pulses)).
    readout_units : dict of str to str
        Unit of each readout name (shared by the populations).
    config_yaml : str
        ``/config``: the resolved (Hydra) config as YAML text.
    provenance : dict
        ``/provenance``: str, bool, int or float values, nested dicts as subgroups
        (``seed``, ``git_commit``, ``versions``, ``wall_time_s``, ...).
    synapses : dict of str to numpy.ndarray or None
        ``/synapses/pyr_to_pyr`` (plasticity runs): ``source_ids`` and ``target_ids``
        (shape (n_sites,), presynaptic and postsynaptic pyramidal cell of each potential
        E->E site), ``present`` (bool, shape (n_windows, n_sites)) and ``weight_scale``
        (shape (n_windows, n_pyr), relative to the healthy weight); None if not recorded.
    connectivity : dict of str to dict of str to numpy.ndarray
        ``/connectivity/<pathway>`` (``output.connectivity``): the first window's synapses of
        each pathway (``pv_to_pyr``), ``source_ids`` and ``target_ids`` (cell indices in the
        populations of the spikes) and ``weight`` (nS, one presynaptic spike's conductance
        step), shape (n_synapses,) each; pyr->pyr only the spine sites present. Empty if not
        recorded.
    field_potential : dict of str to numpy.ndarray
        ``/field_potential``: ``time_ms`` (shape (n_samples,), ms from each window's start:
        the centres of the sampling bins) and ``i_glu``, ``i_gaba`` and ``proxy`` (nA, shape
        (n_windows, n_samples)): the summed synaptic currents of the pyramidal cells and the
        field-potential proxy made of them
        ([`field_potential`][ketamine_sim.circuits.spiking.field_potential]). Empty if not recorded.
    """

    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    windows: dict[str, np.ndarray] = field(default_factory=dict)
    window_units: dict[str, str] = field(default_factory=dict)
    timeline: dict[str, np.ndarray] = field(default_factory=dict)
    timeline_units: dict[str, str] = field(default_factory=dict)
    readouts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    readout_units: dict[str, str] = field(default_factory=dict)
    config_yaml: str = ""
    provenance: dict = field(default_factory=dict)
    synapses: dict[str, np.ndarray] | None = None
    connectivity: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    field_potential: dict[str, np.ndarray] = field(default_factory=dict)


#: ``/field_potential`` datasets: name -> (units, description).
FIELD_POTENTIAL_DATASETS: dict[str, tuple[str, str]] = {
    "time_ms": ("ms", "sample times from each window's start (centres of the sampling bins)"),
    "i_glu": ("nA", "AMPA + NMDA current summed over the pyramidal cells, membrane convention (inward < 0)"),
    "i_gaba": ("nA", "GABA_A current summed over the pyramidal cells, membrane convention (outward > 0)"),
    "proxy": (
        "nA",
        "field-potential proxy, the reference weighted sum i_glu(t - 6 ms) - 1.65 i_gaba(t) of Mazzoni et al. "
        "2015 (NaN for the first 6 ms of a window); proportional to the LFP",
    ),
}


def _is_str(a: np.ndarray) -> bool:
    return a.dtype.kind in "UO"


def _name(where: str, name) -> None:
    if not isinstance(name, str) or not name or "/" in name or name == ".":
        raise ValueError(f"{where}: invalid name {name!r}")


def _column(where: str, name: str, values, units: dict[str, str], length: int | None):
    """Validate one table column; return (array, units)."""
    _name(where, name)
    a = np.asarray(values)
    if a.ndim == 0:
        raise ValueError(f"{where}/{name}: must be an array, got a scalar")
    if length is not None and len(a) != length:
        raise ValueError(f"{where}/{name}: expected {length} rows, got shape {a.shape}")
    if _is_str(a) and not all(isinstance(v, str) for v in a.ravel()):
        raise ValueError(f"{where}/{name}: object arrays must hold only str")
    if name not in units and not _is_str(a):
        raise ValueError(f"{where}/{name}: no units given")
    return a, units.get(name, "")


def _validate(data: RunData) -> dict:
    """Check ``data`` and return {hdf5 path: (array, units)} for the tables."""
    out = {}
    for key in ("start_s", "duration_s"):
        if key not in data.windows:
            raise ValueError(f"windows: missing required column {key!r}")
    n = _column("windows", "start_s", data.windows["start_s"], data.window_units, None)[0].shape[0]
    for name, v in data.windows.items():
        out[f"windows/{name}"] = _column("windows", name, v, data.window_units, n)
    if "time_s" not in data.timeline:
        raise ValueError("timeline: missing required dataset 'time_s'")
    nt = _column("timeline", "time_s", data.timeline["time_s"], data.timeline_units, None)[0].shape[0]
    for name, v in data.timeline.items():
        out[f"timeline/{name}"] = _column("timeline", name, v, data.timeline_units, nt)
    for pop, table in data.readouts.items():
        _name("readouts", pop)
        for name, v in table.items():
            out[f"readouts/{pop}/{name}"] = _column(f"readouts/{pop}", name, v, data.readout_units, n)
    for pop, (t, ids) in data.spikes.items():
        _name("spikes", pop)
        t, ids = np.asarray(t), np.asarray(ids)
        if t.ndim != 1 or ids.ndim != 1 or len(t) != len(ids):
            raise ValueError(f"spikes/{pop}: timestamps {t.shape} and node_ids {ids.shape} differ")
        if ids.size and (ids.dtype.kind not in "ui" or ids.min() < 0):
            raise ValueError(f"spikes/{pop}: node_ids must be non-negative integers")
    if data.synapses is not None:
        present = np.asarray(data.synapses["present"])
        sites = len(data.synapses["source_ids"])
        if len(data.synapses["target_ids"]) != sites or present.shape != (n, sites):
            raise ValueError(
                f"synapses: present must be (windows, sites) = ({n}, {sites}), got {present.shape}, "
                "and source_ids and target_ids must have one entry per site"
            )
        if np.asarray(data.synapses["weight_scale"]).shape[0] != n:
            raise ValueError("synapses/weight_scale: needs one row per window")
    for name, synapses in data.connectivity.items():
        lengths = {np.shape(synapses[key]) for key in ("source_ids", "target_ids", "weight_nS")}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise ValueError(f"connectivity/{name}: source_ids, target_ids and weight_nS must be 1-D of one length")
    if data.field_potential:
        _check_field_potential(data.field_potential, n)
    if not isinstance(data.config_yaml, str):
        raise ValueError("config_yaml: must be str")
    _check_provenance(data.provenance, "provenance")
    return out


def _check_field_potential(field_potential: dict, n_windows: int) -> None:
    if set(field_potential) != set(FIELD_POTENTIAL_DATASETS):
        raise ValueError(
            f"field_potential: needs exactly {sorted(FIELD_POTENTIAL_DATASETS)}, got {sorted(field_potential)}"
        )
    n_samples = np.shape(field_potential["time_ms"])
    for name in ("i_glu", "i_gaba", "proxy"):
        if np.shape(field_potential[name]) != (n_windows, *n_samples) or len(n_samples) != 1:
            raise ValueError(
                f"field_potential/{name}: must be (windows, samples) = ({n_windows}, {n_samples[0] if n_samples else '?'}), "
                f"got {np.shape(field_potential[name])}"
            )


def _check_provenance(d: dict, where: str) -> None:
    for k, v in d.items():
        if isinstance(v, dict):
            _check_provenance(v, f"{where}/{k}")
        elif not isinstance(v, (str, bool, int, float, np.generic)) or "/" in str(k):
            raise ValueError(f"{where}/{k}: unsupported key or value type {type(v).__name__}")


def _write_provenance(group: h5py.Group, d: dict) -> None:
    for k, v in d.items():
        if isinstance(v, dict):
            _write_provenance(group.create_group(str(k), track_order=True), v)
        else:
            group.attrs[str(k)] = v


def _write(f: h5py.File, data: RunData, tables: dict) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    intervals_ms = _intervals_ms(data.windows)
    spikes = f.create_group("spikes", track_order=True)
    for pop, (t, ids) in data.spikes.items():
        t, ids = np.asarray(t, np.float64), np.asarray(ids).astype(np.uint64)
        order = np.lexsort((ids, t))  # by time, ties by node id (stable)
        g = spikes.create_group(pop)
        g.attrs.create("sorting", 2, dtype=SORTING)
        g.create_dataset("timestamps", data=t[order]).attrs["units"] = "ms"
        g.create_dataset("node_ids", data=ids[order])
        _write_intervals(g, intervals_ms)
    for grp in ("windows", "timeline", "readouts"):
        f.create_group(grp, track_order=True)
    for pop in data.readouts:
        f["readouts"].create_group(pop, track_order=True)
    for path, (a, units) in tables.items():
        parent = f.require_group(path.rsplit("/", 1)[0])
        ds = parent.create_dataset(
            path.rsplit("/", 1)[1], data=a.astype(object) if _is_str(a) else a, dtype=_STR if _is_str(a) else None
        )
        _set_units(ds, units)
    if data.synapses is not None:
        _write_synapses(f.create_group("synapses").create_group("pyr_to_pyr"), data.synapses)
    if data.connectivity:
        _write_connectivity(f.create_group("connectivity", track_order=True), data.connectivity)
    if data.field_potential:
        _write_field_potential(f.create_group("field_potential", track_order=True), data.field_potential)
    f.create_dataset("config", data=data.config_yaml, dtype=_STR)
    _write_provenance(f.create_group("provenance", track_order=True), data.provenance)


#: The ``description`` of ``/spikes/<population>/simulated_intervals``.
INTERVALS_DESCRIPTION = (
    "[start, stop) of every simulated window in ms of protocol time (one row per window of /windows). "
    "Spikes exist only inside these intervals: a rate is a count divided by their durations, "
    "not by the span of the timestamps (the slow layer between windows has no spikes)."
)


def _intervals_ms(windows: dict) -> np.ndarray:
    """(windows, 2): every window's [start, stop) in ms of protocol time."""
    start_ms = 1e3 * np.asarray(windows["start_s"], dtype=np.float64)
    stop_ms = start_ms + 1e3 * np.asarray(windows["duration_s"], dtype=np.float64)
    return np.column_stack([start_ms, stop_ms]).reshape(-1, 2)


def _write_intervals(group: h5py.Group, intervals_ms: np.ndarray) -> None:
    """``simulated_intervals`` (windows, 2) in ms beside a population's spikes (see
    `INTERVALS_DESCRIPTION`), where SONATA readers of the spikes find it."""
    ds = group.create_dataset("simulated_intervals", data=intervals_ms)
    ds.attrs["units"] = "ms"
    ds.attrs["description"] = INTERVALS_DESCRIPTION


def _write_synapses(group: h5py.Group, synapses: dict) -> None:
    """Sites in the compiled synapse order; per window which are present, and each pyramidal
    cell's E->E weight scale (relative to the healthy weight)."""
    group.create_dataset("source_ids", data=np.asarray(synapses["source_ids"], np.uint64))
    group.create_dataset("target_ids", data=np.asarray(synapses["target_ids"], np.uint64))
    present = np.asarray(synapses["present"], dtype=np.uint8)
    group.create_dataset(
        "present", data=present, compression="gzip", chunks=(1, present.shape[1]) if present.size else None
    )
    _set_units(group["present"], "1 (window x site)")
    weight_scale = group.create_dataset("weight_scale", data=np.asarray(synapses["weight_scale"], np.float64))
    _set_units(weight_scale, "1 (window x pyramidal cell, relative to healthy)")


def _write_connectivity(group: h5py.Group, connectivity: dict) -> None:
    """Every pathway's synapses: presynaptic and postsynaptic cell and weight (nS)."""
    for name, synapses in connectivity.items():
        _name("connectivity", name)
        g = group.create_group(name)
        g.create_dataset("source_ids", data=np.asarray(synapses["source_ids"], np.uint64), compression="gzip")
        g.create_dataset("target_ids", data=np.asarray(synapses["target_ids"], np.uint64), compression="gzip")
        weight = g.create_dataset("weight", data=np.asarray(synapses["weight_nS"], np.float64), compression="gzip")
        _set_units(weight, "nS")


def _write_field_potential(group: h5py.Group, field_potential: dict) -> None:
    """The summed currents and the proxy, float32 (a 2-s window: 2000 samples each)."""
    for name, (units, description) in FIELD_POTENTIAL_DATASETS.items():
        dtype = np.float64 if name == "time_ms" else np.float32
        ds = group.create_dataset(name, data=np.asarray(field_potential[name], dtype=dtype))
        ds.attrs["units"] = units
        ds.attrs["description"] = description


def write_results(path: str | os.PathLike, data: RunData) -> pathlib.Path:
    """Validate ``data`` and write it atomically to ``path`` as a ``results.h5``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder is created if missing. An existing file is replaced.
    data : RunData
        The run. Spike times are written as float64 ms, node ids as uint64, tables with
        their ``units`` attribute.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        ``data`` is inconsistent (naming the field: a required column missing, a column
        without a unit or of the wrong length, spike arrays of different lengths, negative
        node ids, a provenance value that HDF5 attributes cannot hold), raised before
        anything is written.
    OSError
        The file cannot be written. On this or any other exception, KeyboardInterrupt
        included, the temp file is removed and ``path`` is untouched
        ([`atomic_write`][ketamine_sim.experiments.files.atomic_write]).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> bad = RunData(windows={"start_s": np.array([0.0])}, window_units={"start_s": "s"})
    >>> write_results(pathlib.Path(tempfile.mkdtemp()) / "results.h5", bad)
    Traceback (most recent call last):
    ...
    ValueError: windows: missing required column 'duration_s'
    """
    path = pathlib.Path(path)
    tables = _validate(data)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: pathlib.Path) -> None:
        with h5py.File(tmp, "w", track_order=True) as f:
            _write(f, data, tables)

    return atomic_write(path, write)


class ResultsFileError(ValueError):
    """A ``results.h5`` that cannot be read (a ValueError).

    Parameters
    ----------
    path : str or os.PathLike
        The file (or folder) at fault; kept as the ``path`` attribute (a ``pathlib.Path``).
    reason : str
        What is wrong with it; kept as the ``reason`` attribute, whitespace collapsed to
        one line.

    Notes
    -----
    ``str(error)`` is ``"<path>: <reason>"``. The error pickles with both arguments, so a
    worker process can report it.

    Examples
    --------
    >>> error = ResultsFileError("runs/a/results.h5", "an empty file (0 bytes):\\n truncated")
    >>> str(error)
    'runs/a/results.h5: an empty file (0 bytes): truncated'
    >>> error.reason
    'an empty file (0 bytes): truncated'
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = pathlib.Path(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):  # picklable (process pools) with both arguments
        return type(self), (self.path, self.reason)


class _Invalid(ValueError):
    """What is wrong with an open file; [`open_results`][ketamine_sim.experiments.results.open_results] adds the path."""


#: Exceptions h5py raises when it reads damaged or partly written data.
_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)
#: Groups every results file has (``/config`` is a dataset, checked on its own).
_GROUPS = ("spikes", "windows", "timeline", "readouts", "provenance")
#: dtype kinds of numeric table columns (bool, int, uint, float, complex).
_NUMERIC = "biufc"


def results_path(path: str | os.PathLike) -> pathlib.Path:
    """The results file meant by ``path``: ``path`` itself, or ``path/results.h5`` if it is a folder.

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.h5`` (which need not exist: the reader reports that) or a run folder.

    Returns
    -------
    pathlib.Path
        The file.

    Raises
    ------
    ResultsFileError
        ``path`` is a folder without a ``results.h5`` in it.

    Examples
    --------
    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> results_path(folder / "results.h5") == folder / "results.h5"
    True
    >>> results_path(folder)
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.results.ResultsFileError: ...: a folder without a results.h5 in it, not a results file
    """
    path = pathlib.Path(path)
    if path.is_dir():
        if not (path / "results.h5").exists() and not (path / "results.h5").is_symlink():
            raise ResultsFileError(path, "a folder without a results.h5 in it, not a results file")
        path = path / "results.h5"
    return path


def find_results(folder: str | os.PathLike, pattern: str = "results.h5") -> list[pathlib.Path]:
    """Every results file below a folder, including links whose target is gone.

    Parameters
    ----------
    folder : str or os.PathLike
        Where to search, recursively.
    pattern : str
        A file-name pattern as ``pathlib.Path.rglob`` takes it.

    Returns
    -------
    list of pathlib.Path
        The matching paths, sorted. Unlike ``rglob`` the list keeps symbolic links whose
        target is gone, so that a reader reports them instead of skipping them silently.

    Examples
    --------
    >>> import tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for run in ("seed=2", "seed=1"):
    ...     (root / run).mkdir()
    ...     _ = (root / run / "results.h5").write_bytes(b"")
    >>> [p.relative_to(root).as_posix() for p in find_results(root)]
    ['seed=1/results.h5', 'seed=2/results.h5']
    """
    folder = pathlib.Path(folder)
    found = set(folder.rglob(pattern))
    found |= {
        p for p in folder.rglob("*") if p.is_symlink() and not p.exists() and p.relative_to(folder).match(pattern)
    }
    return sorted(found)


def _open_hdf5(path: pathlib.Path) -> h5py.File:
    """Open ``path`` read-only; every failure is a ``ResultsFileError`` saying why."""
    try:
        path.stat()
    except FileNotFoundError:
        why = "a broken symbolic link" if path.is_symlink() else "no such file"
        raise ResultsFileError(path, f"{why} (the run did not finish, or the file was moved or deleted)") from None
    except OSError as error:
        raise ResultsFileError(path, f"cannot be reached ({error.strerror or error})") from None
    if path.is_dir():
        raise ResultsFileError(path, "a directory, not a results file")
    if not path.is_file():
        raise ResultsFileError(path, "not a regular file")
    if not os.access(path, os.R_OK):
        raise ResultsFileError(path, "no permission to read it (check the file's owner and mode)")
    if path.stat().st_size == 0:
        raise ResultsFileError(path, "an empty file (0 bytes): truncated, or not written by ketamine-sim")
    try:
        if not h5py.is_hdf5(path):
            raise ResultsFileError(path, "not an HDF5 file (no HDF5 signature): not a ketamine-sim results file")
        return h5py.File(path, "r")
    except ResultsFileError:
        raise
    except OSError as error:
        if isinstance(error, PermissionError):
            raise ResultsFileError(path, "no permission to read it (check the file's owner and mode)") from None
        if "unable to lock file" in str(error).lower():
            raise ResultsFileError(path, f"locked by another process that is writing it (h5py: {error})") from None
        raise ResultsFileError(path, f"a truncated or damaged HDF5 file (h5py: {error})") from None


def _attr_text(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _check_format(f: h5py.File) -> None:
    """The ``format`` and ``format_version`` attributes of the root."""
    if "format" not in f.attrs:
        raise _Invalid(
            f"not a ketamine-sim results file: no 'format' attribute on / (top level holds {sorted(f.keys())[:8]})"
        )
    fmt = _attr_text(f.attrs["format"])
    if fmt != FORMAT:
        raise _Invalid(
            f"not a ketamine-sim results file: its 'format' attribute is {f.attrs['format']!r}, expected {FORMAT!r}"
        )
    if "format_version" not in f.attrs:
        raise _Invalid("no 'format_version' attribute on / (a damaged or hand-made file)")
    version = f.attrs["format_version"]
    if not (isinstance(version, (int, np.integer)) and not isinstance(version, (bool, np.bool_))):
        raise _Invalid(f"'format_version' is {version!r}, expected an integer")
    if version > FORMAT_VERSION:
        raise _Invalid(
            f"written by a newer ketamine-sim (format {int(version)}, this reader knows "
            f"<= {FORMAT_VERSION}): upgrade ketamine-sim to read it"
        )
    if version < 1:
        raise _Invalid(f"'format_version' is {int(version)}, the first version is 1")


def _kind(obj) -> str:
    return "group" if isinstance(obj, h5py.Group) else "dataset" if isinstance(obj, h5py.Dataset) else "link"


def _member(parent: h5py.Group, name: str, kind: type):
    """``parent[name]``, checked to exist and to be a ``kind`` (h5py.Group or h5py.Dataset)."""
    where = f"{parent.name.rstrip('/')}/{name}"
    want = "group" if kind is h5py.Group else "dataset"
    obj = parent.get(name)
    if obj is None:
        raise _Invalid(f"missing {want} {where} (the file is incomplete or was edited)")
    if not isinstance(obj, kind):
        raise _Invalid(f"{where} is a {_kind(obj)}, expected a {want}")
    return obj


def _check_dtype(ds: h5py.Dataset, kinds: str, what: str, ndim: int | None = None) -> None:
    """``ds`` has a dtype of one of ``kinds`` (``"S"``: text) and, if given, ``ndim`` axes."""
    text = h5py.check_string_dtype(ds.dtype) is not None
    if not ((text and "S" in kinds) or (not text and ds.dtype.kind in kinds.replace("S", ""))):
        raise _Invalid(f"{ds.name} has dtype {ds.dtype}, expected {what}")
    if ndim is not None and ds.ndim != ndim:
        raise _Invalid(f"{ds.name} has shape {ds.shape}, expected {ndim} dimension(s)")
    if ndim is None and ds.ndim == 0:
        raise _Invalid(f"{ds.name} is a scalar, expected one value per row")


def _check_table(group: h5py.Group, required: tuple[str, ...]) -> None:
    for name in required:
        _check_dtype(_member(group, name, h5py.Dataset), "biuf", "numbers", ndim=1)
    for name in group:
        ds = _member(group, name, h5py.Dataset)
        _check_dtype(ds, _NUMERIC + "S", "numbers or text")
        if "units" not in ds.attrs:
            raise _Invalid(f"{ds.name} has no 'units' attribute")


def _check_layout(f: h5py.File) -> None:
    """Every group and dataset the reader needs exists, with a usable dtype (no data read)."""
    groups = {name: _member(f, name, h5py.Group) for name in _GROUPS}
    config = _member(f, "config", h5py.Dataset)
    if h5py.check_string_dtype(config.dtype) is None or config.shape != ():
        raise _Invalid(f"/config has dtype {config.dtype} and shape {config.shape}, expected one YAML text")
    for pop in groups["spikes"]:
        g = _member(groups["spikes"], pop, h5py.Group)
        _check_dtype(_member(g, "timestamps", h5py.Dataset), "iuf", "numbers (ms)", ndim=1)
        _check_dtype(_member(g, "node_ids", h5py.Dataset), "iu", "integer node ids", ndim=1)
    _check_table(groups["windows"], ("start_s", "duration_s"))
    _check_table(groups["timeline"], ("time_s",))
    for pop in groups["readouts"]:
        _check_table(_member(groups["readouts"], pop, h5py.Group), ())
    if "synapses/pyr_to_pyr" in f:
        g = _member(f["synapses"], "pyr_to_pyr", h5py.Group)
        for name, kinds in (("source_ids", "iu"), ("target_ids", "iu"), ("present", "biu"), ("weight_scale", "iuf")):
            _check_dtype(_member(g, name, h5py.Dataset), kinds, "numbers")
    for pathway in _member(f, "connectivity", h5py.Group) if "connectivity" in f else ():
        g = _member(f["connectivity"], pathway, h5py.Group)
        sizes = set()
        for name, kinds in (("source_ids", "iu"), ("target_ids", "iu"), ("weight", "iuf")):
            _check_dtype(_member(g, name, h5py.Dataset), kinds, "numbers", ndim=1)
            sizes.add(g[name].shape)
        if len(sizes) != 1:
            raise _Invalid(f"/connectivity/{pathway}: source_ids, target_ids and weight differ in length")
    if "field_potential" in f:
        g = _member(f, "field_potential", h5py.Group)
        n_samples = _member(g, "time_ms", h5py.Dataset).shape
        n_windows = f["windows/start_s"].shape[0]
        for name in FIELD_POTENTIAL_DATASETS:
            _check_dtype(_member(g, name, h5py.Dataset), "f", "floats")
            if name != "time_ms" and g[name].shape != (n_windows, *n_samples):
                raise _Invalid(
                    f"/field_potential/{name} has shape {g[name].shape}, expected (windows, samples) = "
                    f"({n_windows}, {n_samples[0] if n_samples else '?'})"
                )


@contextlib.contextmanager
def open_results(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open a ``results.h5`` (or a run folder holding one) read-only, checked (a context manager).

    The file must exist and be readable, be an HDF5 file of this format and version, and hold
    every group and dataset of [Output format](../output_format.md) with a usable dtype (no
    data is read before the body runs).

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.h5``, or a run folder holding one.

    Yields
    ------
    h5py.File
        The open file, closed when the block ends.

    Raises
    ------
    ResultsFileError
        Every fault, including h5py errors raised while the body reads damaged data, naming
        the file and the fault (see [`read_results`][ketamine_sim.experiments.results.read_results]).
    """
    path = results_path(path)
    with _open_hdf5(path) as f:
        try:
            _check_format(f)
            _check_layout(f)
            yield f
        except ResultsFileError:
            raise
        except _Invalid as error:
            raise ResultsFileError(path, str(error)) from None
        except _READ_ERRORS as error:
            raise ResultsFileError(path, f"damaged or incomplete data ({type(error).__name__}: {error})") from error


def _parse_config(text: str) -> dict:
    """The resolved config stored as ``/config``: YAML text -> dict (``{}`` if empty).

    Raises ValueError if the text is not YAML or not a mapping.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        config = yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise _Invalid(f"/config is not valid YAML ({where}{getattr(error, 'problem', None) or error})") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise _Invalid(f"/config is YAML but not a mapping of config keys (it holds a {type(config).__name__})")
    return config


def read_config(path: str | os.PathLike) -> dict:
    """The resolved config of a ``results.h5`` (or run folder), without reading its spikes.

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.h5``, or a run folder holding one.

    Returns
    -------
    dict
        ``/config`` parsed as YAML (``{}`` if empty): nested dicts of plain values, units as
        the config's key names state them.

    Raises
    ------
    ResultsFileError
        The file is checked as [`open_results`][ketamine_sim.experiments.results.open_results] checks it;
        also if ``/config`` is not YAML or not a mapping.
    """
    with open_results(path) as f:
        return _parse_config(f["config"].asstr()[()])


@dataclass
class RunSummary:
    """What a run's ``results.h5`` says without its spikes, timeline or synapses
    ([`read_summary`][ketamine_sim.experiments.results.read_summary]): enough to index a sweep.

    Attributes
    ----------
    n_windows : int
        Number of spiking windows (rows of ``/windows``).
    readouts : dict of str to dict of str to numpy.ndarray
        ``/readouts/<population>/<name>``: one value per window (first axis n_windows).
    readout_units : dict of str to str
        Unit of each readout name.
    provenance : dict
        ``/provenance`` as nested dicts of plain Python values.
    """

    n_windows: int
    readouts: dict[str, dict[str, np.ndarray]]
    readout_units: dict[str, str]
    provenance: dict


def read_summary(path: str | os.PathLike) -> RunSummary:
    """The window count, readouts and provenance of a ``results.h5`` (or run folder).

    Reads neither the spikes, the timeline nor the synapses, so it stays fast on large runs;
    the file is checked as [`open_results`][ketamine_sim.experiments.results.open_results] checks it.

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.h5``, or a run folder holding one.

    Returns
    -------
    RunSummary
        ``n_windows``, ``readouts`` (population -> name -> array of shape (n_windows,)),
        ``readout_units`` and ``provenance``.

    Raises
    ------
    ResultsFileError
        Naming the file and the fault, as [`read_results`][ketamine_sim.experiments.results.read_results] does.
    """
    with open_results(path) as f:
        n_windows = int(f["windows/start_s"].shape[0])
        readouts, readout_units = {}, {}
        for pop, group in f["readouts"].items():
            readouts[pop], units = _read_table(group)
            readout_units.update(units)
        return RunSummary(n_windows, readouts, readout_units, _read_provenance(f["provenance"]))


def _read_table(group: h5py.Group) -> tuple[dict, dict]:
    values, units = {}, {}
    for name, ds in group.items():
        if h5py.check_string_dtype(ds.dtype):
            values[name] = np.array(ds.asstr()[()], dtype=str)
        else:
            values[name] = ds[()]
        units[name] = _units_text(ds)
        if units[name] is None:
            raise _Invalid(f"{ds.name}: its 'units' attribute is {ds.attrs['units']!r}, expected text")
    return values, units


def _read_provenance(group: h5py.Group) -> dict:
    d = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in group.attrs.items()}
    d.update({k: _read_provenance(_member(group, k, h5py.Group)) for k in group})
    return d


def _read(f: h5py.File) -> RunData:
    spikes = {pop: (g["timestamps"][()], g["node_ids"][()]) for pop, g in f["spikes"].items()}
    windows, window_units = _read_table(f["windows"])
    timeline, timeline_units = _read_table(f["timeline"])
    readouts, readout_units = {}, {}
    for pop, g in f["readouts"].items():
        readouts[pop], units = _read_table(g)
        readout_units.update(units)
    synapses = None
    if "synapses/pyr_to_pyr" in f:
        g = f["synapses/pyr_to_pyr"]
        synapses = {
            "source_ids": g["source_ids"][()],
            "target_ids": g["target_ids"][()],
            "present": g["present"][()].astype(bool),
            "weight_scale": g["weight_scale"][()],
        }
    connectivity = {
        name: {"source_ids": g["source_ids"][()], "target_ids": g["target_ids"][()], "weight_nS": g["weight"][()]}
        for name, g in f.get("connectivity", {}).items()
    }
    field_potential = {
        name: np.asarray(f["field_potential"][name][()], dtype=np.float64)
        for name in (FIELD_POTENTIAL_DATASETS if "field_potential" in f else ())
    }
    return RunData(
        spikes,
        windows,
        window_units,
        timeline,
        timeline_units,
        readouts,
        readout_units,
        f["config"].asstr()[()],
        _read_provenance(f["provenance"]),
        synapses,
        connectivity,
        field_potential,
    )


def read_results(path: str | os.PathLike) -> RunData:
    """Read a ``results.h5`` (or a run folder holding one) into plain numpy/Python objects.

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.h5``, or a run folder holding one.

    Returns
    -------
    RunData
        Every group of the file: spikes (ms, protocol time), windows, timeline, readouts with
        their units, the config's YAML text, the provenance and (plasticity runs) the synapses.

    Raises
    ------
    ResultsFileError
        A ValueError naming the file and what is wrong with it: missing, unreadable, empty,
        truncated, not HDF5, not a ketamine-sim results file, written by a newer version,
        lacking a group or dataset, holding a wrong dtype, tables whose lengths disagree, or
        a ``/config`` that is not a YAML mapping.

    Examples
    --------
    >>> import tempfile
    >>> empty = pathlib.Path(tempfile.mkdtemp()) / "results.h5"
    >>> _ = empty.write_bytes(b"")
    >>> read_results(empty)
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.results.ResultsFileError: ...results.h5: an empty file (0 bytes): truncated, or not written by ketamine-sim
    """
    with open_results(path) as f:
        data = _read(f)
        _parse_config(data.config_yaml)
        try:
            _validate(data)
        except ValueError as error:
            raise _Invalid(f"inconsistent content: {error}") from None
    return data


def window_bounds_ms(data: RunData, window: int) -> tuple[float, float]:
    """Start and stop of a spiking window in protocol time.

    Parameters
    ----------
    data : RunData
        A run (its ``windows`` table).
    window : int
        Row of ``/windows``.

    Returns
    -------
    tuple of float
        ``(start_ms, stop_ms)``: ``start_s * 1e3`` and that plus ``duration_s * 1e3`` (ms).
        The window holds the spikes in ``[start_ms, stop_ms)``.

    Raises
    ------
    IndexError
        ``window`` is not a row of the table.

    Examples
    --------
    >>> import numpy as np
    >>> data = RunData(windows={"start_s": np.array([0.0, 600.0]), "duration_s": np.array([2.0, 2.0])})
    >>> window_bounds_ms(data, 1)
    (600000.0, 602000.0)
    """
    start = float(data.windows["start_s"][window]) * 1e3
    return start, start + float(data.windows["duration_s"][window]) * 1e3


def spikes_in_window(data: RunData, population: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The spikes of one population in one window, times relative to the window start.

    Parameters
    ----------
    data : RunData
        A run.
    population : str
        A key of ``data.spikes`` (``"pyr"``, ``"pv"``, ``"sst"``).
    window : int
        Row of ``/windows``.

    Returns
    -------
    times_ms : numpy.ndarray of float, shape (n,)
        Times of the spikes in ``[start, start + duration)`` (see
        [`window_bounds_ms`][ketamine_sim.experiments.results.window_bounds_ms] and
        ``ketamine_sim.experiments.simulation.readouts.in_window``), in ms from the window start.
    node_ids : numpy.ndarray, shape (n,)
        Their node ids.

    Raises
    ------
    KeyError
        ``population`` has no spike report in the run.

    Examples
    --------
    >>> import numpy as np
    >>> data = RunData(
    ...     spikes={"pv": (np.array([10.0, 999.0, 1000.0, 1500.0]), np.array([1, 2, 1, 0]))},
    ...     windows={"start_s": np.array([0.0, 1.0]), "duration_s": np.array([1.0, 1.0])},
    ... )
    >>> spikes_in_window(data, "pv", 1)  # the spike at 1000 ms opens window 1
    (array([  0., 500.]), array([1, 0]))
    """
    start, stop = window_bounds_ms(data, window)
    t, ids = data.spikes[population]
    t, ids = np.asarray(t), np.asarray(ids)
    keep = in_window(t, start, stop)
    return t[keep] - start, ids[keep]
