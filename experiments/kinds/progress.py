"""A run's windows as a progress bar in a terminal (tqdm), as plain log lines elsewhere.

Every window's line (see [`WindowDone`][ketamine_sim.experiments.simulation.progress.WindowDone]) is logged
as before, so Hydra's log file and a sweep's logs hold it with its estimate of the time left;
when standard error is a terminal a tqdm bar with elapsed time and ETA stays below the log
lines (tqdm's ``logging_redirect_tqdm`` writes console log lines above it) and disappears at
the end.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from ketamine_sim.experiments.simulation.progress import WindowDone


def _is_terminal() -> bool:
    """Whether standard error is an interactive terminal (a bar is drawn only there)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


class WindowBar:
    """Receives the protocol loop's `WindowDone` events: logs each and moves the bar."""

    def __init__(self, bar, log: logging.Logger) -> None:
        self.bar, self.log = bar, log

    def __call__(self, done: WindowDone) -> None:
        self.log.info("%s", done)
        if self.bar is not None:
            self.bar.set_postfix_str(f"'{done.label}'", refresh=False)
            self.bar.update(1)


@contextlib.contextmanager
def window_bar(description: str, n_windows: int, log: logging.Logger) -> Iterator[WindowBar]:
    """A `WindowBar` for one protocol run; with a bar only in a terminal.

    Parameters
    ----------
    description : str
        The bar's label (the experiment and seed).
    n_windows : int
        The protocol's windows (the bar's total).
    log : logging.Logger
        Where every window's line goes.
    """
    if not _is_terminal():
        yield WindowBar(None, log)
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with (
        tqdm(total=n_windows, desc=description, unit="window", file=sys.stderr, leave=False, dynamic_ncols=True) as bar,
        logging_redirect_tqdm(loggers=[logging.getLogger()]),
    ):
        yield WindowBar(bar, log)
