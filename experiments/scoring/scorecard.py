"""The scorecard: which hypothesis reproduces which published finding.

``ketamine-sim experiment=scorecard`` reads the records of ``seeds/``, keeps those whose
observable is registered (`ketamine_sim.experiments.scoring.observables`), runs every condition they need
for every hypothesis and seed (one process per run, finished runs are skipped on a rerun;
the clinical findings read from virtual patient cohorts get one cohort per hypothesis and
seed), and writes ``scorecard.csv``, ``scorecard.md`` and ``scorecard.png``/``.svg``.

A record read from single runs can also be checked against existing runs without simulating:

    python -m ketamine_sim.experiments.scoring.scorecard check S1 outputs/course/2026-11-22_10-00-00
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import yaml

from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.interrupts import Interrupts
from ketamine_sim.experiments.paths import HYPOTHESIS_DIR, SEEDS_DIR  # noqa: F401  (re-exported)
from ketamine_sim.experiments.results import ResultsFileError, atomic_write, read_config
from ketamine_sim.experiments.scoring.observables import COHORT_SUMMARY, OBSERVABLES, evaluate, find_runs, merge, pick
from ketamine_sim.experiments.simulation.progress import format_time_s

log = logging.getLogger(__name__)

TARGET_KINDS = ("value", "range", "sign", "ordering")


#: A record's role: ``validation`` findings are the evidence (no parameter was set from them);
#: ``calibration`` findings set parameters (``calibrates``), so reproducing them shows only that
#: the model reproduces what it was fitted to. Reports list validation first.
ROLES = ("validation", "calibration")


class RecordError(ValueError):
    """A malformed seeds record: names the file, the record and the field."""


def load_records(folder: str | Path = SEEDS_DIR) -> list[dict]:
    """Every record of ``folder/*.yaml``, each with ``_file``; raises RecordError on a bad one."""
    records = []
    for path in sorted(Path(folder).glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, list):
            raise RecordError(f"{path.name}: must be a list of records")
        for i, record in enumerate(data):
            where = f"{path.name}: record {record.get('id', i) if isinstance(record, dict) else i}"
            if not isinstance(record, dict):
                raise RecordError(f"{where}: must be a mapping")
            for field in ("id", "condition", "observable", "target", "tolerance", "role"):
                if field not in record:
                    raise RecordError(f"{where}: missing field '{field}'")
            if record["role"] not in ROLES:
                raise RecordError(f"{where}: field 'role' must be one of {', '.join(ROLES)}, got {record['role']!r}")
            target = record["target"]
            kinds = [k for k in TARGET_KINDS if isinstance(target, dict) and k in target]
            if len(kinds) != 1:
                raise RecordError(
                    f"{where}: field 'target' needs exactly one of {', '.join(TARGET_KINDS)}, got {target!r}"
                )
            if kinds[0] == "sign" and target["sign"] not in ("positive", "negative", "none"):
                raise RecordError(
                    f"{where}: field 'target.sign' must be positive, negative or none, got {target['sign']!r}"
                )
            records.append(dict(record, _file=path.name))
    return records


def scorable(records: list[dict], ids: Sequence[str] | None = None) -> list[dict]:
    """The records whose observable has a registered readout (and whose id is in ``ids``)."""
    out = [r for r in records if r["observable"] in OBSERVABLES and (ids is None or r["id"] in ids)]
    if ids is not None:
        missing = sorted(set(ids) - {r["id"] for r in out})
        if missing:
            raise RecordError(
                f"scorecard.records: {missing} are not records with a registered observable; "
                f"scorable: {', '.join(r['id'] for r in scorable(records))}"
            )
    return out


# -- comparing a value with a target ----------------------------------------------------


def target_text(record: dict) -> str:
    target, tol = record["target"], record["tolerance"]
    if "sign" in target:
        return f"sign {target['sign']}"
    if "ordering" in target:
        return "ordering " + " > ".join(str(item) for item in target["ordering"])
    if "range" in target:
        return f"{target['range'][0]}..{target['range'][1]} {target.get('unit', '')}".strip()
    return f"{target['value']} +/- {tol} {target.get('unit', '')}".strip()


def compare(record: dict, value, none_band: float = 0.25) -> tuple[bool, float]:
    """(passed, distance): distance is 0 inside the target and grows outside it; for signs
    it is the value's margin beyond zero (negative = wrong side), for orderings the smallest
    gap between consecutive groups (negative = violated)."""
    target, tol = record["target"], record["tolerance"]
    if "ordering" in target:
        groups = [item if isinstance(item, list) else [item] for item in target["ordering"]]
        values = {(float(k) if not isinstance(k, str) else k): v for k, v in value.items()}

        def key(x):
            return float(x) if not isinstance(x, str) else x

        gaps = [min(values[key(a)] for a in hi) - max(values[key(b)] for b in lo) for hi, lo in zip(groups, groups[1:])]
        gap = min(gaps)
        return gap > 0, gap
    value = float(value)
    if not math.isfinite(value):
        return False, math.inf
    if "sign" in target:
        sign = target["sign"]
        if sign == "none":
            return abs(value) <= none_band, abs(value) - none_band
        margin = value if sign == "positive" else -value
        return margin > 0, margin
    if "range" in target:
        lo, hi = target["range"]
        widen = tol if isinstance(tol, (int, float)) else 0.0
        lo, hi = tol if isinstance(tol, list) else (lo - widen, hi + widen)
        distance = max(lo - value, value - hi, 0.0)
        return distance == 0.0, distance
    v0 = target["value"]
    if not isinstance(v0, (int, float)) or not isinstance(tol, (int, float)):
        raise RecordError(f"{record['_file']}: record {record['id']}: the scorecard compares scalar values only")
    return abs(value - v0) <= tol, abs(value - v0)


# -- planning and running ----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    hypothesis: str
    seed: int
    overrides: tuple[str, ...]
    directory: Path


def _slug(overrides: tuple[str, ...]) -> str:
    experiment = dict(o.split("=", 1) for o in overrides).get("experiment", "run")
    return f"{experiment}-{hashlib.sha256(' '.join(overrides).encode()).hexdigest()[:10]}"


def plan(
    records: list[dict],
    hypotheses: Sequence[str],
    seeds: Sequence[int],
    base: Sequence[str],
    folder: Path,
    cohort_patients: int = 10,
) -> dict[tuple[str, int, str, str], PlannedRun]:
    """(hypothesis, seed, observable, condition) -> the run that provides it (shared runs once).

    A cohort observable's run is a virtual patient cohort of ``cohort_patients`` patients whose
    draws come from ``cohort.seed`` = the seed (each patient has its own circuit seed)."""
    out, runs = {}, {}
    for record in records:
        observable = OBSERVABLES[record["observable"]]
        for name, condition in observable.needed(record["condition"]).items():
            for hypothesis in hypotheses:
                for seed in seeds:
                    seeded = (
                        (f"cohort.seed={seed}", f"cohort.n_patients={cohort_patients}")
                        if observable.cohort
                        else (f"seed={seed}",)
                    )
                    overrides = merge(*base, f"hypothesis={hypothesis}", *condition, *seeded)
                    if overrides not in runs:
                        runs[overrides] = PlannedRun(
                            hypothesis, seed, overrides, folder / "runs" / hypothesis / f"seed{seed}" / _slug(overrides)
                        )
                    out[(hypothesis, seed, record["observable"], name)] = runs[overrides]
    return out


def check_runs(runs, check_overrides) -> None:
    """Compose and validate one planned run per condition with ``check_overrides(overrides)``
    (the command line's checks, raising ConfigError) before any runs, so that a bad
    ``scorecard.extra_overrides`` stops the scorecard at once, in one line."""
    # one run per condition: seeds are checked apart, and the hypotheses are configs of their own
    distinct = {
        tuple(o for o in run.overrides if not o.startswith(("seed=", "cohort.seed=", "hypothesis="))): run
        for run in runs
    }
    for run in distinct.values():
        try:
            check_overrides(list(run.overrides))
        except ConfigError as error:
            raise ConfigError(
                "scorecard.extra_overrides", f"the run {' '.join(run.overrides)} is invalid: {error}"
            ) from None


def runs_text(n: int) -> str:
    """``"1 run"``, ``"2 runs"``."""
    return f"{n} run" if n == 1 else f"{n} runs"


def _finished(run: PlannedRun) -> bool:
    """Whether the run's folder holds a readable ``results.h5`` (a damaged one is run again),
    or for a cohort its summary (written whole or not at all)."""
    if "experiment=cohort" in run.overrides:
        return (run.directory / COHORT_SUMMARY).is_file()
    path = run.directory / "results.h5"
    if not path.exists():
        return False
    try:
        read_config(path)
    except ResultsFileError as error:
        log.warning("scorecard: running again, the stored results cannot be read: %s", error)
        return False
    return True


def execute(
    runs: Sequence[PlannedRun], run_one, n_jobs: int = 1, grace_s: float = 120.0, label: str = "scorecard"
) -> None:
    """Run every planned run not already finished in ``n_jobs`` worker processes
    (``run_one(overrides, directory)``, a module-level function that runs the experiment of
    the overrides). A worker runs one planned run after another: its imports and the circuit's
    compiled build, run directly from its call file, serve all of them; each run writes
    only into its own folder.

    Ctrl-C (or a notebook's interrupt) stops the scorecard: no new run starts, running ones
    are asked to stop after their current window (they write nothing), those still running
    after ``grace_s`` are ended, and KeyboardInterrupt is raised. Finished runs are kept, so
    a rerun into the same folder resumes. ``label`` names the runs in the log (``scorecard``,
    ``cohort``)."""
    todo = [r for r in dict.fromkeys(runs) if not _finished(r)]
    log.info("%s: %s, %d already finished", label, runs_text(len(set(runs))), len(set(runs)) - len(todo))
    if not todo:
        return
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)), mp_context=get_context("spawn"))
    with Interrupts(f"the {label} stops after the current windows of its running runs") as interrupts:
        try:
            # at most one submitted run per worker: a run queued in the executor would still start
            # after an interrupt, so the next one is submitted only when one finishes
            queue, futures = iter(todo), {}

            def submit_next() -> set:
                run = next(queue, None)
                if run is None or interrupts.requested:
                    return set()
                future = pool.submit(run_one, run.overrides, str(run.directory))
                futures[future] = run
                return {future}

            pending = set().union(*(submit_next() for _ in range(min(n_jobs, len(todo)))))
            done, started = 0, time.perf_counter()
            while pending and not interrupts.requested:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # a worker's error (an interrupted worker: KeyboardInterrupt) ends the scorecard
                    pending |= submit_next()
                    done += 1
                    run = futures[future]
                    elapsed = time.perf_counter() - started
                    log.info(
                        "%s run %d/%d: %s seed %d %s [%s elapsed, about %s left]",
                        label,
                        done,
                        len(todo),
                        run.hypothesis,
                        run.seed,
                        run.directory.name,
                        format_time_s(elapsed),
                        format_time_s(elapsed / done * (len(todo) - done)),
                    )
        except BaseException:
            _stop_workers(pool, grace_s)
            raise
        if interrupts.requested:
            _stop_workers(pool, grace_s)
            raise KeyboardInterrupt(
                f"interrupted: {done} of {len(todo)} {label} runs finished and are kept; "
                "rerun into the same folder to resume"
            )
    pool.shutdown()


def _stop_workers(pool: ProcessPoolExecutor, grace_s: float) -> None:
    """Drop the runs not started, ask every worker to stop (SIGINT: a run stops after its window
    and writes nothing) and end those still alive after ``grace_s`` (a worker that is compiling
    ignores SIGINT until make returns).

    The executor may start a worker meanwhile (it replaces one that ended), and that worker may
    already hold a queued run: every worker it starts is asked to stop too, until the
    executor's own thread has ended, so that no run goes on after the scorecard stopped and
    the interpreter's exit does not wait for one."""
    # the executor forgets both on shutdown; its thread keeps adding workers to the same dict
    processes = getattr(pool, "_processes", None) or {}
    thread = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    deadline, asked = time.monotonic() + grace_s, set()
    while True:
        alive = [p for p in list(processes.values()) if p.is_alive()]
        for process in alive:
            if process.pid not in asked:
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGINT)
                asked.add(process.pid)
        if not alive and (thread is None or not thread.is_alive()):
            return
        if time.monotonic() > deadline:
            for process in alive:
                process.terminate()
                process.join(5.0)
            if thread is not None:
                thread.join(5.0)
            return
        time.sleep(0.1)


#: Confidence level of a cell's interval over seeds.
CONFIDENCE = 0.95


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The ``confidence`` interval of the mean of ``values`` (Student's t, ``n - 1`` degrees
    of freedom); (nan, nan) for fewer than two finite values.

    Examples
    --------
    >>> low, high = t_interval([1.0, 2.0, 3.0])
    >>> round(low, 3), round(high, 3)
    (-0.484, 4.484)
    >>> t_interval([1.0])
    (nan, nan)
    """
    from scipy import stats

    x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if x.size < 2:
        return math.nan, math.nan
    mean, sem = float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
    if sem == 0.0:
        return mean, mean
    low, high = stats.t.interval(confidence, x.size - 1, loc=mean, scale=sem)
    return float(low), float(high)


def judge(record: dict, values: list, none_band: float = 0.25) -> dict:
    """A cell's verdict over seeds (one value per seed; a dict per seed for orderings).

    With one seed, ``compare`` of that value decides. With several, the 95% interval over
    seeds decides a sign or an ordering: ``sign: positive``/``negative`` passes when the
    interval of the change excludes zero on the stated side, ``sign: none`` when it lies
    inside the band, an ordering when the interval of its smallest gap between consecutive
    groups is above zero. A value or range target is judged on the mean; its distance is
    also given in units of its tolerance.

    Returns
    -------
    dict
        ``value`` (the mean over seeds; per condition for orderings), ``passed``,
        ``distance`` (of the mean, see `compare`), ``ci_low``/``ci_high`` (of the
        value; of the smallest gap for orderings), ``distance_in_tolerances`` (value and range
        targets with a tolerance; else nan) and ``decided_by`` ("one seed", "interval",
        "mean").

    Examples
    --------
    >>> sign = {"id": "C1", "_file": "x", "target": {"sign": "positive"}, "tolerance": None}
    >>> judge(sign, [0.3, 0.5, 0.4])["passed"], judge(sign, [0.6, -0.5, 0.4])["passed"]
    (True, False)
    >>> value = {"id": "C4", "_file": "x", "target": {"value": 37.8}, "tolerance": 7.5}
    >>> round(judge(value, [28.0, 30.0])["distance_in_tolerances"], 2)
    1.17
    """
    target, tol = record["target"], record["tolerance"]
    if isinstance(values[0], dict):
        mean = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
        per_seed = [compare(record, v, none_band)[1] for v in values]  # the smallest gap per seed
    else:
        mean = float(np.mean(values))
        per_seed = [float(v) for v in values]
    passed, distance = compare(record, mean, none_band)
    if not all(math.isfinite(v) for v in per_seed):  # a seed without a value fails the cell
        nan = math.nan
        return {
            "value": mean,
            "passed": False,
            "distance": math.inf,
            "ci_low": nan,
            "ci_high": nan,
            "distance_in_tolerances": nan,
            "decided_by": "non-finite seed",
        }
    low, high = t_interval(per_seed)
    out = {"value": mean, "passed": bool(passed), "distance": float(distance), "ci_low": low, "ci_high": high}
    out["distance_in_tolerances"] = math.nan
    if ("value" in target or "range" in target) and isinstance(tol, (int, float)) and tol > 0:
        out["distance_in_tolerances"] = float(distance) / float(tol)
    if len(values) < 2 or not math.isfinite(low):
        out["decided_by"] = "one seed" if len(values) < 2 else "mean"
        return out
    if "sign" in target:
        sign = target["sign"]
        out["passed"] = {"positive": low > 0, "negative": high < 0}.get(sign, -none_band <= low and high <= none_band)
        out["decided_by"] = "interval"
    elif "ordering" in target:
        out["passed"], out["decided_by"] = bool(low > 0), "interval"
    else:
        out["decided_by"] = "mean"
    out["passed"] = bool(out["passed"])
    return out


def log_likelihood(record: dict, values: list) -> float:
    """The log-likelihood of a finding's reported mean under the model's mean over seeds.

    Where the source reports a mean and its uncertainty (``target.value`` and the record's
    ``reported_sd``: the standard error of the reported mean, or the +/- the source gives when
    it does not say, in the target's unit), the model's estimate of that mean is the mean of
    its values over n seeds, with sampling variance ``var_seeds / n`` (``ddof=1``; 0 with one
    seed): ``log N(target; mean, var_seeds / n + reported_sd^2)``. Hypotheses can be ranked by
    it, not only counted as passing.

    Returns
    -------
    float
        The log-likelihood (natural log, per unit of the target); NaN for a record without
        ``reported_sd``, a target that is not one number, or a seed without a value.

    Examples
    --------
    >>> c4 = {"target": {"value": 37.8}, "reported_sd": 7.5}
    >>> round(log_likelihood(c4, [37.8]), 3)  # on target, one seed: log(1 / (7.5 sqrt(2 pi)))
    -2.934
    >>> log_likelihood(c4, [30.0, 34.0]) > log_likelihood(c4, [20.0, 24.0])
    True
    """
    from scipy.stats import norm

    target, sd = record.get("target", {}), record.get("reported_sd")
    if sd is None or not isinstance(target.get("value"), (int, float)) or isinstance(values[0], dict):
        return math.nan
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        return math.nan
    sampling = float(np.var(values, ddof=1)) / len(values) if len(values) > 1 else 0.0
    return float(norm.logpdf(float(target["value"]), float(np.mean(values)), math.sqrt(sampling + float(sd) ** 2)))


def score(
    records: list[dict], hypotheses: Sequence[str], seeds: Sequence[int], planned: dict, none_band: float = 0.25
) -> list[dict]:
    """One row per (finding, hypothesis): the value (mean over seeds), its spread and 95%
    interval over seeds, pass/fail (see `judge`)."""
    rows = []
    for record in records:
        observable = OBSERVABLES[record["observable"]]
        for hypothesis in hypotheses:
            values = []
            for seed in seeds:
                paths = {
                    name: planned[(hypothesis, seed, record["observable"], name)].directory / observable.output_file
                    for name in observable.needed(record["condition"])
                }
                values.append(evaluate(record["observable"], record["condition"], paths))
            verdict = judge(record, values, none_band)
            if isinstance(values[0], dict):
                spread = float(np.max([np.std([v[k] for v in values]) for k in values[0]]))
                shown = "; ".join(f"{k}: {v:.3g}" for k, v in verdict["value"].items())
            else:
                spread = float(np.std(values))
                shown = f"{verdict['value']:.3g}"
            rows.append(
                {
                    "finding": record["id"],
                    "role": record["role"],
                    "hypothesis": hypothesis,
                    "passed": verdict["passed"],
                    "value": shown,
                    "target": target_text(record),
                    "distance": verdict["distance"],
                    "seed_spread": spread,
                    "ci_low": verdict["ci_low"],
                    "ci_high": verdict["ci_high"],
                    "distance_in_tolerances": verdict["distance_in_tolerances"],
                    "log_likelihood": log_likelihood(record, values),
                    "decided_by": verdict["decided_by"],
                    "n_seeds": len(seeds),
                    "observable": record["observable"],
                    "unit": observable.unit,
                }
            )
    return rows


def write(rows: list[dict], folder: Path, heat_map=None) -> Path:
    """``scorecard.csv``, ``scorecard.md`` (and, given ``heat_map(table, path)``, the heat map)
    in ``folder``, written atomically; validation findings first, calibration findings apart."""
    import pandas as pd

    table = pd.DataFrame(rows)
    if not table.empty:  # validation first, each role in the records' order
        order = {role: i for i, role in enumerate(ROLES)}
        table = table.sort_values("role", key=lambda column: column.map(order), kind="stable")
    folder.mkdir(parents=True, exist_ok=True)
    csv = atomic_write(folder / "scorecard.csv", lambda tmp: table.to_csv(tmp, index=False))
    lines = [
        "# Scorecard",
        "",
        "Rows: findings (seeds/); columns: hypotheses (configs/hypothesis/). "
        "Each cell: PASS/FAIL, the value (mean over seeds) and, with several seeds, the 95% "
        "interval over seeds (of the smallest gap for an ordering), which decides signs and orderings.",
        "",
        summary_line(rows),
    ]
    hypotheses = list(dict.fromkeys(table["hypothesis"])) if not table.empty else []
    for role, heading in (
        ("validation", "## Validation: the evidence (no parameter was set from these findings)"),
        ("calibration", "## Calibration: reproduces what it was fitted to (see each record's `calibrates`)"),
    ):
        part = table[table["role"] == role] if not table.empty else table
        if part.empty:
            continue
        lines += ["", heading, "", "| finding | target | " + " | ".join(hypotheses) + " |"]
        lines.append("|---|---|" + "---|" * len(hypotheses))
        for finding, group in part.groupby("finding", sort=False):
            cells = []
            for h in hypotheses:
                row = group[group["hypothesis"] == h].iloc[0]
                cells.append(f"{'PASS' if row['passed'] else 'FAIL'} {row['value']}{_interval_text(row)}")
            lines.append(f"| {finding} | {group['target'].iloc[0]} | " + " | ".join(cells) + " |")
    lines += _likelihood_lines(table)
    atomic_write(folder / "scorecard.md", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
    if heat_map is not None and not table.empty:
        labelled = table.assign(
            finding=[f"{f} ({r[:3]}.)" for f, r in zip(table["finding"], table["role"])],
            value=[f"{row['value']}{_interval_text(row)}" for _, row in table.iterrows()],
        )
        heat_map(labelled, folder / "scorecard")
    return csv


def _likelihood_lines(table) -> list[str]:
    """The section of ``scorecard.md`` that ranks the hypotheses by the summed log-likelihood of
    the findings with a reported spread (none: no section)."""
    if table.empty or "log_likelihood" not in table or not table["log_likelihood"].notna().any():
        return []
    with_spread = table[table["log_likelihood"].notna()]["finding"].unique()
    scored = table[table["finding"].isin(with_spread)]
    ranked = scored.groupby("hypothesis", sort=False)["log_likelihood"].agg(["sum", "count"])
    # a hypothesis without a value for one of these findings cannot be compared: ranked last
    ranked["complete"] = ranked["count"] == len(with_spread)
    ranked = ranked.sort_values(["complete", "sum"], ascending=[False, False], kind="stable")
    findings = ", ".join(with_spread)
    lines = [
        "",
        "## Likelihood: hypotheses ranked",
        "",
        f"Summed log-likelihood of the findings with a reported mean and uncertainty ({findings}) "
        "under each hypothesis's mean over seeds (higher is better; a hypothesis without a value "
        "for one of them is ranked last; see docs/scorecard.md).",
        "",
        "| rank | hypothesis | log-likelihood | findings |",
        "|---|---|---|---|",
    ]
    for rank, (hypothesis, row) in enumerate(ranked.iterrows(), start=1):
        total = f"{row['sum']:.3f}" if row["complete"] else f"{row['sum']:.3f} (incomplete)"
        lines.append(f"| {rank} | {hypothesis} | {total} | {int(row['count'])} |")
    return lines


def _interval_text(row) -> str:
    """`` [low, high]`` of a cell's 95% interval over seeds (of the smallest gap for an
    ordering); '' with one seed."""
    low, high = row.get("ci_low", math.nan), row.get("ci_high", math.nan)
    if row.get("n_seeds", 1) < 2 or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f" [{low:.2g}, {high:.2g}]"


def summary_line(rows: list[dict]) -> str:
    """How many (finding, hypothesis) cells pass, validation first.

    Examples
    --------
    >>> summary_line([{"role": "validation", "passed": True}, {"role": "validation", "passed": False},
    ...               {"role": "calibration", "passed": True}])
    'validation: 1 of 2 cells pass; calibration (reproduces what it was fitted to): 1 of 1'
    """
    counts = {role: [r["passed"] for r in rows if r["role"] == role] for role in ROLES}
    validation, calibration = counts["validation"], counts["calibration"]
    return (
        f"validation: {sum(validation)} of {len(validation)} cells pass; "
        f"calibration (reproduces what it was fitted to): {sum(calibration)} of {len(calibration)}"
    )


def inherited_overrides(cfg) -> list[str]:
    """The overrides every run of the scorecard ``cfg`` inherits from its command line: the
    circuit, the backend's threads and cache, no figure; ``backend.direct``,
    ``backend.wait_policy``, ``backend.vectorise`` and ``backend.background_draw`` only where they differ from their
    defaults, so that the run folders (named by a hash of the overrides) keep their names.

    >>> from ketamine_sim.experiments.config import compose_config
    >>> inherited_overrides(compose_config(["circuit=small", "backend.vectorise=false"]))
    ['circuit=small', 'backend.threads=1', 'output.figure=false', 'backend.vectorise=false']
    """
    b = cfg.backend
    return [
        f"circuit={cfg.circuit.name}",
        f"backend.threads={b.threads}",
        "output.figure=false",
        *([f"backend.cache_dir={b.cache_dir}"] if b.cache_dir else []),
        *(["backend.direct=false"] if not b.direct else []),
        *([f"backend.wait_policy={b.wait_policy}"] if b.wait_policy != "active" else []),
        *(["backend.vectorise=false"] if not b.vectorise else []),
        *([f"backend.background_draw={b.background_draw}"] if b.background_draw != "per_population" else []),
    ]


def run_scorecard(cfg, output_dir: Path, execute_runs, check_overrides, heat_map=None) -> Path:
    """The scorecard experiment (``experiment=scorecard``): ``execute_runs(runs)`` runs the
    planned runs not finished yet (``PlannedRun``, each into its folder),
    ``check_overrides(overrides)`` checks one before any runs (raising ConfigError),
    ``heat_map(table, path)`` draws the figure (None: none)."""
    s = cfg.scorecard
    records = scorable(load_records(s.seeds_dir or SEEDS_DIR), list(s.records) if s.records is not None else None)
    base = [*inherited_overrides(cfg), *s.extra_overrides]
    planned = plan(records, list(s.hypotheses), list(s.seeds), base, output_dir, int(s.cohort_patients))
    check_runs(planned.values(), check_overrides)
    execute_runs(list(dict.fromkeys(planned.values())))
    rows = score(records, list(s.hypotheses), list(s.seeds), planned, float(s.none_band))
    path = write(rows, output_dir, heat_map)
    log.info("scorecard: %s; %s", summary_line(rows), path.resolve())
    return path


def check_record(
    record_id: str, folder: str | Path, seeds_dir: str | Path = SEEDS_DIR, none_band: float = 0.25
) -> dict:
    """Check one record against the runs already in ``folder`` (a run, a sweep or a
    scorecard folder): for each condition of its observable the first matching run."""
    records = {r["id"]: r for r in load_records(seeds_dir)}
    if record_id not in records:
        raise RecordError(f"no record {record_id!r} in {seeds_dir}")
    record = records[record_id]
    if record["observable"] not in OBSERVABLES:
        raise RecordError(f"record {record_id}: observable {record['observable']!r} has no registered readout")
    if OBSERVABLES[record["observable"]].cohort:
        raise RecordError(
            f"record {record_id}: observable {record['observable']!r} is read from virtual patient cohorts; "
            f"score it with experiment=scorecard scorecard.records=[{record_id}]"
        )
    found = find_runs(folder)
    paths = {}
    for name, condition in OBSERVABLES[record["observable"]].needed(record["condition"]).items():
        path = pick(found, condition)
        if path is None:
            raise RecordError(
                f"record {record_id}: no run in {folder} matches condition {name!r} ({' '.join(condition)})"
            )
        paths[name] = path
    value = evaluate(record["observable"], record["condition"], paths)
    value = {k: float(v) for k, v in value.items()} if isinstance(value, dict) else float(value)
    passed, distance = compare(record, value, none_band)
    return {
        "finding": record_id,
        "role": record["role"],
        "passed": bool(passed),
        "distance": float(distance),
        "value": value,
        "target": target_text(record),
        "runs": {k: str(v) for k, v in paths.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 3 or argv[0] != "check":
        print("usage: python -m ketamine_sim.experiments.scoring.scorecard check RECORD_ID FOLDER", file=sys.stderr)
        return 2
    try:
        result = check_record(argv[1], argv[2])
    except (RecordError, ResultsFileError) as error:
        print(f"scorecard: {error}", file=sys.stderr)
        return 2
    print(yaml.safe_dump(result, sort_keys=False))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
