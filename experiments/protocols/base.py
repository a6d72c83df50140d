"""What a protocol is: a slow timeline with the brain concentration of every species on it,
and the spiking windows placed on it (DESIGN.md: fast windows inside a slow timeline)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Window:
    label: str
    start_s: float


@dataclass
class Protocol:
    """Windows plus the timeline: ``time_s`` and per-species brain (and plasma) concentration on it."""

    windows: list[Window]
    time_s: np.ndarray
    brain_uM: dict[str, np.ndarray]
    plasma_uM: dict[str, np.ndarray] | None = None
    conditions: dict[str, np.ndarray] = field(default_factory=dict)  #: extra per-window columns
    condition_units: dict[str, str] = field(default_factory=dict)
    extra_timeline: dict[str, np.ndarray] = field(default_factory=dict)  #: extra traces on time_s (units: s)
    ampa_available: np.ndarray | None = None  #: on time_s: fraction of local AMPA receptors not blocked (NBQX timing)
    mtor_gate: np.ndarray | None = None  #: on time_s: mTOR activity allowed (1 - rapamycin block)


def timeline_grid(start_s: float, stop_s: float, step_s: float, windows: list[Window], window_s: float) -> np.ndarray:
    """Regular grid plus every window's start and end, without points strictly inside a window."""
    grid = np.arange(start_s, stop_s + 0.5 * step_s, step_s)
    for w in windows:
        grid = grid[(grid <= w.start_s) | (grid >= w.start_s + window_s)]
    edges = [t for w in windows for t in (w.start_s, w.start_s + window_s)]
    return np.unique(np.concatenate([grid, edges, [start_s, stop_s]]))


def check_windows(windows: list[Window], window_s: float, start_s: float, stop_s: float) -> None:
    starts = [w.start_s for w in windows]
    if not windows:
        raise ValueError("a protocol needs at least one window")
    if starts != sorted(starts):
        raise ValueError(f"windows must be in time order, got starts {starts} s")
    for a, b in zip(windows, windows[1:]):
        if b.start_s < a.start_s + window_s:
            raise ValueError(f"windows '{a.label}' and '{b.label}' overlap (each lasts {window_s} s)")
    if starts[0] < start_s or starts[-1] + window_s > stop_s:
        raise ValueError(f"windows must lie within the protocol [{start_s}, {stop_s}] s")
