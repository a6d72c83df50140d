"""The dose-response summary: one row per IV dose, from that dose's results."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from experiments.results import RunData, atomic_write

#: The dose and the changes from baseline (%) of `summarize` (what the dose-response figure plots).
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
    """Extremes over the windows after the baseline (window 0), relative to the baseline, in %.

    Glutamate: the peak of the bulk pool over the protocol; evoked release: its lowest
    value; rates: the largest change (up or down) of each population."""

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
    """The rows as CSV at ``path`` (columns `COLUMNS`), written atomically
    ([`experiments.results.atomic_write`][experiments.results.atomic_write]: never half-written)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    return atomic_write(path, write)
