"""The figure set of a run ([Figures](../figures.md)) and the summary figure the command line writes.

One function per figure, each taking a run (a [`Run`][ketamine_sim.experiments.analysis.Run], a
[`RunData`][ketamine_sim.experiments.results.RunData], a run folder or a ``results.h5``) or a table, and
returning a ``matplotlib.figure.Figure``; with ``path`` it also saves ``<path>.png`` and
``<path>.svg`` (a ``.png``/``.svg`` suffix of ``path`` is replaced):

* [`raster`][ketamine_sim.experiments.figures.raster] -- spikes per population (rows) per window (columns);
* [`population_rates`][ketamine_sim.experiments.figures.population_rates] -- each population's rate per
  window over protocol time;
* [`pk_curve`][ketamine_sim.experiments.figures.pk_curve] -- plasma and brain concentrations, the spiking
  windows marked;
* [`neurochemistry`][ketamine_sim.experiments.figures.neurochemistry] -- bulk glutamate and adenosine
  relative to baseline;
* [`dose_response`][ketamine_sim.experiments.figures.dose_response] -- the ``dose_response`` experiment's table;
* [`scorecard`][ketamine_sim.experiments.figures.scorecard] -- findings x hypotheses, passed or failed,
  value against target;
* [`spine_density`][ketamine_sim.experiments.figures.spine_density] -- ``/timeline/spine_density`` over days;
* [`field_spectra`][ketamine_sim.experiments.figures.field_spectra] -- the field proxy's spectrum per
  window and its gamma power relative to the first window;
* [`onset`][ketamine_sim.experiments.figures.onset] -- brain concentration, each population's rate
  and NMDA block after a dose, with the half-times of their changes;
* [`figure_set`][ketamine_sim.experiments.figures.figure_set] -- every figure a run supports, into one folder.

All share the rc settings ``STYLE`` and the population colours ``COLORS``. Figures are built
without pyplot (no global figure state, no display needed).

Examples
--------
>>> from ketamine_sim.experiments.figures import scorecard
>>> fig = scorecard([
...     {"finding": "C1", "hypothesis": "nmda_block", "passed": True, "value": 1.4, "target": "> 1"},
...     {"finding": "C1", "hypothesis": "none", "passed": False, "value": 0.9, "target": "> 1"},
... ])
>>> fig.axes[0].get_title().splitlines()[0]
'scorecard: 1/2 passed'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES
from ketamine_sim.circuits.spiking.cells import POPULATIONS
from ketamine_sim.circuits.units import SECONDS_PER_DAY
from ketamine_sim.experiments.analysis.dose_response import CHANGE_COLUMNS
from ketamine_sim.experiments.analysis.onset import SMOOTH_S, onset_table, running_mean
from ketamine_sim.experiments.results import RunData, atomic_write, read_results, spikes_in_window, split_units
from ketamine_sim.experiments.simulation.progress import format_uM
from ketamine_sim.experiments.simulation.spectra import FIT_SEGMENT_MS, GAMMA_BAND_HZ, welch_spectrum

#: Colour of each population, in every figure.
COLORS = {"pyr": "tab:red", "pv": "tab:blue", "sst": "tab:green"}
#: Colour of each drug species.
SPECIES_COLORS = {
    "s_ketamine": "tab:purple",
    "r_ketamine": "tab:orange",
    "s_norketamine": "tab:brown",
    "r_norketamine": "tab:pink",
    "hnk": "tab:olive",
}
#: Colour of the marks of the spiking windows.
WINDOW_COLOR = "0.55"
#: matplotlib rc settings of the figure set (applied while a figure is built and saved).
STYLE: dict[str, object] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.4,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "svg.fonttype": "none",  # text stays text in the SVG (editable in Inkscape / Illustrator)
}
#: Colours of the scorecard cells: failed, passed, not evaluated.
SCORECARD_COLORS = ("#d7301f", "#1a9850", "#d9d9d9")
#: The least range of the spine-density axis (relative to healthy): a change of a few per cent
#: is drawn as one, not across the whole axis.
SPINE_RANGE = (0.9, 1.1)
#: Columns the scorecard table must have.
SCORECARD_COLUMNS = ("finding", "hypothesis", "passed", "value", "target")
#: Columns of the dose-response table the figure needs (the dose and the changes it plots).
DOSE_RESPONSE_COLUMNS = CHANGE_COLUMNS


# --------------------------------------------------------------------------- helpers


def _data(run) -> RunData:
    """The RunData of a Run, a RunData, a run folder or a results.h5."""
    if isinstance(run, RunData):
        return run
    if hasattr(run, "data") and isinstance(run.data, RunData):
        return run.data
    if isinstance(run, (str, os.PathLike)):
        return read_results(run)
    raise TypeError(f"expected a Run, RunData, run folder or results.h5, got {type(run).__name__}")


def _config(data: RunData) -> dict:
    import yaml

    return yaml.safe_load(data.config_yaml or "") or {}


@contextlib.contextmanager
def _style():
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def _figure(nrows: int = 1, ncols: int = 1, figsize=(6.0, 3.5), **kwargs):
    """A pyplot-free Figure with a grid of axes (always a 2-D array)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def save(fig, path: str | os.PathLike) -> tuple[Path, Path]:
    """Save a figure as PNG and SVG, each written atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or os.PathLike
        ``<path>.png`` and ``<path>.svg`` are written (a ``.png``/``.svg`` suffix of ``path``
        is replaced); the folder is created if missing.

    Returns
    -------
    tuple of pathlib.Path
        ``(png, svg)``.

    Raises
    ------
    OSError
        A file cannot be written; it is then left as it was
        ([`atomic_write`][ketamine_sim.experiments.files.atomic_write]).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> fig = dose_response([{c: float(i) for c in DOSE_RESPONSE_COLUMNS} for i in range(3)])
    >>> png, svg = save(fig, pathlib.Path(tempfile.mkdtemp()) / "figures" / "dose_response.png")
    >>> png.name, svg.name, png_complete(png)
    ('dose_response.png', 'dose_response.svg', True)
    """
    path = Path(path)
    if path.suffix.lower() in (".png", ".svg"):
        path = path.with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = (path.parent / (path.name + ".png"), path.parent / (path.name + ".svg"))
    with _style():
        for p in out:
            _save_atomic(fig, p)
    return out


def _save_atomic(fig, path: Path, **kwargs) -> Path:
    """``fig.savefig`` to ``path`` through [`atomic_write`][ketamine_sim.experiments.files.atomic_write], in the
    format its suffix names (matplotlib's default format if it has none)."""
    import matplotlib

    fmt = path.suffix[1:] or matplotlib.rcParams["savefig.format"]
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **kwargs))


def _finish(fig, path):
    if path is not None:
        save(fig, path)
    return fig


#: Plotting units of time by the span they cover: (unit, seconds each, longest span in it).
TIME_UNITS = (("min", 60.0, 6 * 3600.0), ("h", 3600.0, 3 * SECONDS_PER_DAY), ("days", SECONDS_PER_DAY, float("inf")))
#: Colour of the marks of the doses.
DOSE_COLOR = "tab:purple"


def natural_time_unit(span_s: float) -> tuple[str, float]:
    """The unit a time axis spanning ``span_s`` seconds reads best in, and its seconds.

    Up to 6 h in minutes, up to 3 days in hours, longer in days (a 14-day course is not drawn
    up to 20 000 min).

    Examples
    --------
    >>> natural_time_unit(4 * 3600.0), natural_time_unit(30 * 3600.0), natural_time_unit(14 * 86400.0)
    (('min', 60.0), ('h', 3600.0), ('days', 86400.0))
    """
    for unit, scale, longest in TIME_UNITS:
        if span_s <= longest:
            return unit, scale
    return TIME_UNITS[-1][0], TIME_UNITS[-1][1]


def _time_axis(data: RunData, unit: str | None = None):
    """(timeline x, window start x, x label, seconds per unit): time from the start of dosing
    where the run has it, else protocol time, in ``unit`` (None: `natural_time_unit` of the
    timeline's span)."""
    clinical = "time_from_dose_s" in data.timeline and "time_from_dose_s" in data.windows
    t_s = np.asarray(data.timeline["time_from_dose_s" if clinical else "time_s"], dtype=float)
    starts_s = np.asarray(data.windows["time_from_dose_s" if clinical else "start_s"], dtype=float)
    if unit is None:
        unit, scale = natural_time_unit(float(np.ptp(t_s)) if t_s.size else 0.0)
    else:
        scale = {name: seconds for name, seconds, _ in TIME_UNITS} | {"s": 1.0}
        scale = scale[unit]
    label = f"time from start of dosing ({unit})" if clinical else f"protocol time ({unit})"
    return t_s / scale, starts_s / scale, label, scale


def _dose_spans_s(data: RunData) -> list[tuple[float, float]]:
    """(start, duration) of every dose given within the run's timeline, in s from the start of
    dosing, from the run's config (``dosing.*``); empty for a run without dosing (a bath) or
    without its config. A schedule longer than the protocol (an ``iv_infusion`` run of a
    course's dosing) is cut to the doses the run simulated, and an infusion to the protocol's
    end."""
    if "time_from_dose_s" not in data.timeline:
        return []
    from omegaconf import OmegaConf

    from ketamine_sim.experiments import config as C

    try:
        cfg = OmegaConf.create(_config(data))
        if not _takes_doses(str(cfg.experiment.name)):
            return []
        starts = C.dose_starts_min(cfg)
        duration = float(cfg.dosing.duration_min)
    except Exception:  # an older or hand-made run without a usable dosing block: no marks
        return []
    last = float(np.max(data.timeline["time_from_dose_s"]))
    # an infusion running past the protocol's end is shaded up to the end (no axis beyond it)
    return [(60.0 * start, min(60.0 * duration, last - 60.0 * start)) for start in starts if 60.0 * start <= last]


def _takes_doses(experiment: str) -> bool:
    """Whether ``experiment`` reads ``dosing.*`` (bath and evoked_release apply the drug to the
    bath instead; `ketamine_sim.experiments.config.UNREAD` says which keys each experiment ignores)."""
    from ketamine_sim.experiments import config as C

    return "dosing" not in C.UNREAD.get(experiment, ())


def _mark_doses(ax, data: RunData, scale_s: float) -> None:
    """Mark every dose: a triangle at the top of the axes at its start and, for an infusion, its
    whole length shaded; labelled once."""
    spans = _dose_spans_s(data)
    for start, duration in spans:
        if duration > 0:  # too narrow to see on a course's axis in days: the triangle shows it
            ax.axvspan(start / scale_s, (start + duration) / scale_s, color=DOSE_COLOR, alpha=0.15, lw=0)
    if spans:
        starts = [start / scale_s for start, _ in spans]
        ax.plot(
            starts,
            [1.0] * len(starts),
            "v",
            color=DOSE_COLOR,
            ms=6,
            clip_on=False,
            label="dose",
            gid="dose",
            transform=ax.get_xaxis_transform(),
        )


def conditions(data: RunData) -> str:
    """One line naming what a run simulated: experiment, drug and dose (or bath
    concentrations), circuit, hypothesis, brain state and seed, from its config.

    Examples
    --------
    >>> import yaml
    >>> from ketamine_sim.experiments.results import RunData
    >>> config = {"seed": 3, "experiment": {"name": "iv_infusion"}, "drug": {"name": "esketamine"},
    ...           "dosing": {"route": "iv_infusion", "dose_mg_per_kg": 0.5, "duration_min": 40, "days": [0]},
    ...           "circuit": {"name": "pfc"}, "hypothesis": {"name": "default"}, "state": {"name": "healthy"}}
    >>> data = RunData(config_yaml=yaml.safe_dump(config))
    >>> conditions(data)
    'iv_infusion: esketamine 0.5 mg/kg iv infusion over 40 min; circuit pfc, hypothesis default, healthy, seed 3'
    """
    cfg = _config(data)

    def name(group: str) -> str:
        value = cfg.get(group)
        return str(value.get("name", "?")) if isinstance(value, dict) else str(value or "?")

    experiment, dosing = name("experiment"), cfg.get("dosing") or {}
    drug = name("drug")
    if not _takes_doses(experiment):
        block = cfg.get(experiment) or {}
        levels = block.get("concentrations_uM", block.get("concentration_uM"))
        treatment = f"{drug} bath {levels} µM" if levels is not None else f"{drug} bath"
    else:
        dose = dosing.get("dose_mg")
        amount = f"{dose:g} mg" if dose is not None else f"{dosing.get('dose_mg_per_kg', '?')} mg/kg"
        route = str(dosing.get("route", "?")).replace("_", " ")
        over = f" over {dosing['duration_min']:g} min" if dosing.get("duration_min") else ""
        n_doses = len(_dose_spans_s(data)) or len(dosing.get("days") or [0])  # those the run reached
        repeat = f" x {n_doses} doses" if n_doses > 1 else ""
        treatment = f"{drug} {amount} {route}{over}{repeat}"
    return (
        f"{experiment}: {treatment}; circuit {name('circuit')}, hypothesis {name('hypothesis')}, "
        f"{name('state')}, seed {cfg.get('seed', '?')}"
    )


def _mark_windows(ax, starts: Iterable[float], label: str = "spiking windows") -> None:
    for i, s in enumerate(starts):
        ax.axvline(s, color=WINDOW_COLOR, lw=0.8, ls=":", label=label if i == 0 else None, gid="window")


def _labels(data: RunData) -> list[str]:
    labels = data.windows.get("label")
    return (
        [str(x) for x in labels] if labels is not None else [f"window {i}" for i in range(len(data.windows["start_s"]))]
    )


def _populations(data: RunData, populations: Sequence[str] | None) -> list[str]:
    pops = [p for p in POPULATIONS if p in data.spikes] + [p for p in data.spikes if p not in POPULATIONS]
    if populations is None:
        return pops
    missing = [p for p in populations if p not in data.spikes]
    if missing:
        raise KeyError(f"populations {missing} not in the run (have {pops})")
    return list(populations)


# --------------------------------------------------------------------------- the figure set


def raster(
    run,
    windows: Sequence[int] | None = None,
    populations: Sequence[str] | None = None,
    max_neurons: int = 80,
    path: str | os.PathLike | None = None,
):
    """Raster per population (rows) per window (columns).

    Spikes of cells ``0 .. max_neurons - 1`` against time from the window start (s); the
    window's transient (``circuit.transient_s`` of the run's config, left out of the
    readouts) is shaded.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    windows : sequence of int or None
        Rows of ``/windows`` to show; default all, or at most 6 (the first five and the last).
    populations : sequence of str or None
        Populations to show (default: every one with a spike report, pyr, pv, sst first).
    max_neurons : int
        Cells shown per population (ids below it).
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot).

    Raises
    ------
    IndexError
        A window out of range.
    KeyError
        A population not in the run.
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     spikes={"pyr": (np.array([100.0, 1200.0, 1700.0]), np.array([0, 1, 0]))},
    ...     windows={"label": np.array(["baseline", "drug"]), "start_s": np.array([0.0, 1.0]),
    ...              "duration_s": np.array([1.0, 1.0])},
    ...     readouts={"pyr": {"rate": np.array([1.0, 2.0])}},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0]), "glutamate": np.array([1.0, 1.2, 1.1])},
    ... )
    >>> fig = raster(data)
    >>> [ax.get_title() for ax in fig.axes]
    ['baseline', 'drug']
    """
    data = _data(run)
    n_win = len(data.windows["start_s"])
    if windows is None:
        windows = list(range(n_win)) if n_win <= 6 else [0, 1, 2, 3, 4, n_win - 1]
    windows = [int(w) for w in windows]
    bad = [w for w in windows if not 0 <= w < n_win]
    if bad:
        raise IndexError(f"windows {bad} out of range: the run has {n_win} windows")
    pops = _populations(data, populations)
    transient = float((_config(data).get("circuit") or {}).get("transient_s", 0.0) or 0.0)
    labels = _labels(data)
    with _style():
        fig, axes = _figure(
            len(pops),
            len(windows),
            figsize=(2.2 * len(windows) + 0.8, 1.6 * len(pops) + 0.6),
            sharex="col",
            sharey="row",
        )
        for i, pop in enumerate(pops):
            for j, w in enumerate(windows):
                ax = axes[i, j]
                t_ms, ids = spikes_in_window(data, pop, w)
                keep = ids < max_neurons
                ax.plot(t_ms[keep] * 1e-3, ids[keep], "|", ms=2.5, mew=0.6, color=COLORS.get(pop, "k"), gid="spikes")
                if transient > 0:
                    ax.axvspan(0, transient, color="0.92", lw=0, zorder=0)
                ax.set_xlim(0, float(data.windows["duration_s"][w]))
                ax.set_ylim(-0.5, max_neurons - 0.5)
                if i == 0:
                    ax.set_title(labels[w])
                if j == 0:
                    ax.set_ylabel(f"{pop}\ncell")
                if i == len(pops) - 1:
                    ax.set_xlabel("time in window (s)")
        fig.suptitle(f"spikes of cells 0-{max_neurons - 1} per population (grey: transient)")
        return _finish(fig, path)


def population_rates(run, populations: Sequence[str] | None = None, path: str | os.PathLike | None = None):
    """Each population's firing rate per window against the window's time.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    populations : sequence of str or None
        Populations to plot (default: every one with a ``rate`` readout).
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot): ``/readouts/<pop>/rate`` (Hz) against the window start (min from
        the start of dosing where the run has it, else protocol time), baseline dashed.

    Raises
    ------
    ValueError
        The run has no ``/readouts/<population>/rate``.
    KeyError
        A population not in the run.
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     spikes={"pyr": (np.array([100.0, 1200.0, 1700.0]), np.array([0, 1, 0]))},
    ...     windows={"label": np.array(["baseline", "drug"]), "start_s": np.array([0.0, 1.0]),
    ...              "duration_s": np.array([1.0, 1.0])},
    ...     readouts={"pyr": {"rate": np.array([1.0, 2.0])}},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0]), "glutamate": np.array([1.0, 1.2, 1.1])},
    ... )
    >>> fig = population_rates(data)
    >>> fig.axes[0].get_ylabel()
    'firing rate (Hz)'
    """
    data = _data(run)
    pops = [p for p in _populations(data, populations) if p in data.readouts and "rate" in data.readouts[p]]
    if not pops:
        raise ValueError("the run has no /readouts/<population>/rate")
    _, starts, xlabel, scale = _time_axis(data)
    with _style():
        fig, axes = _figure(figsize=(6.0, 3.5))
        ax = axes[0, 0]
        _mark_doses(ax, data, scale)
        for pop in pops:
            rate = np.asarray(data.readouts[pop]["rate"], dtype=float)
            ax.plot(starts, rate, "o-", color=COLORS.get(pop, "k"), label=pop, gid=f"rate_{pop}")
            ax.axhline(rate[0], color=COLORS.get(pop, "k"), lw=0.8, ls="--", alpha=0.6)
        ax.set(xlabel=xlabel, ylabel="firing rate (Hz)", title="population rates per window (dashed: baseline)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: no rate hidden
        return _finish(fig, path)


def pk_curve(run, species: Sequence[str] | None = None, path: str | os.PathLike | None = None):
    """Plasma (dashed) and brain (solid) concentration of each drug species over time.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    species : sequence of str or None
        Species to plot (``s_ketamine``, ``r_ketamine``, ``s_norketamine``, ``r_norketamine``,
        ``hnk``); default every species whose brain concentration is ever above zero.
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot): concentrations in uM against min from the start of dosing (or
        protocol time), the spiking windows marked.

    Raises
    ------
    KeyError
        The timeline has no ``brain_<species>_uM`` of a species asked for.
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     windows={"start_s": np.array([0.0, 1200.0]), "duration_s": np.array([2.0, 2.0])},
    ...     timeline={"time_s": np.array([0.0, 600.0, 1200.0, 1800.0]),
    ...               "brain_s_ketamine_uM": np.array([0.0, 0.0, 1.2, 0.8]),
    ...               "brain_r_ketamine_uM": np.zeros(4)},
    ... )
    >>> [line.get_gid() for line in pk_curve(data).axes[0].get_lines()]  # R-ketamine is never above 0
    ['brain_s_ketamine', 'window', 'window']
    """
    data = _data(run)
    tl = data.timeline
    if species is None:
        species = [k for k in SPECIES if f"brain_{k}_uM" in tl and np.any(np.asarray(tl[f"brain_{k}_uM"]) > 0)]
    missing = [k for k in species if f"brain_{k}_uM" not in tl]
    if missing:
        raise KeyError(f"timeline has no brain concentration of {missing}")
    t, starts, xlabel, scale = _time_axis(data)
    with _style():
        fig, axes = _figure(figsize=(6.5, 3.5))
        ax = axes[0, 0]
        _mark_doses(ax, data, scale)
        for i, k in enumerate(species):
            color = SPECIES_COLORS.get(k, "k")
            lw = 2.8 - 0.4 * i  # later species thinner: coinciding traces (racemic S and R) stay visible
            if f"plasma_{k}_uM" in tl:
                ax.plot(t, tl[f"plasma_{k}_uM"], ls="--", lw=lw, color=color, alpha=0.7, gid=f"plasma_{k}")
            ax.plot(t, tl[f"brain_{k}_uM"], lw=lw, color=color, label=k.replace("_", "-"), gid=f"brain_{k}")
        _mark_windows(ax, starts)
        ax.set(
            xlabel=xlabel,
            ylabel="concentration (µM)",
            title="drug: brain (solid) and plasma (dashed)" if species else "no drug in this run",
        )
        ax.set_ylim(bottom=0)
        ax.legend()
        return _finish(fig, path)


def neurochemistry(run, path: str | os.PathLike | None = None):
    """Bulk extracellular glutamate and adenosine relative to baseline over time.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot): ``/timeline/glutamate`` and ``/timeline/adenosine`` (x baseline)
        against min from the start of dosing (or protocol time), the windows marked.

    Raises
    ------
    ValueError
        The run has neither trace.
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     spikes={"pyr": (np.array([100.0, 1200.0, 1700.0]), np.array([0, 1, 0]))},
    ...     windows={"label": np.array(["baseline", "drug"]), "start_s": np.array([0.0, 1.0]),
    ...              "duration_s": np.array([1.0, 1.0])},
    ...     readouts={"pyr": {"rate": np.array([1.0, 2.0])}},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0]), "glutamate": np.array([1.0, 1.2, 1.1])},
    ... )
    >>> neurochemistry(data).axes[0].get_title()
    'bulk glutamate and adenosine'
    """
    data = _data(run)
    names = [n for n in ("glutamate", "adenosine") if n in data.timeline]
    if not names:
        raise ValueError(
            "the run has no /timeline/glutamate or /timeline/adenosine (neurochemistry.glutamate_pool=false?)"
        )
    t, starts, xlabel, scale = _time_axis(data)
    with _style():
        fig, axes = _figure(figsize=(6.5, 3.5))
        ax = axes[0, 0]
        _mark_doses(ax, data, scale)
        for name, color in (("glutamate", "k"), ("adenosine", "tab:cyan")):
            if name in names:
                ax.plot(t, data.timeline[name], color=color, label=name, gid=name)
        ax.axhline(1.0, color="0.7", lw=0.8)
        _mark_windows(ax, starts)
        ax.set(xlabel=xlabel, ylabel="relative to baseline", title="bulk glutamate and adenosine")
        ax.legend()
        return _finish(fig, path)


def _table(table):
    """A pandas DataFrame from a DataFrame, a list of dicts or a CSV path."""
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, (str, os.PathLike)):
        return pd.read_csv(table)
    return pd.DataFrame(list(table))


def _require_columns(df, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} table: missing column(s) {missing} (has {list(df.columns)})")


def dose_response(table, path: str | os.PathLike | None = None):
    """The dose-response experiment's table as a figure.

    Left: peak bulk glutamate and lowest evoked release; right: each population's largest
    rate change; all in % of baseline, against the IV dose (mg/kg).

    Parameters
    ----------
    table : pandas.DataFrame, str, os.PathLike or list of dict
        ``dose_response.csv`` (a path), its DataFrame, or the rows as dicts
        ([`summarize`][ketamine_sim.experiments.analysis.dose_response.summarize]); needs the columns
        ``DOSE_RESPONSE_COLUMNS``. Rows are sorted by dose.
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot).

    Raises
    ------
    ValueError
        A column is missing (naming it).

    Examples
    --------
    >>> rows = [{c: float(i) for c in DOSE_RESPONSE_COLUMNS} for i in range(3)]
    >>> [ax.get_title() for ax in dose_response(rows).axes]
    ['glutamate', 'firing']
    """
    df = _table(table)
    _require_columns(df, DOSE_RESPONSE_COLUMNS, "dose-response")
    df = df.sort_values("dose_mg_per_kg")
    doses = df["dose_mg_per_kg"].to_numpy(dtype=float)
    with _style():
        fig, axes = _figure(1, 2, figsize=(9.0, 3.5))
        left, right = axes[0]
        left.plot(doses, df["peak_glutamate_change_pct"], "ko-", label="peak bulk glutamate", gid="glutamate")
        left.plot(
            doses,
            df["evoked_release_change_pct"],
            "s-",
            color="tab:purple",
            label="evoked release (lowest)",
            gid="evoked_release",
        )
        left.axhline(0, color="0.7", lw=0.8)
        left.set(xlabel="IV dose over the infusion (mg/kg)", ylabel="change from baseline (%)", title="glutamate")
        left.legend()
        for pop in POPULATIONS:
            right.plot(doses, df[f"{pop}_rate_change_pct"], "o-", color=COLORS[pop], label=pop, gid=f"rate_{pop}")
        right.axhline(0, color="0.7", lw=0.8)
        right.set(xlabel="IV dose over the infusion (mg/kg)", ylabel="largest rate change (%)", title="firing")
        right.legend()
        return _finish(fig, path)


#: Characters of a scorecard cell's value or target (longer texts are cut; the CSV holds them whole).
CELL_CHARACTERS = 22


def _cell_text(value) -> str:
    """A scorecard cell's value or target as short text.

    >>> _cell_text(0.123456), _cell_text(None)
    ('0.123', '-')
    >>> _cell_text("onset: 4.97; six infusions over two weeks > one infusion")
    'onset: 4.97; six...'
    """
    import textwrap

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        return f"{value:.3g}"
    return textwrap.shorten(str(value), width=CELL_CHARACTERS, placeholder="...")


def scorecard(table, path: str | os.PathLike | None = None):
    """The scorecard as a heat map of findings (rows) x hypotheses (columns).

    Green: passed, red: failed, grey: not evaluated (``passed`` missing or NaN, or no row
    for the pair); each cell shows ``value`` and, below it, ``target``, each cut to
    `CELL_CHARACTERS` characters (``scorecard.csv`` holds them whole). Rows and columns in
    order of first appearance.

    Parameters
    ----------
    table : pandas.DataFrame, str, os.PathLike or list of dict
        The scorecard (a DataFrame, a CSV path or a list of dicts) with the columns
        ``finding``, ``hypothesis``, ``passed``, ``value``, ``target``; one row per pair.
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot).

    Raises
    ------
    ValueError
        A column is missing, the table is empty, or a pair has more than one row.

    Examples
    --------
    >>> fig = scorecard([
    ...     {"finding": "C1", "hypothesis": "nmda_block", "passed": True, "value": 1.4, "target": "> 1"},
    ...     {"finding": "C2", "hypothesis": "nmda_block", "passed": None, "value": None, "target": "< 0"},
    ... ])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['C1', 'C2']
    >>> scorecard([{"finding": "C1", "hypothesis": "h", "passed": True, "value": 1}])
    Traceback (most recent call last):
    ...
    ValueError: scorecard table: missing column(s) ['target'] (has ['finding', 'hypothesis', 'passed', 'value'])
    """
    import pandas as pd
    from matplotlib.colors import ListedColormap

    df = _table(table)
    _require_columns(df, SCORECARD_COLUMNS, "scorecard")
    if df.empty:
        raise ValueError("scorecard table: no rows")
    dup = df[df.duplicated(["finding", "hypothesis"], keep=False)]
    if not dup.empty:
        raise ValueError(f"scorecard table: more than one row for {sorted(set(zip(dup.finding, dup.hypothesis)))}")
    findings = list(dict.fromkeys(df["finding"]))
    hypotheses = list(dict.fromkeys(df["hypothesis"]))
    code = np.full((len(findings), len(hypotheses)), np.nan)
    for _, row in df.iterrows():
        passed = row["passed"]
        if passed is None or (not isinstance(passed, (bool, np.bool_)) and pd.isna(passed)):
            continue
        code[findings.index(row["finding"]), hypotheses.index(row["hypothesis"])] = 1.0 if bool(passed) else 0.0
    cmap = ListedColormap(SCORECARD_COLORS[:2]).with_extremes(bad=SCORECARD_COLORS[2])
    with _style():
        fig, axes = _figure(figsize=(1.6 * len(hypotheses) + 2.0, 0.55 * len(findings) + 1.4))
        ax = axes[0, 0]
        ax.imshow(np.ma.masked_invalid(code), cmap=cmap, vmin=0, vmax=1, aspect="auto", gid="scorecard")
        for _, row in df.iterrows():
            i, j = findings.index(row["finding"]), hypotheses.index(row["hypothesis"])
            ax.text(
                j,
                i,
                f"{_cell_text(row['value'])}\n({_cell_text(row['target'])})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if not np.isnan(code[i, j]) else "k",
            )
        ax.set_xticks(range(len(hypotheses)), [str(h) for h in hypotheses], rotation=30, ha="right")
        ax.set_yticks(range(len(findings)), [str(f) for f in findings])
        ax.set_xticks(np.arange(-0.5, len(hypotheses)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(findings)), minor=True)
        ax.grid(which="minor", color="white", lw=2)
        ax.tick_params(which="both", length=0)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        n_pass, n_eval = int(np.nansum(code)), int(np.count_nonzero(~np.isnan(code)))
        ax.set_title(
            f"scorecard: {n_pass}/{n_eval} passed\n"
            "green passed, red failed, grey not evaluated; each cell: value (target)"
        )
        return _finish(fig, path)


def cohort(rows, km, response_fraction: float = 0.5, path: str | os.PathLike | None = None):
    """A virtual patient cohort: each patient's largest share of its gap to healthy closed,
    against the response line (left); response rates with their 95% intervals (middle); the
    Kaplan-Meier estimate of staying well among responders, with its 95% band (right).

    Parameters
    ----------
    rows : pandas.DataFrame
        ``cohort.csv``: one row per patient with ``response_day_1``,
        ``response_after_last_dose`` and ``placebo_responder`` (1/0) and ``peak_gap_closed``.
    km : lifelines.KaplanMeierFitter or None
        The fitted estimate (``ketamine_sim.experiments.cohort.kaplan_meier``); None: no responder, the
        right panel says so.
    response_fraction : float
        The response line (``cohort.response_fraction``).
    path : str, os.PathLike or None
        Also save as ``<path>.png`` and ``<path>.svg``; None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ketamine_sim.experiments.cohort import wilson_interval

    fig, axes = _figure(1, 3, figsize=(13.0, 3.8))
    gaps, left, right = axes[0]
    closed = 100 * rows["peak_gap_closed"].to_numpy(dtype=float)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(closed))  # spread the dots only
    gaps.plot(jitter, closed, "o", color="0.3", alpha=0.7, gid="gap_closed")
    gaps.axhline(100 * response_fraction, color="tab:purple", ls="--", label="response line", gid="response_line")
    gaps.set_xlim(-1, 1)
    gaps.set_xticks([])
    gaps.set_ylim(min(0.0, float(np.nanmin(closed, initial=0.0))) - 5, 105)
    gaps.set_ylabel("largest share of the gap\nto healthy closed (%)")
    gaps.set_title("each patient's mood proxy")
    gaps.legend(loc="upper right")
    n = len(rows)
    placebo = rows["placebo_responder"].to_numpy() == 1 if "placebo_responder" in rows else np.zeros(n, bool)
    arms = (
        ("model alone", "0.75", None),
        ("drug arm (model or placebo)", "tab:purple", True),
        ("placebo arm", "0.35", False),
    )
    groups = {"response_day_1": "day 1", "response_after_last_dose": "day after\nlast dose"}
    for g, column in enumerate(groups):
        model = rows[column].to_numpy() == 1
        for a, (label, color, with_drug) in enumerate(arms):
            hits = model if with_drug is None else (model | placebo if with_drug else placebo)
            k, x = int(hits.sum()), g + (a - 1) * 0.27
            low, high = wilson_interval(k, n)
            left.bar(x, 100 * k / n, width=0.25, color=color, label=label if g == 0 else None, gid=f"rate_{column}_{a}")
            left.errorbar(x, 100 * k / n, yerr=[[100 * (k / n - low)], [100 * (high - k / n)]], color="k", capsize=3)
    left.set_xticks(range(len(groups)), list(groups.values()))
    left.legend(loc="upper left", fontsize="small")
    left.set_ylim(0, 100)
    left.set_ylabel("patients responding (%)")
    left.set_title(f"responding, {n} patients (95% Wilson)")
    if km is None:
        right.text(0.5, 0.5, "no responder: no relapse curve", ha="center", va="center", transform=right.transAxes)
        right.set_axis_off()
    else:
        km.plot_survival_function(ax=right, ci_show=True, color="tab:purple")
        right.set_ylim(0, 1.05)
        right.set_xlabel("days after the last dose")
        right.set_ylabel("fraction still responding")
        responders = int(rows["response_after_last_dose"].sum())
        right.set_title(f"relapse of {responders} end-of-course responders (K-M)")
    return _finish(fig, path)


def sensitivity(table, method: str = "morris", path: str | os.PathLike | None = None, parameters=None):
    """A sensitivity analysis as a heat map of readouts (rows) x parameters (columns): each
    cell the parameter's share (%) of the readout's summed index (mu* for Morris, ST for
    Sobol). With the circuit seed analysed (``sensitivity.noise_floor``), its column is
    framed and cells not above the seed's share are hatched: not told from noise. A readout
    undefined in some runs (``runs_undefined``) is a grey row that says so.

    Parameters
    ----------
    table : pandas.DataFrame, str or os.PathLike
        ``sensitivity.csv`` (``ketamine_sim.experiments.sensitivity.analyse``): ``readout``,
        ``parameter``, ``share``.
    method : str
        ``morris`` or ``sobol`` (names the index in the title).
    path : str, os.PathLike or None
        Also save as ``<path>.png`` and ``<path>.svg``; None: only return it.
    parameters : list of str, optional
        The columns' order (``sensitivity.parameters``' keys, the seed last); None: first
        appearance in the table.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"readout": ["a", "a", "b", "b"], "parameter": ["x", "seed"] * 2,
    ...                   "share": [0.9, 0.1, 0.2, 0.8]})
    >>> fig = sensitivity(t)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['a', 'b']
    """
    import pandas as pd
    from matplotlib import colormaps

    from ketamine_sim.experiments.sensitivity import SEED_PARAMETER

    table = pd.read_csv(table) if isinstance(table, (str, os.PathLike)) else table
    readouts = list(dict.fromkeys(table["readout"]))
    params = list(parameters) if parameters is not None else list(dict.fromkeys(table["parameter"]))
    share = table.pivot(index="readout", columns="parameter", values="share").reindex(index=readouts, columns=params)
    values = 100 * share.to_numpy(dtype=float)
    width = max(6.0, 0.75 * len(params) + 2.5)
    fig, axes = _figure(1, 1, figsize=(width, 0.45 * len(readouts) + 2.8))
    ax = axes[0, 0]
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    floor = share[SEED_PARAMETER].to_numpy(dtype=float) if SEED_PARAMETER in share else None
    undefined = table.groupby("readout")["runs_undefined"].max() if "runs_undefined" in table else {}
    for i, readout in enumerate(readouts):
        if int(undefined.get(readout, 0)):
            ax.text(
                (len(params) - 1) / 2,
                i,
                f"undefined in {int(undefined[readout])} runs: no indices",
                ha="center",
                va="center",
                fontsize="small",
                gid="undefined",
            )
        for j, param in enumerate(params):
            v = values[i, j]
            if not np.isfinite(v):
                continue
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize="small", color="w" if v < 60 else "k")
            if floor is not None and param != SEED_PARAMETER and v <= 100 * floor[i]:
                ax.add_patch(_hatched_cell(j, i))
    if floor is not None:
        j = params.index(SEED_PARAMETER)
        ax.add_patch(_framed_column(j, len(readouts)))
    ax.set_xticks(range(len(params)), [p.replace(".", ".\u200b") for p in params], rotation=60, ha="right")
    ax.set_yticks(range(len(readouts)), readouts)
    index = "mu*" if method == "morris" else "ST"
    fig.colorbar(image, ax=ax, label=f"share of the readout's summed {index} (%)")
    noise = "; hatched: not above the circuit seed's (noise)" if floor is not None else ""
    ax.set_title(f"which free parameter decides which readout ({method}){noise}", fontsize="medium")
    return _finish(fig, path)


def _hatched_cell(j: int, i: int):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.6", lw=0, gid="below_noise")


def _framed_column(j: int, rows: int):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, -0.5), 1, rows, fill=False, edgecolor="tab:red", lw=2, gid="seed_column")


def spine_density(run, path: str | os.PathLike | None = None):
    """The dendritic spine density over days.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (built without pyplot): ``/timeline/spine_density`` (its unit from the file, relative to
        the healthy steady state as the simulator writes it) against days from the start of
        dosing where the run has it, else protocol time. A 2-D trace (time x populations or
        dendrites) gives one line per column.

    Raises
    ------
    ValueError
        The run has no ``/timeline/spine_density`` (it comes from a days-to-weeks
        plasticity protocol).
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> day = 86400.0
    >>> data = RunData(
    ...     windows={"start_s": np.array([0.0]), "duration_s": np.array([2.0])},
    ...     timeline={"time_s": np.array([0.0, 1.0, 2.0, 7.0]) * day,
    ...               "spine_density": np.array([0.8, 0.9, 0.95, 0.85])},
    ...     timeline_units={"spine_density": "1 (relative to the healthy steady state)"},
    ... )
    >>> spine_density(data).axes[0].get_xlabel()
    'protocol time (days)'
    """
    data = _data(run)
    if "spine_density" not in data.timeline:
        raise ValueError(
            "the run has no /timeline/spine_density (it comes from a days-to-weeks "
            f"plasticity protocol); timeline has {sorted(data.timeline)}"
        )
    t, starts, xlabel, scale = _time_axis(data, "days")
    y = np.asarray(data.timeline["spine_density"], dtype=float)
    _, meaning = split_units(data.timeline_units.get("spine_density", ""))
    with _style():
        fig, axes = _figure(figsize=(6.0, 3.5))
        ax = axes[0, 0]
        _mark_doses(ax, data, scale)
        ax.axhline(1.0, color="0.7", lw=0.8, ls=":", label="healthy steady state")
        if y.ndim == 1:
            ax.plot(t, y, color="k", gid="spine_density")
        else:
            for c in range(y.shape[1]):
                ax.plot(t, y[:, c], label=f"{c}", gid=f"spine_density_{c}")
        finite = y[np.isfinite(y)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (1.0, 1.0)
        margin = 0.08 * max(high - low, 0.1)  # room for the dose marks above the trace
        ax.set_ylim(min(SPINE_RANGE[0], low - margin), max(SPINE_RANGE[1], high + margin))
        ax.set(
            xlabel=xlabel,
            ylabel=f"spine density\n({meaning})" if meaning else "spine density",
            title="dendritic spine density",
        )
        ax.legend(loc="lower right")
        fig.suptitle(conditions(data), fontsize=8)
        return _finish(fig, path)


def figure_set(run, folder: str | os.PathLike) -> list[Path]:
    """Every figure a run supports, as PNG and SVG in one folder.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    folder : str or os.PathLike
        Where to write (created if missing); files of the same name are replaced.

    Returns
    -------
    list of pathlib.Path
        The files written: ``raster``, ``population_rates``, ``pk_curve``, and
        ``neurochemistry``, ``spine_density``, ``field_spectra`` and ``onset`` (windows carried
        from one to the next after a dose) where the run has the traces, each as
        ``.png`` and ``.svg``.

    Raises
    ------
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.
    ValueError, KeyError
        The run lacks what a figure it always gets needs (rates, brain concentrations).
    OSError
        A file cannot be written.
    """
    data = _data(run)
    folder = Path(folder)
    makers = [("raster", raster), ("population_rates", population_rates), ("pk_curve", pk_curve)]
    if "glutamate" in data.timeline or "adenosine" in data.timeline:
        makers.append(("neurochemistry", neurochemistry))
    if "spine_density" in data.timeline:
        makers.append(("spine_density", spine_density))
    if data.field_potential:
        makers.append(("field_spectra", field_spectra))
    if _continuous_after_dose(data):
        makers.append(("onset", onset))
    written: list[Path] = []
    for name, make in makers:
        written.extend(save(make(data), folder / name))
    return written


def field_spectra(run, published: tuple[float, float] | None = None, path: str | os.PathLike | None = None):
    """The field-potential proxy's spectrum in every window, and its gamma power against the first.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A [`Run`][ketamine_sim.experiments.analysis.Run], a [`RunData`][ketamine_sim.experiments.results.RunData], a
        run folder or a ``results.h5`` (read with
        [`read_results`][ketamine_sim.experiments.results.read_results]).
    published : tuple of float or None
        A published range of the gamma power ratio (fold) to shade beside the model's (seed
        C5: (2, 5)); None: none drawn.
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``
        ([`save`][ketamine_sim.experiments.figures.save]); None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the Welch spectrum (nA^2/Hz, 256-ms segments, after the transient) of
        ``/field_potential/proxy`` per window (at most 8: the first, the last and evenly
        between), log-log, the gamma band shaded. Right: per window,
        ``field_power_gamma`` relative to the first window's, and the pyramidal and PV
        ``gamma_rhythmicity`` (1: no gamma beyond the spike count).

    Raises
    ------
    ValueError
        The run has no field potential (its engine recorded none).
    ResultsFileError
        ``run`` is a path that cannot be read.
    TypeError
        ``run`` is none of the accepted types.
    """
    data = _data(run)
    if not data.field_potential:
        raise ValueError("the run has no /field_potential (a run of a version or engine that records none)")
    fp, labels = data.field_potential, _labels(data)
    sample_ms = float(np.diff(fp["time_ms"][:2])[0]) if len(fp["time_ms"]) > 1 else 1.0
    transient_ms = 1e3 * float(_config(data).get("circuit", {}).get("transient_s", 0.0))
    keep = fp["time_ms"] >= transient_ms
    with _style():
        fig, axes = _figure(1, 2, figsize=(10.0, 3.8))
        ax, right = axes[0, 0], axes[0, 1]
        colors = _colors("viridis", len(labels))
        # at most 8 spectra (the first, the last and evenly between): more would hide each other
        shown = np.unique(np.linspace(0, len(labels) - 1, min(len(labels), 8)).round().astype(int))
        for i in shown:
            label = labels[i]
            proxy = fp["proxy"][i][keep]
            if np.count_nonzero(np.isfinite(proxy)) < 2:
                continue
            freq, psd = welch_spectrum(proxy, sample_ms, FIT_SEGMENT_MS)
            ax.loglog(freq[1:], psd[1:], color=colors[i], label=label, gid=f"spectrum_{i}")
        ax.axvspan(*GAMMA_BAND_HZ, color="0.9", zorder=0)
        ax.set(xlabel="frequency (Hz)", ylabel="power (nA$^2$/Hz)", title="field-potential proxy (Mazzoni 2015)")
        if ax.lines:
            ax.legend(title="window", fontsize=7)
        else:
            ax.text(0.5, 0.5, "no window long enough for a spectrum", transform=ax.transAxes, ha="center")
        x = np.arange(len(labels))
        gamma = np.asarray(data.readouts.get("pyr", {}).get("field_power_gamma", np.full(len(labels), np.nan)))
        right.plot(x, gamma / gamma[0], "ko-", label="field gamma power / first window", gid="gamma_ratio")
        for pop in ("pyr", "pv"):
            values = data.readouts.get(pop, {}).get("gamma_rhythmicity")
            if values is not None:
                right.plot(
                    x, values, "s--", color=COLORS[pop], label=f"{pop} gamma rhythmicity", gid=f"rhythmicity_{pop}"
                )
        if published is not None:
            right.axhspan(*published, color="tab:orange", alpha=0.2, label="published gamma power ratio")
        right.axhline(1.0, color="0.7", lw=0.8)
        right.set_xticks(x[shown], [labels[i] for i in shown], rotation=30, ha="right")
        right.set(ylabel="fold", title="gamma (30-80 Hz): power and rhythm")
        right.legend(fontsize=7)
        return _finish(fig, path)


def onset(run, smooth_s: float = SMOOTH_S, path: str | os.PathLike | None = None):
    """What changes first after a dose: brain concentration, rates and NMDA block over time.

    Parameters
    ----------
    run : Run, RunData, str or os.PathLike
        A run with windows after the dose (best back to back, ``iv_infusion.back_to_back_min``
        with ``circuit.carry_state=true``), as for
        [`onset_table`][ketamine_sim.experiments.analysis.onset.onset_table].
    smooth_s : float
        Running mean of the rates (s).
    path : str, os.PathLike or None
        Also save the figure as ``<path>.png`` and ``<path>.svg``; None: only return it.

    Returns
    -------
    matplotlib.figure.Figure
        Three rows against min from the dose, over the post-dose windows: the brain
        concentration of the drug (all species, uM); each population's rate relative to its
        pre-dose baseline (each window faint, the running mean solid, the half-time of the
        change marked); each population's mean blocked NMDA fraction (half-times marked).

    Raises
    ------
    ValueError
        As [`onset_table`][ketamine_sim.experiments.analysis.onset.onset_table].
    """
    data = _data(run)
    table = onset_table(data, smooth_s).set_index("population")
    t = np.asarray(data.windows["time_from_dose_s"], dtype=float)
    after = t >= 0
    t_min = t[after] / 60.0
    tl = np.asarray(data.timeline["time_from_dose_s"], dtype=float)
    shown = (tl >= 0) & (tl <= t[after][-1] + float(np.asarray(data.windows["duration_s"])[-1]))
    with _style():
        fig, axes = _figure(3, 1, figsize=(7.0, 7.5), sharex=True)
        drug = sum(np.asarray(data.timeline[f"brain_{k}_uM"]) for k in SPECIES if f"brain_{k}_uM" in data.timeline)
        axes[0, 0].plot(tl[shown] / 60.0, np.asarray(drug)[shown], "k", gid="brain_drug")
        axes[0, 0].set(ylabel="brain drug (uM)", title="after the dose: drug, rates, block")
        ax = axes[1, 0]
        for pop in data.readouts:
            rate = np.asarray(data.readouts[pop]["rate"], dtype=float)
            baseline = float(table.loc[pop, "rate_baseline_hz"])
            relative = rate[after] / baseline if baseline > 0 else np.full(t_min.shape, np.nan)
            color = COLORS.get(pop, "k")
            ax.plot(t_min, relative, color=color, alpha=0.25, lw=0.6)
            smooth = running_mean(t[after], relative, smooth_s)
            ax.plot(t_min, smooth, color=color, label=pop, gid=f"rate_{pop}")
            half = table.loc[pop, "rate_half_time_s"]
            if np.isfinite(half):
                ax.axvline(half / 60.0, color=color, ls=":", lw=1.0)
        ax.axhline(1.0, color="0.7", lw=0.8)
        ax.set(ylabel="rate / baseline")
        # beside the axes: no curve hidden
        ax.legend(
            title=f"running mean {smooth_s:g} s\ndotted: half-time",
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        ax = axes[2, 0]
        for pop in data.readouts:
            color = COLORS.get(pop, "k")
            ax.plot(
                tl[shown] / 60.0,
                np.asarray(data.timeline[f"nmda_blocked_{pop}"])[shown],
                color=color,
                label=pop,
                gid=f"block_{pop}",
            )
            half = table.loc[pop, "block_half_time_s"]
            if np.isfinite(half):
                ax.axvline(half / 60.0, color=color, ls=":", lw=1.0)
        ax.set(xlabel="min from the start of the dose", ylabel="NMDA blocked fraction")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _finish(fig, path)


def _continuous_after_dose(data: RunData) -> bool:
    """Whether the run has windows before a dose and windows after it that started from the last
    one's state (``circuit.carry_state``): what `onset` reads."""
    carried = np.asarray(data.windows.get("network_state_carried", []), dtype=float)
    t = np.asarray(data.windows.get("time_from_dose_s", []), dtype=float)
    return bool(carried.size and t.size and np.any(carried > 0) and np.any(t < 0) and np.any(t >= 0))


def _colors(name: str, n: int) -> list:
    """``n`` colours evenly spaced along a matplotlib colormap."""
    from matplotlib import colormaps

    cmap = colormaps[name]
    return [cmap(v) for v in np.linspace(0.0, 0.9, max(n, 1))]


# --------------------------------------------------------------------------- summary (command line)


def summary_figure(data: RunData, path: str | Path) -> Path:
    """The command line's summary figure of a run, as one PNG (written atomically).

    Titled with the run's conditions ([`conditions`][ketamine_sim.experiments.figures.conditions]). Four
    panels: brain (and plasma) concentration with the doses and windows marked; NMDA blocked
    fraction per population with glutamate and adenosine; firing rate per window; rasters of
    the baseline (first) window and the window with the highest brain concentration, against
    time in the window. Time is in the unit of the protocol's span
    ([`natural_time_unit`][ketamine_sim.experiments.figures.natural_time_unit]: min for an infusion, days
    for a course). Drawn in the shared ``STYLE`` (150 dpi); built without pyplot, so it
    leaves the caller's matplotlib backend alone (a notebook's inline backend stays).

    Parameters
    ----------
    data : RunData
        A run of a protocol experiment: it needs ``brain_<species>_uM`` and
        ``nmda_blocked_<population>`` on the timeline, the window labels and concentrations,
        and the ``rate`` readout of pyr, pv and sst.
    path : str or pathlib.Path
        The PNG to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    KeyError
        A trace, column or readout it needs is missing.
    OSError
        The file cannot be written; it is then left as it was.
    """
    with _style():
        fig = _figure(2, 2, figsize=(11, 7.4))[0]
        axes = np.array(fig.axes).reshape(2, 2)
        t, starts, xlabel, scale = _time_axis(data)
        _summary_drug(axes[0, 0], data, t, starts, xlabel, scale)
        _summary_block(axes[0, 1], data, t, starts, xlabel, scale)
        _summary_rates(axes[1, 0], data, starts, xlabel, scale)
        _summary_rasters(fig, axes[1, 1], data)
        fig.suptitle(f"ketamine-sim: {conditions(data)}")
        return _save_atomic(fig, Path(path))


def _summary_drug(ax, data: RunData, t, starts, xlabel: str, scale: float) -> None:
    """Brain and plasma concentration of all species, doses and windows marked."""
    _mark_doses(ax, data, scale)
    ax.plot(t, sum(data.timeline[f"brain_{k}_uM"] for k in SPECIES), color="k", label="brain, all species")
    if f"plasma_{SPECIES[0]}_uM" in data.timeline:
        plasma = sum(data.timeline[f"plasma_{k}_uM"] for k in SPECIES)
        ax.plot(t, plasma, color="0.5", ls="--", label="plasma, all species")
    _mark_windows(ax, starts)
    ax.set(xlabel=xlabel, ylabel="concentration (µM)", title="drug")
    ax.set_ylim(bottom=0)
    ax.legend()


def _summary_block(ax, data: RunData, t, starts, xlabel: str, scale: float) -> None:
    """NMDA blocked fraction per population; glutamate and adenosine on a second axis."""
    _mark_doses(ax, data, scale)
    for pop in POPULATIONS:
        ax.plot(t, data.timeline[f"nmda_blocked_{pop}"], color=COLORS[pop], label=pop)
    ax.set(xlabel=xlabel, ylabel="NMDA blocked fraction", ylim=(0, 1), title="ketamine block, glutamate, adenosine")
    handles = ax.get_legend_handles_labels()
    names = [n for n in ("glutamate", "adenosine") if n in data.timeline]
    if names:
        chem = ax.twinx()
        chem.spines["right"].set_visible(True)
        for name in names:
            chem.plot(t, data.timeline[name], "k-" if name == "glutamate" else "k:", lw=1, label=name)
        chem.set_ylabel("glutamate, adenosine (relative to baseline)")
        more = chem.get_legend_handles_labels()
        handles = (handles[0] + more[0], handles[1] + more[1])
        legend = chem.legend(*handles, loc="center right", frameon=True, framealpha=0.85, edgecolor="none")
    else:
        legend = ax.legend(*handles, loc="center right", frameon=True, framealpha=0.85, edgecolor="none")
    legend.set_zorder(10)


#: Up to this many windows the rate panel names each window; more are placed on the time axis.
MAX_WINDOW_LABELS = 12


def _summary_rates(ax, data: RunData, starts, xlabel: str, scale: float) -> None:
    """Each population's rate per window: the windows by label, or on the time axis (with
    the doses) when there are too many to name."""
    named = len(starts) <= MAX_WINDOW_LABELS
    x = np.arange(len(starts)) if named else starts
    if not named:
        _mark_doses(ax, data, scale)
    for pop in POPULATIONS:
        ax.plot(x, data.readouts[pop]["rate"], "o-" if named else ".-", color=COLORS[pop], label=pop)
    if named:
        ax.set_xticks(x, _labels(data), rotation=45, ha="right")
    ax.set(xlabel="spiking window" if named else xlabel, ylabel="firing rate (Hz)", title="rate per window")
    top = max(float(np.nanmax(data.readouts[pop]["rate"])) for pop in POPULATIONS)
    ax.set_ylim(0, 1.25 * top if np.isfinite(top) and top > 0 else 1.0)
    ax.legend(ncols=len(POPULATIONS), loc="upper center")


def _summary_rasters(fig, ax, data: RunData, shown: int = 60) -> None:
    """Rasters of the first window and of the one with the most drug, side by side, against
    time in the window (s); ``ax``'s place is split in two."""
    drug = sum(np.asarray(data.windows[f"brain_{k}_uM"], dtype=float) for k in SPECIES)
    most = int(np.argmax(drug)) if np.any(drug > 0) else len(drug) - 1
    spec = ax.get_subplotspec()
    fig.delaxes(ax)
    panels = spec.subgridspec(1, 2, wspace=0.05).subplots(sharey=True)
    labels = _labels(data)
    for panel, index in zip(panels, (0, most)):
        offset, ticks = 0, []
        for pop in POPULATIONS:
            times_ms, ids = spikes_in_window(data, pop, index)
            keep = ids < shown
            panel.plot(times_ms[keep] / 1e3, offset + ids[keep], "|", ms=2, color=COLORS[pop])
            ticks.append((offset + shown / 2, pop))
            offset += shown + 5
        panel.set_xlim(0, float(data.windows["duration_s"][index]))
        panel.set(xlabel="time in window (s)", title=f"'{labels[index]}', brain drug {format_uM(float(drug[index]))}")
    panels[0].set_yticks([y for y, _ in ticks], [pop for _, pop in ticks])
    panels[0].set_ylabel(f"cells 0-{shown - 1} of each population")


def dose_response_png(rows: list[dict[str, float]], path: Path) -> Path:
    """The dose-response figure as one PNG, written atomically.

    Parameters
    ----------
    rows : list of dict of str to float
        One row per dose ([`summarize`][ketamine_sim.experiments.analysis.dose_response.summarize]).
    path : pathlib.Path
        The PNG to write (the shared ``STYLE``, 150 dpi).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        A column of ``DOSE_RESPONSE_COLUMNS`` is missing
        ([`dose_response`][ketamine_sim.experiments.figures.dose_response]).
    OSError
        The file cannot be written; it is then left as it was.
    """
    with _style():
        fig = dose_response(rows)
        return _save_atomic(fig, Path(path))


#: The last chunk of every complete PNG file.
_PNG_END = b"IEND\xaeB`\x82"


def png_complete(path: Path) -> bool:
    """Whether a file is a PNG written to its end.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    bool
        True if it ends with the PNG end chunk (``IEND``); False if it is missing, cut off
        or cannot be read (a resumed sweep redraws such a figure).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> cut = pathlib.Path(tempfile.mkdtemp()) / "summary.png"
    >>> _ = cut.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
    >>> png_complete(cut), png_complete(cut.with_name("missing.png"))
    (False, False)
    """
    try:
        with open(path, "rb") as f:
            f.seek(max(Path(path).stat().st_size - len(_PNG_END), 0))
            return f.read() == _PNG_END
    except OSError:
        return False
