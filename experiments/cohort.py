"""A virtual patient cohort (``experiment=cohort``): who the patients are, their runs, and the
response and relapse of each.

Patient i is a ``course`` run of the cohort's own config with a draw of its own, each part
from its own generator seeded with ``(cohort.seed, i, part)`` (so patient i is the same
whatever the cohort's size, and each part of it whatever the others):

- the circuit seed (``seed``: a network and noise of its own);
- the pharmacokinetic constants: one person of the pk model's population
  (``pk.iiv``; `ketamine_sim.circuits.slow.pk_variability`); a model without a spread gives everyone its
  typical constants;
- the severity of the stressed state: each ``state.*`` constant x (a factor relative to
  healthy, 1) as x^exp(eta), eta ~ N(0, ln(1 + s^2)), s = ``cohort.state_spread``: its log
  deviation from healthy scaled, so it stays positive and on its side of healthy (a free
  parameter: no source gives the spread of these model constants between patients);
- the plasticity gains ``plasticity.bdnf_gain``, ``protein_gain`` and ``formation_gain``, each
  times exp(eta) with ``cohort.plasticity_spread`` (free likewise);
- whether it responds without the drug's action (expectancy, the natural course): with
  probability ``cohort.placebo_response``, the response rate on an active placebo (midazolam,
  28% at 24 h: Murrough 2013 Am J Psychiatry [@murrough2013antidepressant]).

The placebo arm is these placebo responses alone (the circuit without a drug does not move the
mood proxy, so its runs are not needed); in the drug arm a patient responds when the model or
its placebo response does (independent causes). The difference between the arms is what
trials report and what the model is compared with.

Each patient's outcome follows the course readouts (`ketamine_sim.experiments.analysis.course`): the mood
proxy responds when it closes ``cohort.response_fraction`` of its gap to healthy, and relapses
when it falls back below that line for good. Relapse is counted, as trials count it, among the
patients responding a day after the last dose, from the last dose, censored at the end of the
follow-up; the Kaplan-Meier estimate and its median come
from lifelines (Davidson-Pilon 2019), the 95% interval of a response rate is Wilson's score
interval (scipy).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from ketamine_sim.circuits.slow.pharmacokinetics import PKParameters
from ketamine_sim.circuits.slow.pk_variability import IIV_PARAMETERS, individual, omega
from ketamine_sim.circuits.spiking.network import SEED_MAX
from ketamine_sim.circuits.units import SECONDS_PER_DAY
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.analysis.course import response_summary, value_at_day
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.files import atomic_write
from ketamine_sim.experiments.results import read_results
from ketamine_sim.experiments.scoring.configured_runs import config_digest, payload_of
from ketamine_sim.experiments.scoring.observables import COHORT_SUMMARY
from ketamine_sim.experiments.scoring.scorecard import PlannedRun

log = logging.getLogger(__name__)

#: The state constants whose deviation from healthy (1) each patient scales (its severity).
STATE_KEYS = ("bdnf_tone", "elimination_scale", "ee_weight_scale")
#: The plasticity gains each patient scales.
PLASTICITY_KEYS = ("bdnf_gain", "protein_gain", "formation_gain")
#: One generator per part of a patient, seeded (cohort.seed, patient, part[, parameter]), so
#: that each part of patient i stays the same when another part changes (another pk model, a
#: new iiv entry, another spread).
STREAM = {"seed": 0, "pk": 1, "state": 2, "plasticity": 3, "placebo": 4}
#: The cohort's tables, in its folder (the scorecard scores its cohort findings from the summary).
TABLE, SUMMARY = "cohort.csv", COHORT_SUMMARY


@dataclasses.dataclass(frozen=True)
class Patient:
    """One virtual patient: its index, circuit seed and the values drawn for it.

    Attributes
    ----------
    index : int
        0-based position in the cohort.
    seed : int
        The circuit seed of its run.
    pk_etas : dict of str to float
        Its eta per parameter of the pk model's spread (`ketamine_sim.circuits.slow.pk_variability`).
    state : dict of str to float
        Its ``state.*`` constants (`STATE_KEYS`).
    plasticity : dict of str to float
        Its plasticity gains (`PLASTICITY_KEYS`).
    placebo_responder : bool
        Whether it responds without the drug's action.
    """

    index: int
    seed: int
    pk_etas: dict[str, float]
    state: dict[str, float]
    plasticity: dict[str, float]
    placebo_responder: bool


def draw_patients(cfg) -> list[Patient]:
    """The cohort's patients (``cohort.n_patients``), each part of patient i drawn from its own
    generator ``(cohort.seed, i, part)`` (`STREAM`).

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A validated ``experiment=cohort`` config.

    Returns
    -------
    list of Patient

    Examples
    --------
    >>> from ketamine_sim.experiments.config import compose_config
    >>> from ketamine_sim.experiments.cohort import draw_patients
    >>> cfg = compose_config(["experiment=cohort", "cohort.n_patients=3", "pk=perez_ruixo2021"])
    >>> patients = draw_patients(cfg)
    >>> [p.index for p in patients], len(set(p.seed for p in patients))
    ([0, 1, 2], 3)
    >>> sorted(patients[0].pk_etas)[:2], round(patients[0].state["ee_weight_scale"], 3) < 1
    (['central_volume', 'hepatic_blood_flow'], True)
    """
    c = cfg.cohort
    iiv = C.pk_variability(cfg)
    state_sd = omega(float(c.state_spread), "spread")
    plasticity_sd = omega(float(c.plasticity_spread), "spread")
    patients = []
    for i in range(int(c.n_patients)):
        seed = int(_stream(c.seed, i, "seed").integers(0, SEED_MAX, endpoint=True))
        etas = {
            name: float(_stream(c.seed, i, "pk", IIV_PARAMETERS.index(name)).normal(0.0, omega(spread, name)))
            for name, spread in iiv.items()
        }
        state_rng, gain_rng = _stream(c.seed, i, "state"), _stream(c.seed, i, "plasticity")
        state = {k: float(cfg.state[k]) ** math.exp(state_rng.normal(0.0, state_sd)) for k in STATE_KEYS}
        gains = {k: float(cfg.plasticity[k]) * math.exp(gain_rng.normal(0.0, plasticity_sd)) for k in PLASTICITY_KEYS}
        placebo = bool(_stream(c.seed, i, "placebo").uniform() < float(c.placebo_response))
        patients.append(Patient(i, seed, etas, state, gains, placebo))
    return patients


def _stream(cohort_seed, patient: int, part: str, *more: int) -> np.random.Generator:
    """The generator of one part of one patient (`STREAM`)."""
    return np.random.default_rng([int(cohort_seed), patient, STREAM[part], *more])


def patient_config(cfg, patient: Patient, typical: PKParameters | None = None):
    """The ``course`` config of one patient: the cohort's config without ``cohort``, with the
    patient's seed, pharmacokinetic constants, state and plasticity gains, and no figure.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A validated ``experiment=cohort`` config.
    patient : Patient
        One of `draw_patients`.
    typical : PKParameters, optional
        ``ketamine_sim.experiments.config.pk_parameters(cfg)``, when the caller has it already (None: built
        here).

    Returns
    -------
    omegaconf.DictConfig
        A config that ``ketamine_sim.experiments.kinds.run_experiment`` runs as a course.
    """
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("hydra", None)  # a composition with Hydra's own node (check_overrides) has it
    tree.pop("cohort")
    tree["experiment"]["name"] = "course"
    tree["seed"] = patient.seed
    tree["output"]["figure"] = False
    tree["state"].update(patient.state)
    tree["plasticity"].update(patient.plasticity)
    person = individual(typical or C.pk_parameters(cfg), patient.pk_etas)
    for field in dataclasses.fields(person):
        if field.name in tree["pk"] and field.name not in ("first_pass", "bioavailability", "absorption_rate_per_min"):
            tree["pk"][field.name] = getattr(person, field.name)
    if person.first_pass is not None:
        tree["pk"]["first_pass"] = dataclasses.asdict(person.first_pass)
    return OmegaConf.create(tree)


def plan(cfg, folder: Path) -> list[tuple[Patient, PlannedRun]]:
    """Each patient with its planned run: its config (as YAML text, the run's only "override")
    and its folder ``patients/patient<i>-<hash of its config>`` (a changed config is a new
    folder, so a resumed cohort never reuses a run of other settings; the code's version is not
    in the hash: after changing the model, run into a new folder).

    Raises
    ------
    ConfigError
        A patient's draw outside the config's ranges (a spread too wide), naming the spread.
    """
    planned, typical = [], C.pk_parameters(cfg)
    for patient in draw_patients(cfg):
        course = _checked(cfg, patient, typical)
        directory = folder / "patients" / f"patient{patient.index:06d}-{config_digest(course)}"
        planned.append((patient, PlannedRun(f"patient {patient.index}", patient.seed, payload_of(course), directory)))
    return planned


def _checked(cfg, patient: Patient, typical: PKParameters):
    """`patient_config` with the patient's drawn values checked against the ranges of the
    config (state, plasticity, pharmacokinetics): a draw outside them is a ConfigError naming
    the spread and the patient, before any run."""
    try:
        course = patient_config(cfg, patient, typical)
        C.brain_state(course)
        C.plasticity(course)
        return course
    except (ConfigError, ValueError) as error:
        spread = {"state": "cohort.state_spread", "plasticity": "cohort.plasticity_spread"}
        field = getattr(error, "field", "pk.iiv")
        raise ConfigError(
            spread.get(field.partition(".")[0], field), f"patient {patient.index}'s draw is out of range: {error}"
        ) from None


def outcome(timeline: dict[str, np.ndarray], dose_days: list[float], fraction: float) -> dict[str, float]:
    """One patient's response and relapse from its course timeline.

    Parameters
    ----------
    timeline : dict of str to numpy.ndarray
        A course run's timeline (``time_from_dose_s``, ``outcome``, ``spine_density``).
    dose_days : list of float
        The days of its doses (from the first).
    fraction : float
        Share of the gap to healthy the proxy must close to respond.

    Returns
    -------
    dict of str to float
        ``responded`` (1/0: ever on or above the line after the first dose), ``onset_h``,
        ``response_day_1`` (1/0: on or above the line one day after the first dose),
        ``response_after_last_dose`` (1/0: one day after the last: a responder at the end of
        treatment, whom trials follow for relapse), ``relapsed`` (1/0: such a responder that
        fell back below the line for good before the end), ``days_to_relapse`` (from the last
        dose; for such a responder that did not relapse, the days it was followed: censored;
        NaN for the others), the proxy's baseline
        ``outcome_baseline`` and ``peak_gap_closed``, the largest share of the gap to
        healthy it closed (the response criterion compares it with ``fraction``).

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.cohort import outcome
    >>> day = 86400.0
    >>> timeline = {
    ...     "time_from_dose_s": np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0]) * day,
    ...     "outcome": np.array([0.6, 0.6, 0.75, 0.85, 0.82, 0.7, 0.62]),
    ...     "spine_density": np.array([0.8, 0.8, 0.82, 0.9, 0.95, 0.88, 0.82]),
    ... }
    >>> o = outcome(timeline, [0.0], 0.5)
    >>> o["responded"], o["response_day_1"], o["relapsed"], o["days_to_relapse"]
    (1.0, 1.0, 1.0, 4.0)
    >>> round(o["peak_gap_closed"], 3)
    0.625
    """
    s = response_summary(timeline, dose_days, fraction)
    line = s["response_line"]
    followed = float(timeline["time_from_dose_s"][-1] / SECONDS_PER_DAY - dose_days[-1])
    end_day = timeline["time_from_dose_s"][-1] / SECONDS_PER_DAY

    def above(day: float) -> float:
        return float(day <= end_day and value_at_day(timeline, "outcome", day) >= line and s["outcome_baseline"] < 1)

    at_end = above(dose_days[-1] + 1.0)  # followed for relapse, as trials follow end-of-treatment responders
    relapsed = bool(at_end) and math.isfinite(s["relapse_days_after_last_dose"])
    return {
        "responded": float(math.isfinite(s["onset_h"])),
        "onset_h": s["onset_h"],
        "response_day_1": above(1.0),
        "response_after_last_dose": at_end,
        "relapsed": float(relapsed),
        "days_to_relapse": s["relapse_days_after_last_dose"] if relapsed else (followed if at_end else math.nan),
        "outcome_baseline": s["outcome_baseline"],
        "peak_gap_closed": _gap_closed(s["outcome_peak"], s["outcome_baseline"]),
    }


def _gap_closed(value: float, baseline: float) -> float:
    """The share of the gap between ``baseline`` and healthy (1) that ``value`` closes."""
    return (value - baseline) / (1.0 - baseline) if baseline < 1.0 else math.nan


def table(cfg, planned: list[tuple[Patient, PlannedRun]]) -> pd.DataFrame:
    """One row per patient: its draws and its `outcome` (read from its finished run)."""
    days = C.dose_days(cfg)
    rows = []
    for patient, run in planned:
        data = read_results(run.directory / "results.h5")
        row = {"patient": patient.index, "seed": patient.seed, "run": str(run.directory.name)}
        row["placebo_responder"] = float(patient.placebo_responder)
        row |= {f"pk_eta_{k}": v for k, v in patient.pk_etas.items()}
        row |= {f"state_{k}": v for k, v in patient.state.items()}
        row |= {f"plasticity_{k}": v for k, v in patient.plasticity.items()}
        row |= outcome(data.timeline, days, float(cfg.cohort.response_fraction))
        rows.append(row)
    return pd.DataFrame(rows)


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (``scipy.stats.binomtest``).

    Examples
    --------
    >>> from ketamine_sim.experiments.cohort import wilson_interval
    >>> [round(x, 3) for x in wilson_interval(7, 10)]
    [0.397, 0.892]
    """
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def kaplan_meier(rows: pd.DataFrame):
    """The Kaplan-Meier estimate of staying well among the responders a day after the last
    dose (lifelines' ``KaplanMeierFitter``, time from the last dose in days), or None without
    such responders."""
    from lifelines import KaplanMeierFitter

    responders = rows[rows["response_after_last_dose"] == 1]
    if responders.empty:
        return None
    return KaplanMeierFitter(label="responders staying well").fit(
        responders["days_to_relapse"], event_observed=responders["relapsed"]
    )


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """The cohort's rates with 95% intervals and the median time to relapse.

    Returns
    -------
    pandas.DataFrame
        One row per measure: ``measure``, ``value``, ``ci_low``, ``ci_high``, ``n``. The
        model's own rates (``responded_rate``, ``response_day_1_rate``,
        ``response_after_last_dose_rate``), the placebo arm's (``placebo_arm_rate``), the
        drug arm's, the model's or the placebo response
        (``drug_arm_response_day_1_rate``, ``drug_arm_response_after_last_dose_rate``), and the
        difference between the arms (``drug_minus_placebo_response_day_1``, ...: the same
        patients in both arms, so the share responding through the model and not the placebo,
        with its Wilson interval); the Kaplan-Meier median days from the last dose to relapse
        among the patients responding through the model a day after it
        (``median_days_to_relapse``, with its 95% interval; NaN without such patients); the
        median hours from the first dose to response among the
        patients the model makes respond (``median_onset_h``, NaN without any; the interval is
        the range of their onsets; ``n`` counts them).
    """
    from lifelines.utils import median_survival_times

    n = len(rows)
    out = []

    def rate(name: str, hits) -> None:
        k = int(np.sum(hits))
        low, high = wilson_interval(k, n)
        out.append({"measure": name, "value": k / n, "ci_low": low, "ci_high": high, "n": n})

    for measure in ("responded", "response_day_1", "response_after_last_dose"):
        rate(f"{measure}_rate", rows[measure] == 1)
    placebo = rows["placebo_responder"] == 1
    rate("placebo_arm_rate", placebo)
    for measure in ("response_day_1", "response_after_last_dose"):
        rate(f"drug_arm_{measure}_rate", (rows[measure] == 1) | placebo)
        # the same patients in both arms and the drug arm's responders include the placebo
        # arm's, so the difference is the share that respond through the model alone
        rate(f"drug_minus_placebo_{measure}", (rows[measure] == 1) & ~placebo)
    onsets = rows.loc[rows["responded"] == 1, "onset_h"].dropna()
    out.append(
        {
            "measure": "median_onset_h",
            "value": float(np.median(onsets)) if len(onsets) else math.nan,
            "ci_low": float(onsets.min()) if len(onsets) else math.nan,
            "ci_high": float(onsets.max()) if len(onsets) else math.nan,
            "n": len(onsets),
        }
    )
    km = kaplan_meier(rows)
    low, high = (
        (float(x) for x in median_survival_times(km.confidence_interval_).iloc[0])
        if km is not None
        else (math.nan, math.nan)
    )
    out.append(
        {
            "measure": "median_days_to_relapse",
            "value": float(km.median_survival_time_) if km is not None else math.nan,
            "ci_low": low,
            "ci_high": high,
            "n": int(rows["response_after_last_dose"].sum()),
        }
    )
    return pd.DataFrame(out)


def run_cohort(cfg, folder: Path, execute_runs, figure=None) -> Path:
    """The cohort experiment: run every patient not already finished (``execute_runs(runs)``:
    the command's Hydra launcher, or ``cohort.n_jobs`` worker processes), then write `TABLE`, `SUMMARY` and,
    with ``figure(rows, km, path)``, its figure. Returns the path of `TABLE`."""
    planned = plan(cfg, folder)
    execute_runs([run for _, run in planned])
    rows = table(cfg, planned)
    path = atomic_write(folder / TABLE, lambda tmp: rows.to_csv(tmp, index=False))
    stats = summary(rows)
    atomic_write(folder / SUMMARY, lambda tmp: stats.to_csv(tmp, index=False))
    if figure is not None:
        figure(rows, kaplan_meier(rows), float(cfg.cohort.response_fraction), folder / "cohort.png")
    rate = stats.set_index("measure").loc["responded_rate"]
    log.info(
        "cohort: %d patients, %.0f%% responded (95%% interval %.0f-%.0f%%); %s",
        len(rows),
        100 * rate["value"],
        100 * rate["ci_low"],
        100 * rate["ci_high"],
        path.resolve(),
    )
    return path
