"""Writer and reader of one run's ``results.h5`` (layout: docs/output_format.md).

The spikes are a SONATA spike report at the file root (``/spikes/<population>``),
so ``libsonata.SpikeReader(path)`` and BMTK read the file as is. The file is
written atomically: a temp file in the same folder, then ``os.replace``.
"""
from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field

import h5py
import numpy as np

FORMAT = "ketamine-sim results"
FORMAT_VERSION = 1
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype=np.uint8)
_STR = h5py.string_dtype("utf-8")


@dataclass
class RunData:
    """Everything one run writes; see docs/output_format.md for each field."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    windows: dict[str, np.ndarray] = field(default_factory=dict)
    window_units: dict[str, str] = field(default_factory=dict)
    timeline: dict[str, np.ndarray] = field(default_factory=dict)
    timeline_units: dict[str, str] = field(default_factory=dict)
    readouts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    readout_units: dict[str, str] = field(default_factory=dict)
    config_yaml: str = ""
    provenance: dict = field(default_factory=dict)
    #: pyr->pyr spine sites (plasticity runs): source_ids, target_ids (per site), present
    #: (bool, window x site) and weight_scale (window x pyramidal cell); None if not recorded
    synapses: dict[str, np.ndarray] | None = None


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
            raise ValueError(f"synapses: present must be (windows, sites) = ({n}, {sites}), got {present.shape}, "
                             "and source_ids and target_ids must have one entry per site")
        if np.asarray(data.synapses["weight_scale"]).shape[0] != n:
            raise ValueError("synapses/weight_scale: needs one row per window")
    if not isinstance(data.config_yaml, str):
        raise ValueError("config_yaml: must be str")
    _check_provenance(data.provenance, "provenance")
    return out


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
    spikes = f.create_group("spikes", track_order=True)
    for pop, (t, ids) in data.spikes.items():
        t, ids = np.asarray(t, np.float64), np.asarray(ids).astype(np.uint64)
        order = np.lexsort((ids, t))  # by time, ties by node id (stable)
        g = spikes.create_group(pop)
        g.attrs.create("sorting", 2, dtype=SORTING)
        g.create_dataset("timestamps", data=t[order]).attrs["units"] = "ms"
        g.create_dataset("node_ids", data=ids[order])
    for grp in ("windows", "timeline", "readouts"):
        f.create_group(grp, track_order=True)
    for pop in data.readouts:
        f["readouts"].create_group(pop, track_order=True)
    for path, (a, units) in tables.items():
        parent = f.require_group(path.rsplit("/", 1)[0])
        ds = parent.create_dataset(path.rsplit("/", 1)[1], data=a.astype(object) if _is_str(a) else a,
                                   dtype=_STR if _is_str(a) else None)
        ds.attrs["units"] = units
    if data.synapses is not None:
        _write_synapses(f.create_group("synapses").create_group("pyr_to_pyr"), data.synapses)
    f.create_dataset("config", data=data.config_yaml, dtype=_STR)
    _write_provenance(f.create_group("provenance", track_order=True), data.provenance)


def _write_synapses(group: h5py.Group, synapses: dict) -> None:
    """Sites in the compiled synapse order; per window which are present, and each pyramidal
    cell's E->E weight scale (relative to the healthy weight)."""
    group.create_dataset("source_ids", data=np.asarray(synapses["source_ids"], np.uint64))
    group.create_dataset("target_ids", data=np.asarray(synapses["target_ids"], np.uint64))
    present = np.asarray(synapses["present"], dtype=np.uint8)
    group.create_dataset("present", data=present, compression="gzip", chunks=(1, present.shape[1]) if present.size else None)
    group["present"].attrs["units"] = "1 (window x site)"
    group.create_dataset("weight_scale", data=np.asarray(synapses["weight_scale"], np.float64)).attrs["units"] = \
        "1 (window x pyramidal cell, relative to healthy)"


def write_results(path: str | os.PathLike, data: RunData) -> pathlib.Path:
    """Validate ``data`` and write it atomically to ``path``; return the path.

    Raises ValueError (naming the field) before anything is written. On any
    exception or KeyboardInterrupt the temp file is removed and ``path`` is untouched.
    """
    path = pathlib.Path(path)
    tables = _validate(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w", track_order=True) as f:
            _write(f, data, tables)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _read_table(group: h5py.Group) -> tuple[dict, dict]:
    values, units = {}, {}
    for name, ds in group.items():
        if h5py.check_string_dtype(ds.dtype):
            values[name] = np.array(ds.asstr()[()], dtype=str)
        else:
            values[name] = ds[()]
        units[name] = ds.attrs["units"]
    return values, units


def _read_provenance(group: h5py.Group) -> dict:
    d = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in group.attrs.items()}
    d.update({k: _read_provenance(g) for k, g in group.items()})
    return d


def read_results(path: str | os.PathLike) -> RunData:
    """Read a ``results.h5`` (or a run folder holding one) into plain numpy/Python objects."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "results.h5"
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT or int(f.attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{path}: not a {FORMAT} file (version <= {FORMAT_VERSION})")
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
            synapses = {"source_ids": g["source_ids"][()], "target_ids": g["target_ids"][()],
                        "present": g["present"][()].astype(bool), "weight_scale": g["weight_scale"][()]}
        return RunData(spikes, windows, window_units, timeline, timeline_units, readouts,
                       readout_units, f["config"].asstr()[()], _read_provenance(f["provenance"]), synapses)


def spikes_in_window(data: RunData, population: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(times_ms relative to the window start, node_ids) of spikes in [start, start + duration)."""
    start = float(data.windows["start_s"][window]) * 1e3
    stop = start + float(data.windows["duration_s"][window]) * 1e3
    t, ids = data.spikes[population]
    t, ids = np.asarray(t), np.asarray(ids)
    keep = (t >= start) & (t < stop)
    return t[keep] - start, ids[keep]
