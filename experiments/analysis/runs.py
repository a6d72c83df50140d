"""Runs as tables: ``results.h5`` files loaded into tidy pandas tables.

Loading ([Analysis](../analysis.md)):

* [`load_run`][ketamine_sim.experiments.analysis.load_run] -> [`Run`][ketamine_sim.experiments.analysis.Run] (the
  [`RunData`][ketamine_sim.experiments.results.RunData] plus ``readouts_frame()``, ``timeline_frame()``,
  ``spikes()``, ``config``, ``overrides``);
* [`load_sweep`][ketamine_sim.experiments.analysis.load_sweep] -> one long DataFrame of every
  ``results.h5`` below a folder (e.g. a Hydra multirun), with the run's seed, drug,
  experiment, circuit and manipulation.

Readouts of a run: [`rate_change`][ketamine_sim.experiments.analysis.rate_change] (per-neuron rate change
between two windows, Hz) and [`synaptic_charge`][ketamine_sim.experiments.analysis.synaptic_charge] (AMPA
and NMDA charge per unit driving force and their ratio). The spike-train statistics
([`population_rate`][ketamine_sim.experiments.analysis.population_rate],
[`cv_isi`][ketamine_sim.experiments.analysis.cv_isi], [`synchrony`][ketamine_sim.experiments.analysis.synchrony], ...)
are in ``ketamine_sim.experiments.analysis.spiketrains``. The equations are in each docstring and in
[Analysis](../analysis.md).
"""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import yaml

from ketamine_sim.experiments.results import (
    ResultsFileError,
    RunData,
    find_results,
    read_results,
    results_path,
    spikes_in_window,
    window_bounds_ms,
)

__all__ = [
    "CHARGE_UNITS",
    "ResultsFileError",
    "Run",
    "SkippedRunWarning",
    "flatten_config",
    "load_run",
    "load_sweep",
    "rate_change",
    "synaptic_charge",
]


# --------------------------------------------------------------------------- loading


def flatten_config(d: dict, prefix: str = "") -> dict[str, object]:
    """A nested dict as a flat dict of dotted keys.

    Parameters
    ----------
    d : dict
        Nested mapping (a config); None is read as empty.
    prefix : str
        Put before every key (used by the recursion).

    Returns
    -------
    dict of str to object
        ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``. Lists and scalars are leaves; an empty dict is
        kept as a leaf ``{}``.

    Examples
    --------
    >>> flatten_config({"circuit": {"counts": {"pyr": 3200, "pv": 400}}, "seed": 1, "manipulation": {}})
    {'circuit.counts.pyr': 3200, 'circuit.counts.pv': 400, 'seed': 1, 'manipulation': {}}
    """
    out: dict[str, object] = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = v
    return out


@dataclass
class Run:
    """One run's results with tables and spike slices on top: what
    [`load_run`][ketamine_sim.experiments.analysis.load_run] returns.

    Attributes
    ----------
    data : RunData
        Everything the run wrote ([`RunData`][ketamine_sim.experiments.results.RunData]).
    path : pathlib.Path or None
        The ``results.h5`` it was read from (None for a run built in memory).

    Examples
    --------
    A run built in memory (one population, two windows of 1 s; spike times in ms):

    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     spikes={"pyr": (np.array([100.0, 400.0, 1200.0, 1300.0, 1700.0]), np.array([0, 1, 0, 0, 1]))},
    ...     windows={"label": np.array(["baseline", "drug"]), "start_s": np.array([0.0, 1.0]),
    ...              "duration_s": np.array([1.0, 1.0])},
    ...     window_units={"label": "", "start_s": "s", "duration_s": "s"},
    ...     readouts={"pyr": {"rate": np.array([1.0, 1.5]), "g_ampa_mean": np.array([2.0, 2.0]),
    ...                       "g_nmda_mean": np.array([1.0, 0.5])}},
    ...     readout_units={"rate": "Hz", "g_ampa_mean": "nS", "g_nmda_mean": "nS"},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0]), "brain_s_ketamine_uM": np.array([0.0, 0.0, 1.5])},
    ...     timeline_units={"time_s": "s", "brain_s_ketamine_uM": "uM"},
    ...     config_yaml="seed: 7\\ncircuit:\\n  counts:\\n    pyr: 3\\n",
    ... )
    >>> run = Run(data)
    >>> run.seed, run.populations, run.n_windows, run.n_neurons("pyr")
    (7, ['pyr'], 2, 3)
    >>> run.readouts_frame()[["window", "label", "population", "rate"]]
       window     label population  rate
    0       0  baseline        pyr   1.0
    1       1      drug        pyr   1.5
    >>> run.spikes("pyr", 1)  # times from the start of window 1 (ms), node ids
    (array([200., 300., 700.]), array([0, 0, 1]))
    """

    data: RunData
    path: pathlib.Path | None = None

    # -- config
    @cached_property
    def config(self) -> dict:
        """The resolved (Hydra) config, parsed with ``yaml.safe_load`` (``{}`` if empty)."""
        return yaml.safe_load(self.data.config_yaml) or {}

    @cached_property
    def overrides(self) -> dict[str, object]:
        """The config as a flat dict of dotted keys -> values (``"circuit.counts.pyr": 3200``)."""
        return flatten_config(self.config)

    @property
    def seed(self):
        """The run's seed: ``/provenance`` attr ``seed``, else the config's ``seed`` (None if neither)."""
        return self.data.provenance.get("seed", self.config.get("seed"))

    @property
    def populations(self) -> list[str]:
        """The populations with a spike report."""
        return list(self.data.spikes)

    @property
    def n_windows(self) -> int:
        """Number of spiking windows (rows of ``/windows``)."""
        return len(self.data.windows["start_s"])

    def n_neurons(self, population: str) -> int:
        """Number of cells of ``population``.

        Parameters
        ----------
        population : str
            A population of the run (``"pyr"``, ``"pv"``, ``"sst"``).

        Returns
        -------
        int
            ``circuit.counts.<population>`` of the config, else the largest node id that
            spiked + 1 (a lower bound: silent cells at the end are missed), 0 if none spiked.

        Raises
        ------
        KeyError
            The population is neither in the config's counts nor in the spike reports.
        """
        counts = (self.config.get("circuit") or {}).get("counts") or {}
        if population in counts:
            return int(counts[population])
        ids = np.asarray(self.data.spikes[population][1])
        return int(ids.max()) + 1 if ids.size else 0

    # -- tables
    def readouts_frame(self) -> pd.DataFrame:
        """The readouts as a long table: one row per window x population (window-major).

        Returns
        -------
        pandas.DataFrame
            Columns ``window`` (row index of the window table), ``label`` (if the run has
            one), ``start_s``, the other window columns (``duration_s`` and the conditions,
            e.g. ``brain_s_ketamine_uM``), ``population``, then every 1-D readout (NaN where a
            population lacks it). Readouts of more than one dimension (``train_release``) are
            left out: read them from ``run.data.readouts``. ``df.attrs["units"]`` maps each
            column to its unit (``rate``: Hz, ``start_s``: s, ...).

        Raises
        ------
        ValueError
            A readout and a window column share a name.
        """
        w = self.data.windows
        n = self.n_windows
        pops = list(self.data.readouts)
        names: list[str] = []
        for pop in pops:
            for name, v in self.data.readouts[pop].items():
                if np.ndim(v) == 1 and name not in names:
                    names.append(name)
        wcols = ["label"] if "label" in w else []
        wcols += ["start_s"] + [c for c in w if c not in ("label", "start_s") and np.ndim(w[c]) == 1]
        clash = set(names) & set(wcols)
        if clash:
            raise ValueError(f"readouts and window columns share names: {sorted(clash)}")
        cols: dict[str, object] = {
            "window": np.repeat(np.arange(n), len(pops)),
            **{c: np.repeat(np.asarray(w[c]), len(pops)) for c in wcols},
            "population": np.tile(np.array(pops, dtype=object), n),
        }
        for name in names:
            block = np.full((n, len(pops)), np.nan)
            for j, pop in enumerate(pops):
                v = self.data.readouts[pop].get(name)
                if v is not None and np.ndim(v) == 1:
                    block[:, j] = np.asarray(v, dtype=float)
            cols[name] = block.ravel()
        df = pd.DataFrame(cols)
        df.attrs["units"] = {
            "window": "",
            **{c: self.data.window_units.get(c, "") for c in wcols},
            "population": "",
            **{c: self.data.readout_units.get(c, "") for c in names},
        }
        return df

    def timeline_frame(self) -> pd.DataFrame:
        """The 1-D timeline traces as a table indexed by ``time_s``.

        Returns
        -------
        pandas.DataFrame
            One column per 1-D trace of ``/timeline`` (``brain_<species>_uM``, ``glutamate``,
            ...), indexed by ``time_s`` (protocol time, s); ``df.attrs["units"]`` maps each
            column (and ``time_s``) to its unit. Traces of more than one dimension are left out.
        """
        tl = self.data.timeline
        names = [k for k in tl if k != "time_s" and np.ndim(tl[k]) == 1]
        df = pd.DataFrame(
            {k: tl[k] for k in names}, index=pd.Index(np.asarray(tl["time_s"], dtype=float), name="time_s")
        )
        df.attrs["units"] = {k: self.data.timeline_units.get(k, "") for k in ["time_s", *names]}
        return df

    def spikes(self, population: str, window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The spikes of one population, in protocol time or within one window.

        Parameters
        ----------
        population : str
            A population with a spike report.
        window : int or None
            None: every spike, times in ms of protocol time. A window's row: the spikes in
            ``[start, start + duration)`` of that window, times in ms from its start
            ([`spikes_in_window`][ketamine_sim.experiments.results.spikes_in_window]).

        Returns
        -------
        times_ms : numpy.ndarray of float, shape (n,)
            Spike times (ms).
        node_ids : numpy.ndarray, shape (n,)
            Their node ids.

        Raises
        ------
        KeyError
            ``population`` has no spike report.
        """
        if window is not None:
            return spikes_in_window(self.data, population, int(window))
        t, ids = self.data.spikes[population]
        return np.asarray(t), np.asarray(ids)

    def window_bounds_ms(self, window: int) -> tuple[float, float]:
        """Start and stop of a window in protocol time.

        Parameters
        ----------
        window : int
            Row of ``/windows``.

        Returns
        -------
        tuple of float
            ``(start_ms, stop_ms)`` (ms; [`window_bounds_ms`][ketamine_sim.experiments.results.window_bounds_ms]):
            the window holds the spikes in ``[start_ms, stop_ms)``.
        """
        return window_bounds_ms(self.data, window)

    def spikes_frame(self, populations: Sequence[str] | None = None) -> pd.DataFrame:
        """Every spike as one row of a table.

        Parameters
        ----------
        populations : sequence of str or None
            The populations to include (default: all with a spike report).

        Returns
        -------
        pandas.DataFrame
            Columns ``population``, ``window``, ``label`` (if the run has labels),
            ``node_id``, ``t_ms`` (ms from the window start) and ``time_s`` (s, protocol
            time). Spikes outside every window (none in files the simulator writes) are left
            out. Units in ``df.attrs["units"]``.

        Raises
        ------
        KeyError
            A population is not in the run.
        """
        pops = list(self.populations if populations is None else populations)
        missing = [p for p in pops if p not in self.data.spikes]
        if missing:
            raise KeyError(f"populations {missing} not in the run (have {self.populations})")
        labels = self.data.windows.get("label")
        parts = []
        for pop in pops:
            for w in range(self.n_windows):
                t, ids = self.spikes(pop, w)
                start_s = float(self.data.windows["start_s"][w])
                part = {"population": np.full(len(t), pop, dtype=object), "window": np.full(len(t), w)}
                if labels is not None:
                    part["label"] = np.full(len(t), str(labels[w]), dtype=object)
                part |= {"node_id": ids.astype(np.int64), "t_ms": t, "time_s": start_s + t * 1e-3}
                parts.append(pd.DataFrame(part))
        columns = ["population", "window", *(["label"] if labels is not None else []), "node_id", "t_ms", "time_s"]
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
        df.attrs["units"] = {"window": "", "label": "", "node_id": "", "t_ms": "ms", "time_s": "s"}
        return df


class SkippedRunWarning(UserWarning):
    """[`load_sweep`][ketamine_sim.experiments.analysis.load_sweep] skipped a run whose ``results.h5``
    cannot be read (the message names it and says why)."""


def load_run(path: str | os.PathLike) -> Run:
    """Read a ``results.h5`` (or a run folder holding one) into a [`Run`][ketamine_sim.experiments.analysis.Run].

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.h5``, or a run folder holding one.

    Returns
    -------
    Run
        The run, with ``path`` set to the file read.

    Raises
    ------
    ResultsFileError
        A ValueError naming the file and what is wrong with it if it cannot be read (see
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    """
    path = results_path(path)
    return Run(read_results(path), path)


def _manipulation_label(flags: dict) -> str:
    """``"none"`` or the active manipulations joined by ``+`` (``"a1_antagonist+ampa_block_fraction=0.5"``)."""
    active = []
    for k, v in flags.items():
        if isinstance(v, bool):
            if v:
                active.append(k)
        elif isinstance(v, (int, float)) and v != 0:
            active.append(f"{k}={v:g}")
        elif not isinstance(v, (int, float)) and v not in (None, "", "none"):
            active.append(f"{k}={v}")
    return "+".join(active) or "none"


def _group_name(cfg: dict, group: str):
    """``cfg[group]["name"]`` (or ``cfg[group]`` if it is a plain value; None if absent)."""
    g = cfg.get(group)
    return g.get("name") if isinstance(g, dict) else g


def _load_one(path: pathlib.Path) -> Run:
    """``load_run`` of a path found by a glob: a folder matching the pattern is a fault too."""
    if path.is_dir():
        raise ResultsFileError(path, "a directory, not a results file")
    return load_run(path)


def load_sweep(folder: str | os.PathLike, pattern: str = "results.h5", on_error: str = "skip") -> pd.DataFrame:
    """Every ``results.h5`` below a folder (a sweep) as one long DataFrame.

    Parameters
    ----------
    folder : str or os.PathLike
        Searched recursively (e.g. a Hydra multirun folder); runs in path order.
    pattern : str
        File-name pattern of the results files (``Path.rglob``).
    on_error : {"skip", "raise"}
        What to do with a file that cannot be read (truncated, empty, foreign, partly
        deleted, unreadable, newer format; see
        [`read_results`][ketamine_sim.experiments.results.read_results]): ``"skip"`` leaves the run out,
        warns with a [`SkippedRunWarning`][ketamine_sim.experiments.analysis.SkippedRunWarning] naming it
        and why, and records it in ``df.attrs["skipped"]`` (path relative to ``folder`` ->
        reason); ``"raise"`` raises its
        [`ResultsFileError`][ketamine_sim.experiments.results.ResultsFileError].

    Returns
    -------
    pandas.DataFrame
        Each run's [`Run.readouts_frame`][ketamine_sim.experiments.analysis.Run.readouts_frame] (one row
        per window x population) after the columns ``run`` (path of its folder relative to
        ``folder``, ``"."`` for a file directly in it), ``seed``, ``drug`` (``drug.name``),
        ``experiment`` (``experiment.name``), ``circuit`` (``circuit.name``),
        ``manipulation`` (``"none"`` or the active flags joined by ``+``) and one
        ``manipulation.<flag>`` column per flag of the config's ``manipulation`` group.
        Readouts absent from some runs are NaN there. ``df.attrs["units"]`` merges the runs'
        units (``""`` for the run columns).

    Raises
    ------
    FileNotFoundError
        No file matches below ``folder``.
    ResultsFileError
        No file can be read (either way), or one cannot and ``on_error="raise"``.
    ValueError
        ``on_error`` is neither ``"skip"`` nor ``"raise"``.

    Examples
    --------
    Two seeds written by hand, then read as one table:

    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData, write_results
    >>> sweep = pathlib.Path(tempfile.mkdtemp())
    >>> for seed, rate in ((1, 2.0), (2, 3.0)):
    ...     _ = write_results(sweep / f"seed={seed}" / "results.h5", RunData(
    ...         spikes={"pyr": (np.array([]), np.array([], dtype=int))},
    ...         windows={"start_s": np.array([0.0]), "duration_s": np.array([1.0])},
    ...         window_units={"start_s": "s", "duration_s": "s"},
    ...         timeline={"time_s": np.array([0.0, 1.0])}, timeline_units={"time_s": "s"},
    ...         readouts={"pyr": {"rate": np.array([rate])}}, readout_units={"rate": "Hz"},
    ...         config_yaml=f"seed: {seed}\\ndrug:\\n  name: racemic\\n", provenance={"seed": seed}))
    >>> df = load_sweep(sweep)
    >>> df[["run", "seed", "drug", "manipulation", "population", "rate"]]
          run  seed     drug manipulation population  rate
    0  seed=1     1  racemic         none        pyr   2.0
    1  seed=2     2  racemic         none        pyr   3.0
    >>> df.attrs["units"]["rate"]
    'Hz'
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error: must be 'skip' or 'raise', got {on_error!r}")
    folder = pathlib.Path(folder)
    paths = find_results(folder, pattern)
    if not paths:
        raise FileNotFoundError(f"no {pattern} below {folder}")
    frames, units, skipped = [], {}, {}
    for p in paths:
        try:
            run = _load_one(p)
        except ResultsFileError as error:
            if on_error == "raise":
                raise
            skipped[p.relative_to(folder).as_posix()] = error.reason
            warnings.warn(
                f"load_sweep skipped run {p.parent.relative_to(folder).as_posix()!r}: {error}",
                SkippedRunWarning,
                stacklevel=2,
            )
            continue
        df = run.readouts_frame()
        units.update(df.attrs.get("units", {}))
        cfg = run.config
        flags = cfg.get("manipulation") or {}

        meta = {
            "run": p.parent.relative_to(folder).as_posix(),
            "seed": run.seed,
            "drug": _group_name(cfg, "drug"),
            "experiment": _group_name(cfg, "experiment"),
            "circuit": _group_name(cfg, "circuit"),
            "manipulation": _manipulation_label(flags),
            **{f"manipulation.{k}": v for k, v in flags.items()},
        }
        for i, (k, v) in enumerate(meta.items()):
            df.insert(i, k, [v] * len(df))
        frames.append(df)
    if not frames:
        raise ResultsFileError(
            folder,
            f"none of the {len(paths)} {pattern} files below it can be read: "
            + "; ".join(f"{k}: {v}" for k, v in skipped.items()),
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs["units"] = {**{k: "" for k in out.columns[: out.columns.get_loc("window")]}, **units}
    out.attrs["skipped"] = skipped
    return out


def rate_change(run: Run, population: str, window_a: int, window_b: int, n_neurons: int | None = None) -> np.ndarray:
    """Per-neuron firing-rate change from one window to another.

    Parameters
    ----------
    run : Run
        The run.
    population : str
        A population with a spike report.
    window_a, window_b : int
        Rows of ``/windows``: the change is b minus a.
    n_neurons : int or None
        Number of cells (default: [`Run.n_neurons`][ketamine_sim.experiments.analysis.Run.n_neurons], the
        config's ``circuit.counts``).

    Returns
    -------
    numpy.ndarray of float, shape (n_neurons,)
        delta r_i (Hz), one value per cell.

    Raises
    ------
    ValueError
        A node id that spiked is ``>= n_neurons``.

    Notes
    -----
    delta r_i = c_i(b) / T_b - c_i(a) / T_a, with c_i(w) the spikes of cell i in window w
    (``[start, start + duration)``, the whole window, no transient removed) and T_w its
    duration in s.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     spikes={"pyr": (np.array([100.0, 400.0, 1200.0, 1300.0, 1700.0]), np.array([0, 1, 0, 0, 1]))},
    ...     windows={"label": np.array(["baseline", "drug"]), "start_s": np.array([0.0, 1.0]),
    ...              "duration_s": np.array([1.0, 1.0])},
    ...     window_units={"label": "", "start_s": "s", "duration_s": "s"},
    ...     readouts={"pyr": {"rate": np.array([1.0, 1.5]), "g_ampa_mean": np.array([2.0, 2.0]),
    ...                       "g_nmda_mean": np.array([1.0, 0.5])}},
    ...     readout_units={"rate": "Hz", "g_ampa_mean": "nS", "g_nmda_mean": "nS"},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0]), "brain_s_ketamine_uM": np.array([0.0, 0.0, 1.5])},
    ...     timeline_units={"time_s": "s", "brain_s_ketamine_uM": "uM"},
    ...     config_yaml="seed: 7\\ncircuit:\\n  counts:\\n    pyr: 3\\n",
    ... )
    >>> run = Run(data)
    >>> rate_change(run, "pyr", 0, 1)  # cell 0: 1 -> 2 spikes in 1 s; cell 1: 1 -> 1; cell 2 silent
    array([1., 0., 0.])
    """
    n = run.n_neurons(population) if n_neurons is None else int(n_neurons)
    rates = []
    for w in (window_a, window_b):
        _, ids = run.spikes(population, w)
        if ids.size and int(ids.max()) >= n:
            raise ValueError(f"{population}: node id {int(ids.max())} >= n_neurons {n}")
        duration_s = float(run.data.windows["duration_s"][w])
        rates.append(np.bincount(np.asarray(ids, dtype=np.int64), minlength=n) / duration_s)
    return rates[1] - rates[0]


#: Units of the columns of `synaptic_charge`.
CHARGE_UNITS: dict[str, str] = {"q_ampa": "pC/mV", "q_nmda": "pC/mV", "nmda_ampa_ratio": "1"}


def synaptic_charge(run: Run) -> pd.DataFrame:
    """AMPA and NMDA charge per cell in each window, per unit driving force, and their ratio.

    Parameters
    ----------
    run : Run
        A run with the conductance readouts ``g_ampa_mean`` and ``g_nmda_mean`` (nS).

    Returns
    -------
    pandas.DataFrame
        One row per window x population (sorted by window): ``window``, ``label`` (if
        present), ``population``, ``q_ampa`` and ``q_nmda`` (pC/mV), ``nmda_ampa_ratio``
        (1; NaN where Q_AMPA = 0). Units in ``df.attrs["units"]`` (``CHARGE_UNITS``).

    Raises
    ------
    KeyError
        Naming the readout, if a population lacks ``g_ampa_mean`` or ``g_nmda_mean``.

    Notes
    -----
    The circuit integrates each cell's synaptic conductance over the window (``q_ampa``,
    ``q_nmda`` accumulators; the NMDA one after the Mg and ketamine block); ``results.h5``
    stores it as the mean conductance ``g_*_mean`` (nS) over the whole window of duration T.
    Here Q = g_mean T, the conductance-time integral in nS s = pC/mV: the charge that would
    flow per mV of driving force. AMPA and NMDA share the excitatory reversal potential, so
    ``nmda_ampa_ratio`` = Q_NMDA / Q_AMPA is also the NMDA/AMPA charge ratio at any common
    driving force.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     spikes={"pyr": (np.array([100.0, 400.0, 1200.0, 1300.0, 1700.0]), np.array([0, 1, 0, 0, 1]))},
    ...     windows={"label": np.array(["baseline", "drug"]), "start_s": np.array([0.0, 1.0]),
    ...              "duration_s": np.array([1.0, 1.0])},
    ...     window_units={"label": "", "start_s": "s", "duration_s": "s"},
    ...     readouts={"pyr": {"rate": np.array([1.0, 1.5]), "g_ampa_mean": np.array([2.0, 2.0]),
    ...                       "g_nmda_mean": np.array([1.0, 0.5])}},
    ...     readout_units={"rate": "Hz", "g_ampa_mean": "nS", "g_nmda_mean": "nS"},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0]), "brain_s_ketamine_uM": np.array([0.0, 0.0, 1.5])},
    ...     timeline_units={"time_s": "s", "brain_s_ketamine_uM": "uM"},
    ...     config_yaml="seed: 7\\ncircuit:\\n  counts:\\n    pyr: 3\\n",
    ... )
    >>> run = Run(data)
    >>> synaptic_charge(run)
       window     label population  q_ampa  q_nmda  nmda_ampa_ratio
    0       0  baseline        pyr     2.0     1.0             0.50
    1       1      drug        pyr     2.0     0.5             0.25
    """
    duration = np.asarray(run.data.windows["duration_s"], dtype=float)
    labels = run.data.windows.get("label")
    rows = []
    for pop, table in run.data.readouts.items():
        for name in ("g_ampa_mean", "g_nmda_mean"):
            if name not in table:
                raise KeyError(f"readouts/{pop}/{name} missing: the run has no conductance readouts")
        q_ampa = np.asarray(table["g_ampa_mean"], dtype=float) * duration
        q_nmda = np.asarray(table["g_nmda_mean"], dtype=float) * duration
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(q_ampa > 0, q_nmda / np.where(q_ampa > 0, q_ampa, 1.0), np.nan)
        for w in range(len(duration)):
            row = {
                "window": w,
                **({"label": str(labels[w])} if labels is not None else {}),
                "population": pop,
                "q_ampa": q_ampa[w],
                "q_nmda": q_nmda[w],
                "nmda_ampa_ratio": ratio[w],
            }
            rows.append(row)
    df = pd.DataFrame(rows).sort_values("window", kind="stable").reset_index(drop=True)
    df.attrs["units"] = {"window": "", "label": "", "population": "", **CHARGE_UNITS}
    return df
