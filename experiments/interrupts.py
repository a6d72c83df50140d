"""Ctrl-C as a request, not an exception at an arbitrary point (a leaf module).

`Interrupts` records SIGINT (Ctrl-C, a notebook's "interrupt kernel") in the main thread
while a block runs, so that the work stops where it can stop cleanly: a protocol after its
current window (`ketamine_sim.experiments.kinds.protocol_run`), the scorecard after its running runs'
windows (`ketamine_sim.experiments.scoring.scorecard`). With ``twice_stops`` a second interrupt raises
KeyboardInterrupt at once.
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


class Interrupts:
    """A context manager that records SIGINT while its block runs.

    Parameters
    ----------
    message : str
        Logged (warning) at the first interrupt: what will happen now.
    twice_stops : bool
        Whether a second interrupt raises KeyboardInterrupt at once.

    Attributes
    ----------
    requested : bool
        Whether an interrupt came.

    Notes
    -----
    Signals reach the main thread only: in another thread nothing is installed and
    ``requested`` stays False. On leaving, the previous handler is restored (Python's own where
    the previous one was not set from Python).

    Examples
    --------
    >>> import os, signal
    >>> with Interrupts("stopping after this step") as interrupts:
    ...     os.kill(os.getpid(), signal.SIGINT)
    >>> interrupts.requested
    True
    """

    def __init__(self, message: str, twice_stops: bool = False):
        self.message, self.twice_stops = message, twice_stops
        self.requested = False
        self._installed = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)

    def _handle(self, signum, frame) -> None:
        if self.requested and self.twice_stops:
            raise KeyboardInterrupt("interrupted twice: stopped at once")
        self.requested = True
        log.warning("interrupt: %s", self.message)


__all__ = ["Interrupts"]
