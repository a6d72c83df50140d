"""The summary figure of a run: concentrations, NMDA block, rates per window, rasters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from circuits.cells import POPULATIONS
from circuits.compounds import SPECIES

from .results import RunData, spikes_in_window

COLORS = {"pyr": "tab:red", "pv": "tab:blue", "sst": "tab:green"}


def summary_figure(data: RunData, path: str | Path) -> Path:
    """Four panels: brain (and plasma) concentration with the windows marked; NMDA blocked
    fraction per population; firing rate per window; rasters of the baseline (first) window
    and the window with the highest brain concentration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clinical = "time_from_dose_s" in data.timeline  # plot against time from the start of dosing
    axis = "time_from_dose_s" if clinical else "time_s"
    t_min = data.timeline[axis] / 60.0
    starts_min = data.windows[axis if clinical else "start_s"] / 60.0
    xlabel = "time from start of dosing (min)" if clinical else "protocol time (min)"
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)

    ax = axes[0, 0]
    brain = sum(data.timeline[f"brain_{k}_uM"] for k in SPECIES)
    ax.plot(t_min, brain, color="k", label="brain, all species")
    if f"plasma_{SPECIES[0]}_uM" in data.timeline:
        plasma = sum(data.timeline[f"plasma_{k}_uM"] for k in SPECIES)
        ax.plot(t_min, plasma, color="0.5", ls="--", label="plasma, all species")
    for s in starts_min:
        ax.axvline(s, color="tab:orange", alpha=0.4, lw=1)
    ax.set(xlabel=xlabel, ylabel="concentration (uM)", title="drug (orange: spiking windows)")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[0, 1]
    for pop in POPULATIONS:
        ax.plot(t_min, data.timeline[f"nmda_blocked_{pop}"], color=COLORS[pop], label=pop)
    ax.set(xlabel=xlabel, ylabel="NMDA blocked fraction", ylim=(0, 1), title="ketamine block, glutamate, adenosine")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    chem = ax.twinx()
    for name, style in (("glutamate", "k-"), ("adenosine", "k:")):
        if name in data.timeline:
            chem.plot(t_min, data.timeline[name], style, lw=1, label=f"{name} (x baseline)")
    chem.set_ylabel("x baseline")
    chem.legend(frameon=False, fontsize=8, loc="upper right")

    ax = axes[1, 0]
    x = np.arange(len(starts_min))
    for pop in POPULATIONS:
        ax.plot(x, data.readouts[pop]["rate"], "o-", color=COLORS[pop], label=pop)
    ax.set_xticks(x, [str(label) for label in data.windows["label"]], rotation=45, ha="right", fontsize=8)
    ax.set(ylabel="firing rate (Hz)", title="rate per window")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[1, 1]
    drug_in_window = sum(data.windows[f"brain_{k}_uM"] for k in SPECIES)
    last = int(np.argmax(drug_in_window)) if np.any(drug_in_window > 0) else len(starts_min) - 1
    offset = 0
    for pop in POPULATIONS:
        n = int(max(data.spikes[pop][1].max(initial=0) + 1, 1))
        shown = min(n, 60)
        for index, side in ((0, 0.0), (last, 1.05)):
            times_ms, ids = spikes_in_window(data, pop, index)
            keep = ids < shown
            duration_ms = 1e3 * data.windows["duration_s"][index]
            ax.plot(side + times_ms[keep] / duration_ms, offset + ids[keep], "|", ms=2, color=COLORS[pop])
        offset += shown + 5
    ax.set_xticks([0.5, 1.55], [f"window '{data.windows['label'][0]}'", f"window '{data.windows['label'][last]}'"])
    ax.set(ylabel="neuron (first 60 per population)", title="raster")
    fig.suptitle("ketamine-sim summary")
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
