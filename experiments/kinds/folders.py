"""A run's output folder: held while the run runs, checked before, cleaned after.

A run holds its output folder while it runs ([`claim_folder`][experiments.kinds.claim_folder]): the folder must be
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

from experiments.config import dose_folder
from experiments.errors import ConfigError, RunFolderError

#: The file lock a run holds in its output folder while it runs (removed when it ends).
LOCK_FILE = ".ketamine-sim.lock"
#: Files whose presence means that a folder holds the results of a run (besides ``dose_*/results.h5``).
RESULT_FILES = ("results.h5", "dose_response.csv", "scorecard.csv")
#: Everything else a run writes into its folder (figures, tables), removed with its results.
OUTPUT_FILES = (
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
    """`dose_folder` of every dose; raises ConfigError if two doses would share a folder."""
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
    """The results an earlier run left in ``folder`` (`RESULT_FILES`, ``dose_*/results.h5``)."""
    folder = Path(folder)
    return [folder / name for name in RESULT_FILES if (folder / name).exists()] + sorted(
        folder.glob("dose_*/results.h5")
    )


def remove_results(folder: str | os.PathLike) -> list[Path]:
    """Delete what a run writes into ``folder`` (results, figures, tables, ``dose_*_mg_per_kg/``);
    returns what was removed. Hydra's files (``.hydra/``, the log) and ``job_status.json`` stay."""
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
    """Create ``folder`` if needed and write (and remove) a probe file in it; raises
    [`RunFolderError`][experiments.errors.RunFolderError] naming ``field`` if either fails. Returns the folder."""
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
    """Hold ``folder`` for one run (a context manager; yields the folder).

    Checks that it can be written, takes its lock (`LOCK_FILE`; a folder whose lock a
    live run holds is refused) and, unless ``resume``, refuses a folder that holds an earlier
    run's results. Raises [`RunFolderError`][experiments.errors.RunFolderError] naming ``field``; the lock file is removed
    when the block ends."""
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
    """What [`claim_folder`][experiments.kinds.claim_folder] checks, without holding the folder (raises RunFolderError)."""
    with claim_folder(folder, field, resume):
        pass


class Outputs:
    """Writes a run's files, each failure as one [`RunFolderError`][experiments.errors.RunFolderError] naming the path; on an
    interruption (`discard`) removes what it wrote."""

    def __init__(self, field: str):
        self.field = field
        self.written: list[Path] = []

    def write(self, path: Path, writer: Callable[[Path], object], also: Sequence[Path] = ()) -> Path:
        """``writer(path)``; ``also``: further files it writes. Returns ``path``."""
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
        for path in reversed(self.written):
            with suppress(OSError):
                path.unlink()
                if path.parent.name.startswith("dose_"):
                    path.parent.rmdir()  # only if empty
