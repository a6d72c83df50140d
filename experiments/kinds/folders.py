"""A run's output folder: held while the run runs, checked before, cleaned after.

A run holds its output folder while it runs ([`claim_folder`][ketamine_sim.experiments.kinds.claim_folder]): the folder must be
writable (checked before anything is simulated), no other run may be running in it (a
file lock, `LOCK_FILE`), and it must not hold the results of an earlier run, unless
the run resumes into it (sweep jobs, the scorecard) or was asked to overwrite them. An
interrupted run (Ctrl-C) writes nothing: what it had written is removed (`Outputs`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from ketamine_sim.experiments.config import dose_folder
from ketamine_sim.experiments.errors import ConfigError, RunFolderError
from ketamine_sim.experiments.scoring.objective import OBJECTIVE_FILE

#: The file lock a run holds in its output folder while it runs (removed when it ends).
LOCK_FILE = ".ketamine-sim.lock"
#: Files whose presence means that a folder holds the results of a run (besides ``dose_*/results.h5``).
RESULT_FILES = ("results.h5", "dose_response.csv", "scorecard.csv")
#: Everything else a run writes into its folder (figures, tables), removed with its results.
OUTPUT_FILES = (
    OBJECTIVE_FILE,
    "summary.png",
    "spine_density.png",
    "spine_density.svg",
    "dose_response.png",
    "scorecard.md",
    "scorecard.png",
    "scorecard.svg",
)


# --------------------------------------------------------------------------- output folders


def dose_folders(doses_mg_per_kg: Sequence[float]) -> list[str]:
    """The sub-folder of each dose of a ``dose_response`` experiment.

    Parameters
    ----------
    doses_mg_per_kg : sequence of float
        The IV doses (mg/kg).

    Returns
    -------
    list of str
        ``ketamine_sim.experiments.config.dose_folder`` of each dose (``dose_<dose>_mg_per_kg``), in order.

    Raises
    ------
    ConfigError
        Two doses would share a folder (naming ``dose_response.doses_mg_per_kg``).

    Examples
    --------
    >>> dose_folders([0.25, 0.5, 1.0])
    ['dose_0.25_mg_per_kg', 'dose_0.5_mg_per_kg', 'dose_1_mg_per_kg']
    >>> dose_folders([0.5, 0.50])
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: dose_response.doses_mg_per_kg: doses 0.5 and 0.5 would write into one folder (dose_0.5_mg_per_kg); give each dose once
    """
    names: dict[str, float] = {}
    for dose in doses_mg_per_kg:
        name = dose_folder(dose)
        if name in names:
            raise ConfigError(
                "dose_response.doses_mg_per_kg",
                f"doses {names[name]!r} and {dose!r} would write into one folder ({name}); give each dose once",
            )
        names[name] = dose
    return list(names)


def existing_results(folder: str | os.PathLike) -> list[Path]:
    """The results an earlier run left in a folder.

    Parameters
    ----------
    folder : str or os.PathLike
        A run's output folder.

    Returns
    -------
    list of pathlib.Path
        The files of ``RESULT_FILES`` (``results.h5``, ``dose_response.csv``,
        ``scorecard.csv``) found in it, then ``dose_*/results.h5`` sorted; empty if none.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> existing_results(folder)
    []
    >>> _ = (folder / "results.h5").write_bytes(b"")
    >>> [p.name for p in existing_results(folder)]
    ['results.h5']
    """
    folder = Path(folder)
    return [folder / name for name in RESULT_FILES if (folder / name).exists()] + sorted(
        folder.glob("dose_*/results.h5")
    )


def remove_results(folder: str | os.PathLike) -> list[Path]:
    """Delete what a run writes into a folder.

    Parameters
    ----------
    folder : str or os.PathLike
        A run's output folder.

    Returns
    -------
    list of pathlib.Path
        What was removed: the results (``RESULT_FILES``), figures and tables
        (``OUTPUT_FILES``) and the ``dose_*_mg_per_kg/`` folders. Hydra's files (``.hydra/``,
        the log) and ``job_status.json`` stay.

    Raises
    ------
    OSError
        A file or folder cannot be removed.
    """
    folder = Path(folder)
    removed = []
    for path in [*(folder / n for n in RESULT_FILES + OUTPUT_FILES), *folder.glob("dose_*_mg_per_kg")]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


def check_writable(folder: str | os.PathLike, field: str = "hydra.run.dir") -> Path:
    """Check that a run can write into a folder: create it if needed and write (and remove) a
    probe file in it.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder.
    field : str
        The setting that chose the folder, named in the error (``hydra.run.dir``,
        ``hydra.sweep.dir``, ``output_dir``).

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    RunFolderError
        The folder cannot be created or written (naming ``field``).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise RunFolderError(
            field, f"cannot write into {folder} ({error.strerror or error}); choose a folder this user can write"
        ) from None
    return folder


@contextmanager
def claim_folder(folder: str | os.PathLike, field: str = "hydra.run.dir", resume: bool = False) -> Iterator[Path]:
    """Hold a folder for one run (a context manager).

    Checks that it can be written ([`check_writable`][ketamine_sim.experiments.kinds.check_writable]),
    takes its lock (``LOCK_FILE``; a folder whose lock a live run holds is refused) and, unless
    ``resume``, refuses a folder that holds an earlier run's results
    ([`existing_results`][ketamine_sim.experiments.kinds.existing_results]). The lock file is removed when
    the block ends.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder (created if missing).
    field : str
        The setting that chose the folder, named in the error.
    resume : bool
        Accept a folder holding earlier results (sweep jobs, the scorecard, an overwrite).

    Yields
    ------
    pathlib.Path
        The folder.

    Raises
    ------
    RunFolderError
        The folder cannot be written, is in use by a live run, or holds earlier results and
        ``resume`` is False (naming ``field``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with claim_folder(folder, "output_dir") as held:
    ...     _ = (held / "results.h5").write_bytes(b"")
    >>> with claim_folder(folder, "output_dir"):
    ...     pass
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.RunFolderError: output_dir: ... already holds the results of an earlier run (results.h5); choose another folder or remove them
    """
    from filelock import FileLock, Timeout

    folder = check_writable(folder, field)
    lock = FileLock(str(folder / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunFolderError(
            field,
            f"{folder} is in use by a run that has not ended (it holds {LOCK_FILE}); "
            "wait for it to end or choose another folder",
        ) from None
    try:
        found = [] if resume else existing_results(folder)
        if found:
            raise RunFolderError(
                field,
                f"{folder} already holds the results of an earlier run "
                f"({found[0].relative_to(folder)}); choose another folder or remove them",
            )
        yield folder
    finally:
        lock.release()
        with suppress(OSError):
            (folder / LOCK_FILE).unlink()


def check_folder(folder: str | os.PathLike, field: str = "hydra.run.dir", resume: bool = False) -> None:
    """What [`claim_folder`][ketamine_sim.experiments.kinds.claim_folder] checks, without holding the folder
    afterwards; raises [`RunFolderError`][ketamine_sim.experiments.errors.RunFolderError] naming ``field``.
    """
    with claim_folder(folder, field, resume):
        pass


class Outputs:
    """The files a run writes, each failure as one
    [`RunFolderError`][ketamine_sim.experiments.errors.RunFolderError] naming the path; on an interruption
    (``discard``) removes what it wrote.

    Parameters
    ----------
    field : str
        The setting that chose the folder, named in the errors.
    """

    def __init__(self, field: str):
        self.field = field
        self.written: list[Path] = []

    def write(self, path: Path, writer: Callable[[Path], object], also: Sequence[Path] = ()) -> Path:
        """Write one file with ``writer(path)`` and remember it (and ``also``, further files the
        writer writes); returns ``path``. Raises RunFolderError, saying what was saved before, if
        the writer raises OSError.
        """
        path = Path(path)
        try:
            writer(path)
        except OSError as error:
            saved = (
                f"only {', '.join(str(p) for p in self.written)} was saved"
                if self.written
                else "the run's results were not saved"
            )
            raise RunFolderError(self.field, f"could not write {path} ({error.strerror or error}); {saved}") from error
        self.written.extend([path, *also])
        return path

    def discard(self) -> None:
        """Remove every file written so far, the last first (and a ``dose_*`` folder left empty)."""
        for path in reversed(self.written):
            with suppress(OSError):
                path.unlink()
                if path.parent.name.startswith("dose_"):
                    path.parent.rmdir()  # only if empty
