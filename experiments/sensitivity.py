"""Global sensitivity analysis of the free parameters (``experiment=sensitivity``).

Which free choice decides which answer? Each free parameter of ``sensitivity.parameters``
(a config key with a range) is varied over its range; every sample of the parameters is a
``course`` run of the experiment's own config (one dose, followed for a week by default),
and each run gives the key readouts (`READOUTS`): the acute change of each population's rate,
the glutamate peak, the change of the release fraction, the spine rise and the mood proxy's
gain at days 1 and 7.

Two methods, both from SALib (Herman & Usher 2017 J Open Source Softw [@herman2017salib]):

- ``morris`` (default): elementary effects on ``sensitivity.samples`` trajectories of a grid
  of ``sensitivity.levels`` levels, ``samples x (k + 1)`` runs for k parameters (Morris 1991
  Technometrics [@morris1991factorial]; mu* of Campolongo 2007 Environ Model Softw
  [@campolongo2007effective]). An elementary effect is the change of a readout when one
  parameter moves by levels / (2 (levels - 1)) of its range, divided by that fraction: mu*, the
  mean of their absolute values, is the readout's change per whole range of the parameter, in
  the readout's unit; sigma, their spread, shows interactions and nonlinearity. A screening
  method: it ranks the parameters, it does not apportion variance.
- ``sobol``: first-order and total Sobol indices (S1, ST: the share of a readout's variance a
  parameter explains alone and with all its interactions) from Saltelli's scheme,
  ``samples x (k + 2)`` runs (Saltelli 2010 Comput Phys Commun [@saltelli2010variance]);
  ``samples`` a power of 2.

Without ``sensitivity.noise_floor`` every run uses the config's circuit ``seed`` (common random
numbers: a parameter's effect is not confounded with another noise realisation). The noise of
the circuit still enters, since another parameter value changes the spikes; with
``sensitivity.noise_floor`` (the default) the circuit seed itself is analysed as one more
parameter (drawn from [1, 10^6]; the numbers are common only within each step of a trajectory
that leaves the seed alone): a parameter whose index is not above the seed's cannot be told
from noise by this design.

The table ``sensitivity.csv`` has one row per readout and parameter: its rank, its share of
the readout's summed index (mu* for morris, ST for sobol) and the method's indices with their
95% bootstrap intervals; ``sensitivity_samples.csv`` has one row per run (parameter values,
readouts, run folder).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from ketamine_sim.circuits.units import SECONDS_PER_DAY
from ketamine_sim.experiments.analysis.course import excess_at_day
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.files import atomic_write
from ketamine_sim.experiments.results import RunData, read_results
from ketamine_sim.experiments.scoring.configured_runs import config_digest, payload_of
from ketamine_sim.experiments.scoring.scorecard import PlannedRun

log = logging.getLogger(__name__)

#: The experiment's tables, in its folder.
TABLE, SAMPLES = "sensitivity.csv", "sensitivity_samples.csv"
#: The pseudo-parameter of ``sensitivity.noise_floor``: the circuit seed, drawn from this range.
SEED_PARAMETER, SEED_RANGE = "seed", (1.0, 1.0e6)
#: The method's index that ranks the parameters.
RANKED_BY = {"morris": "mu_star", "sobol": "ST"}


@dataclasses.dataclass(frozen=True)
class Readout:
    """One key readout of a course run.

    Attributes
    ----------
    unit : str
        Its unit (``1``: a relative change or a fraction).
    description : str
        What it is.
    value : callable
        ``value(run)`` from a course run's `RunData`.
    """

    unit: str
    description: str
    value: Callable[[RunData], float]


def peak_window(run: RunData) -> int:
    """The index of the window with the most drug in the brain (the sum of every species'
    brain concentration in uM); 0, the baseline window, when no window saw drug.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> run = SimpleNamespace(windows={"brain_s_ketamine_uM": np.array([0.0, 0.3, 0.2]),
    ...                                "brain_hnk_uM": np.array([0.0, 0.0, 0.05])})
    >>> peak_window(run)  # 0.3 uM against 0.25 uM
    1
    """
    brain = [np.asarray(v, dtype=float) for k, v in run.windows.items() if k.startswith("brain_") and k.endswith("_uM")]
    return int(np.argmax(np.sum(brain, axis=0))) if brain else 0


def _change_at_peak(run: RunData, values) -> float:
    """Per-window ``values`` at the brain's peak window relative to the first (baseline)
    window, minus 1 (NaN when the baseline is 0)."""
    values = np.asarray(values, dtype=float)
    before, after = float(values[0]), float(values[peak_window(run)])
    return after / before - 1.0 if before > 0 else math.nan


def _rate_change(population: str) -> Readout:
    return Readout(
        "1",
        f"{population} rate at the window of peak brain drug relative to the first (baseline) window, minus 1",
        lambda run: _change_at_peak(run, run.readouts[population]["rate"]),
    )


READOUTS: dict[str, Readout] = {
    "rate_change_pyr": _rate_change("pyr"),
    "rate_change_pv": _rate_change("pv"),
    "rate_change_sst": _rate_change("sst"),
    "glutamate_peak": Readout(
        "1",
        "largest bulk glutamate of the timeline relative to baseline, minus 1 (the Glx rise of TARGETS C4)",
        lambda run: float(np.max(run.timeline["glutamate"])) - 1.0,
    ),
    "release_fraction_change": Readout(
        "1",
        "pyramidal release fraction U at the window of peak brain drug relative to the first window, minus 1 "
        "(the adenosine A1 feedback that lowers evoked release, TARGETS A1, A2)",
        lambda run: _change_at_peak(run, run.windows["release_fraction"]),
    ),
    "spine_rise_day_1": Readout(
        "1",
        "spine density (relative to healthy) one day after the dose minus at the dose",
        lambda run: _excess_within(run, "spine_density", 1.0),
    ),
    "outcome_day_1": Readout(
        "1",
        "mood proxy (E->E strength relative to healthy) one day after the dose minus at the dose",
        lambda run: _excess_within(run, "outcome", 1.0),
    ),
    "outcome_day_7": Readout(
        "1",
        "mood proxy seven days after the dose minus at the dose",
        lambda run: _excess_within(run, "outcome", 7.0),
    ),
}


def _excess_within(run: RunData, name: str, day: float) -> float:
    """`excess_at_day`, NaN past the end of the run's timeline (a course shorter than ``day``)."""
    end_day = float(run.timeline["time_from_dose_s"][-1]) / SECONDS_PER_DAY
    return excess_at_day(run.timeline, name, day) if day <= end_day + 1e-9 else math.nan


def readouts(run: RunData) -> dict[str, float]:
    """Every readout of `READOUTS` of one course run.

    Parameters
    ----------
    run : RunData
        A course run's results (``ketamine_sim.experiments.results.read_results``).

    Returns
    -------
    dict of str to float
        Readout name -> value (NaN where it is undefined, e.g. a population silent at baseline).
    """
    return {name: float(r.value(run)) for name, r in READOUTS.items()}


# --------------------------------------------------------------------------- the design
def parameters(cfg) -> list[tuple[str, float, float]]:
    """``sensitivity.parameters`` as (key, low, high), with the circuit seed appended when
    ``sensitivity.noise_floor``."""
    out = [(str(p["key"]), float(p["low"]), float(p["high"])) for p in cfg.sensitivity.parameters]
    if cfg.sensitivity.noise_floor:
        out.append((SEED_PARAMETER, *SEED_RANGE))
    return out


def problem(cfg) -> dict:
    """The SALib problem: ``num_vars``, ``names`` and ``bounds`` of `parameters`."""
    params = parameters(cfg)
    return {"num_vars": len(params), "names": [k for k, _, _ in params], "bounds": [[lo, hi] for _, lo, hi in params]}


def runs_needed(method: str, samples: int, k: int) -> int:
    """Runs of a design of ``k`` parameters: ``samples (k + 1)`` (morris) or ``samples (k + 2)`` (sobol,
    first-order and total indices).

    Examples
    --------
    >>> runs_needed("morris", 4, 13), runs_needed("sobol", 64, 13)
    (56, 960)
    """
    return samples * (k + 1) if method == "morris" else samples * (k + 2)


def design(cfg) -> np.ndarray:
    """The parameter values of every run, shape ``(runs, k)``, from SALib's sampler seeded with
    ``sensitivity.seed`` (the same seed gives the same design)."""
    s = cfg.sensitivity
    if s.method == "morris":
        from SALib.sample import morris

        return morris.sample(problem(cfg), N=int(s.samples), num_levels=int(s.levels), seed=int(s.seed))
    from SALib.sample import sobol

    return sobol.sample(problem(cfg), int(s.samples), calc_second_order=False, seed=int(s.seed))


def sample_config(cfg, values: dict[str, float], course=None):
    """The ``course`` config of one sample: the experiment's config without ``sensitivity``,
    each parameter set to its value as a float (the seed rounded to an integer; a key that must
    be an integer refuses the sample when it is checked), and no figure.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A validated ``experiment=sensitivity`` config.
    values : dict of str to float
        Parameter key -> value.
    course : omegaconf.DictConfig, optional
        `course_config` of ``cfg``, when the caller has it (it is copied; None: built here).

    Returns
    -------
    omegaconf.DictConfig
        A config that ``ketamine_sim.experiments.kinds.run_experiment`` runs as a course.
    """
    course = copy.deepcopy(course) if course is not None else course_config(cfg)
    for key, value in values.items():  # a float, whatever the key held: the design's levels are kept
        OmegaConf.update(course, key, int(round(value)) if key == SEED_PARAMETER else float(value), merge=False)
    return course


def course_config(cfg):
    """The experiment's config as the ``course`` every sample varies: without ``sensitivity``
    (and Hydra's own node), no figure."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("hydra", None)
    tree.pop("sensitivity")
    tree["experiment"]["name"] = "course"
    tree["output"]["figure"] = False
    return OmegaConf.create(tree)


def plan(cfg, folder: Path) -> tuple[np.ndarray, list[PlannedRun]]:
    """The design and each sample's planned run: its config (as YAML, the run's payload) and its
    folder ``samples/sample<i>-<hash of its config>`` (a changed config is a new folder, so a
    resumed analysis never reuses a run of other settings).

    Raises
    ------
    ConfigError
        A sample whose config is not valid (a range reaching outside a key's allowed values),
        naming the parameter's entry, before any run.
    """
    from ketamine_sim.experiments.config import validate

    X = design(cfg)
    names = problem(cfg)["names"]
    planned, course = [], course_config(cfg)
    for i, row in enumerate(X):
        values = dict(zip(names, (float(v) for v in row)))
        run_cfg = sample_config(cfg, values, course)
        payload = payload_of(run_cfg)
        if payload not in _VALID:  # the command's checks, the run and the analysis plan the same samples
            try:
                validate(run_cfg)
            except ConfigError as error:
                raise _range_error(cfg, error, values) from None
            _VALID.add(payload)
        directory = folder / "samples" / f"sample{i:05d}-{config_digest(run_cfg)}"
        planned.append(PlannedRun(f"sample {i}", int(run_cfg.seed), payload, directory))
    return X, planned


#: Payloads of the sample configs this process has validated (each whole config, as YAML).
_VALID: set[tuple[str]] = set()


def _range_error(cfg, error: ConfigError, values: dict[str, float]) -> ConfigError:
    """A sample's ConfigError named after the parameter entry whose range caused it."""
    keys = [str(p["key"]) for p in cfg.sensitivity.parameters]
    field = getattr(error, "field", "")
    if field in keys:
        i = keys.index(field)
        return ConfigError(
            f"sensitivity.parameters.{i}", f"its range gives {field}={values[field]:g}, which is refused: {error}"
        )
    return ConfigError("sensitivity.parameters", f"a sample's config is refused: {error}")


# --------------------------------------------------------------------------- the analysis
def indices(cfg, X: np.ndarray, Y: np.ndarray) -> pd.DataFrame:
    """The method's indices of one readout for every parameter, with their rank and share.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        The ``experiment=sensitivity`` config (method, levels, seed, parameters).
    X : numpy.ndarray
        The design (`design`), shape ``(runs, k)``.
    Y : numpy.ndarray
        The readout of each run, shape ``(runs,)``, all finite.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``parameter``, ``rank`` (1: the largest ``mu_star`` or ``ST``),
        ``share`` (its index over the sum of all parameters' indices; NaN when the readout
        does not change), and for morris ``mu_star``, ``mu_star_conf`` (half-width of the 95%
        bootstrap interval), ``mu``, ``sigma``; for sobol ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf``.
    """
    s = cfg.sensitivity
    prob = problem(cfg)
    if s.method == "morris":
        from SALib.analyze import morris

        result = morris.analyze(prob, X, Y, num_levels=int(s.levels), num_resamples=1000, seed=int(s.seed))
        columns = ("mu_star", "mu_star_conf", "mu", "sigma")
    else:
        from SALib.analyze import sobol

        result = sobol.analyze(prob, Y, calc_second_order=False, num_resamples=1000, seed=int(s.seed))
        columns = ("S1", "S1_conf", "ST", "ST_conf")
    frame = pd.DataFrame({c: np.asarray(result[c], dtype=float) for c in columns})
    frame.insert(0, "parameter", prob["names"])
    ranked = frame[RANKED_BY[s.method]].clip(lower=0.0)
    total = float(ranked.sum())
    frame.insert(1, "rank", ranked.rank(ascending=False, method="min").astype(int))
    frame.insert(2, "share", ranked / total if total > 0 else np.nan)
    return frame


def analyse(cfg, X: np.ndarray, samples: pd.DataFrame) -> pd.DataFrame:
    """`indices` of every readout: the table ``sensitivity.csv``.

    The methods need the readout of every run: a readout that is not finite in some run (the
    rate change of a population silent in a baseline window) gets rows without indices, and
    ``runs_undefined`` says in how many runs (a warning is logged).

    Returns
    -------
    pandas.DataFrame
        Columns ``readout``, ``unit``, ``runs_undefined``, then those of `indices`; readouts
        in the order of `READOUTS`, each sorted by rank.
    """
    frames = []
    names = problem(cfg)["names"]
    for name, readout in READOUTS.items():
        Y = samples[name].to_numpy(dtype=float)
        undefined = int(np.sum(~np.isfinite(Y)))
        if undefined:
            log.warning("sensitivity: %s is undefined in %d of %d runs: no indices", name, undefined, len(Y))
            frame = pd.DataFrame({"parameter": names, "rank": pd.array([None] * len(names), dtype="Int64")})
            frame["share"] = np.nan
        else:
            frame = indices(cfg, X, Y).sort_values("rank", kind="stable")
        frame.insert(0, "runs_undefined", undefined)
        frame.insert(0, "unit", readout.unit)
        frame.insert(0, "readout", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def sample_table(X: np.ndarray, names: list[str], planned: list[PlannedRun]) -> pd.DataFrame:
    """One row per run: its parameter values, its `readouts` (read from its finished run) and its folder."""
    rows = []
    for row, run in zip(X, planned):
        values = dict(zip(names, (float(v) for v in row)))
        if SEED_PARAMETER in values:
            values[SEED_PARAMETER] = run.seed  # the integer the run used
        data = read_results(run.directory / "results.h5")
        rows.append({"sample": int(run.hypothesis.split()[-1]), **values, **readouts(data), "run": run.directory.name})
    return pd.DataFrame(rows)


def run_sensitivity(cfg, folder: Path, execute_runs, figure=None) -> Path:
    """The sensitivity experiment: run every sample not already finished
    (``execute_runs(runs)``: the command's Hydra launcher, or ``sensitivity.n_jobs`` worker
    processes), then write
    `SAMPLES`, `TABLE` and, with ``figure(table, method, path, parameters=names)``, its figure. Returns the path
    of `TABLE`."""
    X, planned = plan(cfg, folder)
    execute_runs(planned)
    samples = sample_table(X, problem(cfg)["names"], planned)
    atomic_write(folder / SAMPLES, lambda tmp: samples.to_csv(tmp, index=False))
    table = analyse(cfg, X, samples)
    path = atomic_write(folder / TABLE, lambda tmp: table.to_csv(tmp, index=False))
    if figure is not None:
        figure(table, str(cfg.sensitivity.method), folder / "sensitivity.png", parameters=problem(cfg)["names"])
    for name, rows in table.groupby("readout", sort=False):
        if rows["share"].isna().all():
            log.info("sensitivity: %s changes with none of the parameters (or is undefined)", name)
            continue
        top = rows.nsmallest(2, "rank")
        log.info(
            "sensitivity: %s is decided most by %s",
            name,
            " and ".join(f"{p} ({100 * share:.0f}%)" for p, share in zip(top["parameter"], top["share"])),
        )
    log.info("sensitivity: %d runs; %s", len(planned), path.resolve())
    return path
