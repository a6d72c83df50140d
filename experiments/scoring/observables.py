"""Observables of the seeds' records, registered by name, as functions of results files.

Each `Observable` names the runs it needs (a *condition*: Hydra overrides added to
the scorecard's base overrides) and computes one number from their results, or one number
per condition for ``ordering`` targets. The same function reads runs the scorecard made
or any run folder that holds runs of those conditions (`find_runs` matches them by
their stored config). Changes are fractional (0.2 = +20%) unless the name says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ketamine_sim.circuits.units import SECONDS_PER_DAY
from ketamine_sim.experiments.analysis.course import excess_at_day, peak_excess, value_at_day
from ketamine_sim.experiments.results import RunData, read_results

#: Conditions (later overrides of a key replace earlier ones, see `merge`). Windows are
#: few, so that a scorecard stays affordable; defaults that a run folder may differ in are explicit.
IV = (
    "experiment=iv_infusion",
    "manipulation=none",
    "dosing=single_iv",
    "dosing.dose_mg_per_kg=0.5",
    "iv_infusion.window_times_min=[-10,40]",
    "iv_infusion.end_min=60",
)
EVOKED = ("experiment=evoked_release", "manipulation=none")
COURSE = (
    "experiment=course",
    "manipulation=none",
    "dosing=single_iv",
    "dosing.dose_mg_per_kg=0.5",
    "dosing.follow_days=14",
    "course.windows_per_dose_min=[-10,20,40,1440]",
    "course.window_days_after_last_dose=[3,7,14,28]",
)
SHORT_COURSE = COURSE + ("course.window_days_after_last_dose=[3]", "dosing.follow_days=3")
#: The drug-free circuit: one window of a bath without drug.
BASELINE = ("experiment=bath", "manipulation=none", "bath.concentrations_uM=[0]")
#: A virtual patient cohort given one 0.5 mg/kg infusion, followed two weeks: the scorecard adds
#: ``cohort.seed`` (its seed) and ``cohort.n_patients`` (``scorecard.cohort_patients``).
COHORT = (
    "experiment=cohort",
    "manipulation=none",
    "dosing=single_iv",
    "dosing.dose_mg_per_kg=0.5",
    "dosing.follow_days=14",
    "course.windows_per_dose_min=[-10,20,40,1440]",
    "course.window_days_after_last_dose=[3,7,14]",
)
#: What a cohort run leaves for scoring: its summary table (measure, value, ci_low, ci_high, n),
#: written by ``ketamine_sim.experiments.cohort`` under this name.
COHORT_SUMMARY = "cohort_summary.csv"


def merge(*overrides: str) -> tuple[str, ...]:
    """Overrides with one entry per key, the last one winning (Hydra refuses duplicates)."""
    out: dict[str, str] = {}
    for override in overrides:
        key, _, value = override.partition("=")
        out.pop(key, None)
        out[key] = value
    return tuple(f"{k}={v}" for k, v in out.items())


@dataclass(frozen=True)
class Observable:
    conditions: Mapping[str, tuple[str, ...]]  #: name -> overrides
    #: the number(s) from the runs of the conditions: RunData per condition, or for a cohort
    #: observable each cohort's summary (measure -> value)
    compute: Callable[[Mapping[str, RunData | dict[str, float]], dict], float | dict]
    unit: str = "1"
    #: which conditions a record's ``condition`` needs (default: all of them)
    select: Callable[[dict], list[str]] | None = None
    #: whether its conditions are virtual patient cohorts (``experiment=cohort``), read from
    #: their `COHORT_SUMMARY`, instead of single runs read from ``results.h5``
    cohort: bool = False

    @property
    def output_file(self) -> str:
        """The file of a condition's run this observable reads."""
        return COHORT_SUMMARY if self.cohort else "results.h5"

    def needed(self, condition: dict) -> dict[str, tuple[str, ...]]:
        names = self.select(condition) if self.select else list(self.conditions)
        return {name: self.conditions[name] for name in names}


def _relative(before: float, after: float) -> float:
    return after / before - 1.0 if before > 0 else np.nan


def _window_change(run: RunData, pop: str, name: str) -> float:
    values = run.readouts[pop][name]
    return _relative(float(values[0]), float(values[-1]))


def _window_ratio(run: RunData, pop: str, name: str) -> float:
    """The last window's readout over the first's (NaN where the first is not > 0)."""
    values = run.readouts[pop][name]
    return float(values[-1]) / float(values[0]) if float(values[0]) > 0 else np.nan


def _excess(run: RunData, name: str, day: float) -> float:
    return excess_at_day(run.timeline, name, day)


def _peak_excess(run: RunData, name: str) -> float:
    return peak_excess(run.timeline, name)


def _day(condition: dict, default: float) -> float:
    if "time_after_dose_days" in condition:
        return float(condition["time_after_dose_days"])
    if "time_after_dose_h" in condition:
        return float(condition["time_after_dose_h"]) / 24.0
    return default


def _last_day_above_half_peak(run: RunData, line: float) -> float:
    days = run.timeline["time_from_dose_s"] / SECONDS_PER_DAY
    above = np.flatnonzero(run.timeline["outcome"] >= line)
    return float(days[above[-1]]) if above.size else 0.0


def _relapse_ordering(runs, condition) -> dict:
    single, six = runs["one infusion"], runs["six infusions over two weeks"]
    gain = _peak_excess(single, "outcome")
    if gain <= 1e-6:  # no effect at all: nothing is sustained (and the ordering cannot hold)
        return {"one infusion": 0.0, "six infusions over two weeks": 0.0}
    line = value_at_day(single.timeline, "outcome", 0.0) + 0.5 * gain
    return {
        "one infusion": _last_day_above_half_peak(single, line),
        "six infusions over two weeks": _last_day_above_half_peak(six, line),
    }


def _baseline_rate(run: RunData, pop: str) -> float:
    return float(run.readouts[pop]["rate"][0])


def _measure(summary: dict[str, float], name: str) -> float:
    """One measure of a cohort's summary; NaN where the cohort could not estimate it (no
    responders to time, no relapse among them)."""
    value = summary.get(name, np.nan)
    return float(value) if value is not None else np.nan


OBSERVABLES: dict[str, Observable] = {
    "baseline_rate_pyr": Observable({"bath": BASELINE}, lambda r, c: _baseline_rate(r["bath"], "pyr"), unit="Hz"),
    "baseline_rate_pv": Observable({"bath": BASELINE}, lambda r, c: _baseline_rate(r["bath"], "pv"), unit="Hz"),
    "rate_change_pyr": Observable({"iv": IV}, lambda r, c: _window_change(r["iv"], "pyr", "rate")),
    "rate_change_pv_sst": Observable(
        {"iv": IV}, lambda r, c: min(_window_change(r["iv"], "pv", "rate"), _window_change(r["iv"], "sst", "rate"))
    ),
    "inhibitory_input_change_pyr": Observable({"iv": IV}, lambda r, c: _window_change(r["iv"], "pyr", "g_inh_mean")),
    # the field proxy's 30-80 Hz power at the end of the infusion over baseline (Pinault 2008's band)
    "gamma_power_ratio": Observable(
        {"iv": IV}, lambda r, c: _window_ratio(r["iv"], "pyr", "field_power_gamma"), unit="fold"
    ),
    "glx_change_percent": Observable(
        {"iv": IV}, lambda r, c: 100.0 * (float(np.max(r["iv"].timeline["glutamate"])) - 1.0), unit="%"
    ),
    "evoked_glutamate_release_change": Observable(
        {"none": EVOKED, "dpcpx": EVOKED + ("manipulation=dpcpx",), "nbqx": EVOKED + ("manipulation=nbqx",)},
        lambda r, c: (
            _window_change(r["none"], "pyr", "evoked_release")
            if "manipulation" not in c
            else max((_window_change(r[m], "pyr", "evoked_release") for m in ("dpcpx", "nbqx")), key=abs)
        ),
        select=lambda c: ["dpcpx", "nbqx"] if "manipulation" in c else ["none"],
    ),
    "vesicle_pool_recovery_rate_change": Observable(
        {"none": EVOKED}, lambda r, c: -_window_change(r["none"], "pyr", "vesicle_recovery_tau")
    ),
    "spine_density_change": Observable(
        {"course": COURSE},
        lambda r, c: (
            value_at_day(r["course"].timeline, "spine_density", 0.0) - 1.0
            if "chronic stress" in str(c.get("manipulation", ""))
            else _excess(r["course"], "spine_density", _day(c, 1.0))
        ),
    ),
    "early_effect_change": Observable(
        {"course": COURSE, "spine_block": COURSE + ("manipulation=spine_block",)},
        # "early": 6 h after the dose, before new spines (Moda-Sava 2019: behaviour recovers within
        # hours, spines form from 12-24 h on)
        lambda r, c: _relative(_excess(r["course"], "outcome", 0.25), _excess(r["spine_block"], "outcome", 0.25)),
    ),
    "antidepressant_effect_change": Observable(
        {"course": COURSE, "nbqx": COURSE + ("manipulation=nbqx_timed",)},
        lambda r, c: _relative(_peak_excess(r["course"], "outcome"), _peak_excess(r["nbqx"], "outcome")),
    ),
    "time_to_relapse": Observable(
        {
            "one infusion": COURSE + ("dosing.follow_days=28",),
            "six infusions over two weeks": COURSE + ("dosing=six_iv_2wk", "dosing.follow_days=28"),
        },
        _relapse_ordering,
        unit="day",
    ),
    "antidepressant_effect": Observable(
        {f"{d:g}": SHORT_COURSE + (f"dosing.dose_mg_per_kg={d:g}",) for d in (0.1, 0.2, 0.5, 1.0)},
        lambda r, c: {float(k): _peak_excess(run, "outcome") for k, run in r.items()},
    ),
    # -- from virtual patient cohorts (one infusion): what trials measure ---------------------
    # hours from the dose to response, the median among the patients the model makes respond
    "antidepressant_onset_h": Observable(
        {"cohort": COHORT}, lambda r, c: _measure(r["cohort"], "median_onset_h"), unit="h", cohort=True
    ),
    # days from the dose to relapse among those responding a day after it (Kaplan-Meier median)
    "relapse_day": Observable(
        {"cohort": COHORT}, lambda r, c: _measure(r["cohort"], "median_days_to_relapse"), unit="day", cohort=True
    ),
    # response a day after the dose: the drug arm (the model's or a placebo response) and the
    # active-placebo arm, the same patients
    "response_rate_day_1": Observable(
        {"cohort": COHORT},
        lambda r, c: {
            "racemic": _measure(r["cohort"], "drug_arm_response_day_1_rate"),
            "active placebo": _measure(r["cohort"], "placebo_arm_rate"),
        },
        cohort=True,
    ),
}


# -- finding runs of a condition in any folder --------------------------------------------


def _config_value(config: dict, key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _group_option(config: dict, group: str):
    """The option of a config group a run used (its ``name`` key where it has one)."""
    if group == "experiment":
        return _config_value(config, "experiment.name")
    node = config.get(group)
    return node.get("name") if isinstance(node, dict) else None


def matches(config: dict, overrides: tuple[str, ...]) -> bool:
    """Whether a run's resolved config agrees with every ``key=value`` override."""
    for override in merge(*overrides):
        key, _, value = override.partition("=")
        wanted = yaml.safe_load(value)
        if key in ("manipulation",):
            active = [
                m
                for m, on in (
                    ("dpcpx", config["manipulation"].get("a1_antagonist")),
                    (
                        "nbqx",
                        config["manipulation"].get("ampa_block_fraction", 0) > 0
                        and config["manipulation"].get("ampa_block_window_min") is None,
                    ),
                    ("nbqx_timed", config["manipulation"].get("ampa_block_window_min") is not None),
                    ("rapamycin", config["manipulation"].get("mtor_block_fraction", 0) > 0),
                    ("spine_block", config["manipulation"].get("spine_formation_block")),
                )
                if on
            ]
            if active != ([] if wanted == "none" else [wanted]):
                return False
        elif "." not in key:
            if _group_option(config, key) != wanted:
                return False
        elif _config_value(config, key) != wanted and not (
            isinstance(wanted, (int, float)) and _config_value(config, key) == float(wanted)
        ):
            return False
    return True


def find_runs(folder: str | Path) -> list[tuple[dict, Path]]:
    """Every readable ``results.h5`` under ``folder`` with its resolved config; a file that
    cannot be read is left out with a warning naming it and why."""
    import warnings

    from ketamine_sim.experiments.results import ResultsFileError, find_results, read_config

    out = []
    for path in find_results(folder):
        try:
            out.append((read_config(path), path))
        except ResultsFileError as error:
            warnings.warn(f"skipped run: {error}", stacklevel=2)
    return out


def pick(runs: list[tuple[dict, Path]], overrides: tuple[str, ...], base: tuple[str, ...] = ()) -> Path | None:
    """The first run agreeing with ``base`` and then ``overrides`` (the condition's keys only)."""
    for config, path in runs:
        if matches(config, tuple(base) + tuple(overrides)):
            return path
    return None


def read_cohort_summary(path: str | Path) -> dict[str, float]:
    """A cohort's `COHORT_SUMMARY` as measure -> value."""
    import pandas as pd

    table = pd.read_csv(path)
    return {str(m): float(v) for m, v in zip(table["measure"], table["value"])}


def evaluate(name: str, condition: dict, runs: Mapping[str, Path | RunData | dict]):
    """The observable ``name`` from the runs of its conditions (paths, or loaded runs or cohort
    summaries)."""
    observable = OBSERVABLES[name]
    read = read_cohort_summary if observable.cohort else read_results
    loaded = {k: (read(v) if isinstance(v, (str, Path)) else v) for k, v in runs.items()}
    return observable.compute(loaded, condition)
