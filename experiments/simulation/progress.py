"""What the protocol loop reports after every window, in units people read at a glance.

[`WindowDone`][ketamine_sim.experiments.simulation.progress.WindowDone] is the event `run_protocol` hands
its ``progress`` hook; its text is one plain log line. Protocol time is written in the unit
of its size (s, min, h, d: a 14-day course reads "14.0 d", not "20175.0 min"),
concentrations with a metric prefix (fM to mM; "0 µM" below 1 fM), and the line ends with
the elapsed time and an estimate of the time left.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketamine_sim.circuits.units import SECONDS_PER_DAY

#: Below this brain concentration (uM) the drug is written as 0 (1 fM: the tail of a washout).
ZERO_UM = 1e-9


def format_time_s(seconds: float) -> str:
    """A duration or protocol time in the unit of its size.

    Examples
    --------
    >>> [format_time_s(t) for t in (42.0, 600.0, 7200.0, 14 * 86400.0, -600.0)]
    ['42.0 s', '10.0 min', '2.0 h', '14.0 d', '-10.0 min']
    """
    size = abs(seconds)
    for unit, scale, below in (("s", 1.0, 120.0), ("min", 60.0, 7200.0), ("h", 3600.0, 2 * SECONDS_PER_DAY)):
        if size < below:
            return f"{seconds / scale:.1f} {unit}"
    return f"{seconds / SECONDS_PER_DAY:.1f} d"


def format_uM(value_uM: float) -> str:
    """A concentration with a metric prefix, three significant digits.

    Examples
    --------
    >>> [format_uM(c) for c in (5.72e-35, 1.77e-8, 0.000512, 0.5, 12.0, 2500.0)]
    ['0 µM', '17.7 fM', '512 pM', '500 nM', '12 µM', '2.5 mM']
    """
    if abs(value_uM) < ZERO_UM:
        return "0 µM"
    for unit, scale in (("fM", 1e-9), ("pM", 1e-6), ("nM", 1e-3), ("µM", 1.0)):
        if abs(value_uM) < 1000 * scale:
            return f"{value_uM / scale:.3g} {unit}"
    return f"{value_uM / 1000:.3g} mM"


@dataclass(frozen=True)
class WindowDone:
    """One window of a protocol has run.

    Attributes
    ----------
    index : int
        The window's index (0-based).
    n_windows : int
        Windows in the protocol.
    label : str
        The window's label.
    start_s : float
        Its start in protocol time (s).
    brain_drug_uM : float
        Total brain concentration of the drug's species at its start (uM).
    rates_hz : dict of str to float
        Mean rate of every population after the transient (Hz).
    wall_s : float
        Wall time of the window's simulation (s).
    elapsed_s : float
        Wall time since the loop started (s), slow layer included.
    """

    index: int
    n_windows: int
    label: str
    start_s: float
    brain_drug_uM: float
    rates_hz: dict
    wall_s: float
    elapsed_s: float

    @property
    def remaining_s(self) -> float:
        """Estimated wall time left: the mean time per window so far times the windows left."""
        done = self.index + 1
        return self.elapsed_s / done * (self.n_windows - done)

    def __str__(self) -> str:
        """The plain log line.

        Examples
        --------
        >>> print(WindowDone(2, 10, "10 min", 2100.0, 0.512, {"pyr": 4.13, "pv": 18.2}, 2.0, 6.3))
        window 3/10 '10 min' (protocol time 35.0 min, brain drug 512 nM): pyr 4.1 Hz, pv 18.2 Hz [window 2.0 s; 6.3 s elapsed, about 14.7 s left]
        """
        rates = ", ".join(f"{pop} {rate:.1f} Hz" for pop, rate in self.rates_hz.items())
        return (
            f"window {self.index + 1}/{self.n_windows} '{self.label}' (protocol time "
            f"{format_time_s(self.start_s)}, brain drug {format_uM(self.brain_drug_uM)}): {rates} "
            f"[window {self.wall_s:.1f} s; {format_time_s(self.elapsed_s)} elapsed, "
            f"about {format_time_s(self.remaining_s)} left]"
        )
