"""The dose-response summary: one row per IV dose, from that dose's results."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .results import RunData

COLUMNS = ("dose_mg_per_kg", "peak_glutamate_change_pct", "evoked_release_change_pct", "pyr_rate_change_pct",
           "pv_rate_change_pct", "sst_rate_change_pct", "peak_nmda_blocked_pyr")


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
        "peak_glutamate_change_pct": float(100.0 * (np.max(glutamate) - 1.0)) if glutamate is not None else float("nan"),
        "evoked_release_change_pct": float(100.0 * (np.min(pyr["evoked_release"][1:]) / pyr["evoked_release"][0] - 1.0)),
        "pyr_rate_change_pct": change(pyr["rate"]),
        "pv_rate_change_pct": change(data.readouts["pv"]["rate"]),
        "sst_rate_change_pct": change(data.readouts["sst"]["rate"]),
        "peak_nmda_blocked_pyr": float(np.max(pyr["nmda_blocked"])),
    }


def write_table(rows: list[dict[str, float]], path: Path) -> Path:
    """CSV, written to a temp file and renamed (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def figure(rows: list[dict[str, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    doses = [r["dose_mg_per_kg"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    left.plot(doses, [r["peak_glutamate_change_pct"] for r in rows], "ko-", label="peak bulk glutamate")
    left.plot(doses, [r["evoked_release_change_pct"] for r in rows], "s-", color="tab:purple", label="evoked release (lowest)")
    left.axhline(0, color="0.7", lw=0.8)
    left.set(xlabel="IV dose over the infusion (mg/kg)", ylabel="change from baseline (%)", title="glutamate")
    left.legend(frameon=False, fontsize=8)
    for pop, color in (("pyr", "tab:red"), ("pv", "tab:blue"), ("sst", "tab:green")):
        right.plot(doses, [r[f"{pop}_rate_change_pct"] for r in rows], "o-", color=color, label=pop)
    right.axhline(0, color="0.7", lw=0.8)
    right.set(xlabel="IV dose over the infusion (mg/kg)", ylabel="largest rate change (%)", title="firing")
    right.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
