"""The dose-response summary: one row per IV dose, from that dose's results.

The ``dose_response`` experiment runs the iv_infusion protocol once per dose;
[`summarize`][ketamine_sim.experiments.analysis.dose_response.summarize] turns each dose's
[`RunData`][ketamine_sim.experiments.results.RunData] into one row of changes from the baseline window,
[`write_table`][ketamine_sim.experiments.analysis.dose_response.write_table] writes the rows as
``dose_response.csv`` (columns ``COLUMNS``) and
[`figures.dose_response`][ketamine_sim.experiments.figures.dose_response] plots them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ketamine_sim.experiments.results import RunData, atomic_write

#: The dose (mg/kg) and the changes from baseline (%) of ``summarize`` (what the dose-response figure plots).
CHANGE_COLUMNS = (
    "dose_mg_per_kg",
    "peak_glutamate_change_pct",
    "evoked_release_change_pct",
    "pyr_rate_change_pct",
    "pv_rate_change_pct",
    "sst_rate_change_pct",
)
#: Every column of ``dose_response.csv``, in order: the changes, then the peak blocked fraction.
COLUMNS = (*CHANGE_COLUMNS, "peak_nmda_blocked_pyr")


def summarize(dose_mg_per_kg: float, data: RunData) -> dict[str, float]:
    """One row of the dose-response table: the extremes after the baseline window, in % of it.

    Parameters
    ----------
    dose_mg_per_kg : float
        The IV dose of the run (mg/kg), copied into the row.
    data : RunData
        The run of that dose: window 0 is the baseline (before the drug); it needs the
        readouts ``rate`` of ``pyr``, ``pv`` and ``sst``, and ``evoked_release`` and
        ``nmda_blocked`` of ``pyr``; ``/timeline/glutamate`` is optional.

    Returns
    -------
    dict of str to float
        ``dose_mg_per_kg``; ``peak_glutamate_change_pct``: 100 (max G - 1), G the bulk
        glutamate relative to baseline over the whole protocol (NaN without the trace);
        ``evoked_release_change_pct``: the lowest evoked release after the baseline, as
        100 (x / x_0 - 1); ``<pop>_rate_change_pct``: the change of each population's rate,
        100 (r_w / r_0 - 1), of largest magnitude over the windows w >= 1 (up or down; NaN
        with a single window); ``peak_nmda_blocked_pyr``: the largest blocked fraction of the
        pyramidal NMDA receptors in any window (1).

    Raises
    ------
    KeyError
        A readout it needs is missing.

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.experiments.results import RunData
    >>> data = RunData(
    ...     timeline={"time_s": np.array([0.0, 60.0, 120.0]), "glutamate": np.array([1.0, 1.25, 1.1])},
    ...     readouts={
    ...         "pyr": {"rate": np.array([2.0, 3.0, 1.5]), "evoked_release": np.array([0.5, 0.4, 0.45]),
    ...                 "nmda_blocked": np.array([0.0, 0.3, 0.2])},
    ...         "pv": {"rate": np.array([10.0, 8.0, 9.0])},
    ...         "sst": {"rate": np.array([4.0, 4.0, 5.0])},
    ...     },
    ... )
    >>> row = summarize(0.5, data)
    >>> {k: round(v, 1) for k, v in row.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'dose_mg_per_kg': 0.5, 'peak_glutamate_change_pct': 25.0, 'evoked_release_change_pct': -20.0,
     'pyr_rate_change_pct': 50.0, 'pv_rate_change_pct': -20.0, 'sst_rate_change_pct': 25.0,
     'peak_nmda_blocked_pyr': 0.3}
    """

    def change(values: np.ndarray) -> float:
        rel = 100.0 * (values[1:] / values[0] - 1.0)
        return float(rel[np.argmax(np.abs(rel))]) if rel.size else float("nan")

    glutamate = data.timeline.get("glutamate")
    pyr = data.readouts["pyr"]
    return {
        "dose_mg_per_kg": dose_mg_per_kg,
        "peak_glutamate_change_pct": float(100.0 * (np.max(glutamate) - 1.0))
        if glutamate is not None
        else float("nan"),
        "evoked_release_change_pct": float(
            100.0 * (np.min(pyr["evoked_release"][1:]) / pyr["evoked_release"][0] - 1.0)
        ),
        "pyr_rate_change_pct": change(pyr["rate"]),
        "pv_rate_change_pct": change(data.readouts["pv"]["rate"]),
        "sst_rate_change_pct": change(data.readouts["sst"]["rate"]),
        "peak_nmda_blocked_pyr": float(np.max(pyr["nmda_blocked"])),
    }


def write_table(rows: list[dict[str, float]], path: Path) -> Path:
    """Write the dose-response rows as ``dose_response.csv``, atomically.

    Parameters
    ----------
    rows : list of dict of str to float
        One row per dose, as [`summarize`][ketamine_sim.experiments.analysis.dose_response.summarize]
        returns them.
    path : pathlib.Path
        The CSV file; its folder must exist.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        A row has a key that is not one of ``COLUMNS`` (``csv.DictWriter``).
    OSError
        The file cannot be written; ``path`` is then left as it was
        ([`atomic_write`][ketamine_sim.experiments.files.atomic_write]: never half-written).

    Examples
    --------
    >>> import tempfile
    >>> path = write_table([{c: 0.0 for c in COLUMNS}], Path(tempfile.mkdtemp()) / "dose_response.csv")
    >>> path.read_text().splitlines()[0]
    'dose_mg_per_kg,peak_glutamate_change_pct,evoked_release_change_pct,pyr_rate_change_pct,pv_rate_change_pct,sst_rate_change_pct,peak_nmda_blocked_pyr'
    """

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    return atomic_write(path, write)
