"""The objective of a run: how far it is from chosen findings, as one number to minimise.

With ``objective.findings`` (ids of `seeds/` records), a run returns the sum of each
finding's distance from its target, so that an optimising Hydra sweeper
(``hydra/sweeper=optuna``) can fit free parameters to findings
([fitting](../fitting.md)). Each finding is read from the run itself, so the run must be of
the finding's condition (the scorecard's, ``ketamine_sim.experiments.scoring.observables``): a finding
whose observable needs several runs, or a run of another condition, is refused before the
run.

Each finding's distance (0 on a value target, inside a range, on the stated side of a sign):

- a value with tolerance tol: ``|value - target| / tol`` (in tolerances, as the scorecard's
  ``distance_in_tolerances``: at most 1 while the finding passes; a tolerance of 0 or none: in
  the target's unit);
- a range [lo, hi] (widened by its tolerance): how far outside it, divided by the tolerance
  when it is > 0, else by the width ``hi - lo``;
- a sign: the size of the change on the wrong side (``max(0, -margin)``; ``none``: how far
  outside the band ``scorecard.none_band``);
- an ordering: the size of the smallest violated gap (``max(0, -gap)``).

The sum is written to ``objective.json`` in the run's folder with each finding's value and
distance.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from omegaconf import OmegaConf

from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.files import atomic_write
from ketamine_sim.experiments.paths import SEEDS_DIR
from ketamine_sim.experiments.scoring.observables import OBSERVABLES, evaluate, matches
from ketamine_sim.experiments.scoring.scorecard import compare, load_records, scorable

log = logging.getLogger(__name__)

#: The file the objective is written to, in the run's folder.
OBJECTIVE_FILE = "objective.json"
#: Experiment kinds whose run is one results.h5 the findings can be read from.
SINGLE_RUN_KINDS = ("bath", "iv_infusion", "evoked_release", "course")
#: ``sign: none`` band for the objective (as the scorecard's default ``scorecard.none_band``).
NONE_BAND = 0.25


def findings(cfg) -> list[dict]:
    """The records of ``objective.findings`` (empty: no objective)."""
    ids = list(cfg.objective.findings or [])
    return scorable(load_records(SEEDS_DIR), ids) if ids else []


def check_objective(cfg) -> None:
    """Refuse an objective the run cannot give: an unknown or unscorable id, an experiment of
    many runs, or a finding whose condition this run does not meet.

    Raises
    ------
    ConfigError
        Naming ``objective.findings`` and what the finding needs.
    """
    from ketamine_sim.experiments.scoring.scorecard import RecordError

    ids = list(cfg.objective.findings or [])
    if not ids:
        return
    if len(set(ids)) != len(ids):
        raise ConfigError("objective.findings", f"a finding is given twice: {ids}")
    kind = cfg.experiment.name
    if kind not in SINGLE_RUN_KINDS:
        raise ConfigError(
            "objective.findings",
            f"experiment={kind} is not one run; an objective is read from a run of {', '.join(SINGLE_RUN_KINDS)}",
        )
    try:
        records = findings(cfg)
    except RecordError as error:
        raise ConfigError("objective.findings", str(error).removeprefix("scorecard.records: ")) from None
    config = OmegaConf.to_container(cfg, resolve=True)
    for record in records:
        needed = OBSERVABLES[record["observable"]].needed(record["condition"])
        if len(needed) != 1:
            raise ConfigError(
                "objective.findings",
                f"{record['id']} compares {len(needed)} runs ({', '.join(needed)}); an objective is read from one run",
            )
        (condition,) = needed.values()
        if not matches(config, condition):
            raise ConfigError(
                "objective.findings",
                f"{record['id']} is read from a run of {' '.join(condition)}; this run is not one",
            )


def distance(record: dict, value) -> float:
    """A finding's distance from its target (see the module's description).

    Examples
    --------
    >>> c4 = {"id": "C4", "_file": "x", "target": {"value": 37.8}, "tolerance": 7.5}
    >>> distance(c4, 37.8), distance(c4, 45.3)  # on target, one tolerance above
    (0.0, 1.0)
    >>> c7 = {"id": "C7", "_file": "x", "target": {"range": [1, 5]}, "tolerance": 0}
    >>> distance(c7, 3.0), distance(c7, 7.0)
    (0.0, 0.5)
    >>> c1 = {"id": "C1", "_file": "x", "target": {"sign": "positive"}, "tolerance": None}
    >>> distance(c1, 0.4), distance(c1, -0.1)
    (0.0, 0.1)
    """
    target, tol = record["target"], record["tolerance"]
    _, raw = compare(record, value, NONE_BAND)
    if not math.isfinite(raw):
        return math.inf
    if "sign" in target:
        return max(0.0, raw) if target["sign"] == "none" else max(0.0, -raw)
    if "ordering" in target:
        return max(0.0, -raw)
    if isinstance(tol, (int, float)) and tol > 0:
        return raw / float(tol)
    if "range" in target:
        lo, hi = tol if isinstance(tol, list) else target["range"]
        return raw / (float(hi) - float(lo))
    return raw


def objective(cfg, folder: str | Path) -> float:
    """The run's objective: the sum of the distances of ``objective.findings`` (each read from
    the run in ``folder``), written with each finding's value and distance to
    `OBJECTIVE_FILE` and logged.

    Returns
    -------
    float
        The sum (0: every finding met); inf when a finding is undefined in the run.
    """
    folder = Path(folder)
    parts = {}
    for record in findings(cfg):
        (name,) = OBSERVABLES[record["observable"]].needed(record["condition"])
        value = evaluate(record["observable"], record["condition"], {name: folder / "results.h5"})
        value = {str(k): float(v) for k, v in value.items()} if isinstance(value, dict) else float(value)
        parts[record["id"]] = {"value": value, "distance": distance(record, value)}
    total = float(sum(p["distance"] for p in parts.values()))
    text = json.dumps({"objective": total, "findings": parts}, indent=2, allow_nan=True)
    path = atomic_write(folder / OBJECTIVE_FILE, lambda tmp: Path(tmp).write_text(text))
    log.info("objective %.6g over %s; %s", total, ", ".join(parts), path.resolve())
    return total
