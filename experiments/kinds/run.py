"""Run one experiment from a composed config and write ``results.h5`` (and a figure).

A run holds its output folder while it runs (:func:`claim_folder`): the folder must be
writable (checked before anything is simulated), no other run may be running in it (a
file lock, :data:`LOCK_FILE`), and it must not hold the results of an earlier run, unless
the run resumes into it (sweep jobs, the scorecard) or was asked to overwrite them. An
interrupted run (Ctrl-C) writes nothing: what it had written is removed.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from omegaconf import OmegaConf

from experiments import config as C
from experiments.analysis import dose_response
from experiments.config import dose_folder
from experiments.errors import ConfigError, RunFolderError
from experiments.protocols import PROTOCOLS
from experiments.results import RunData, write_results
from experiments.scoring import scorecard
from experiments.simulation.engine import make_engine
from experiments.simulation.readouts import READOUT_UNITS, TRAIN_READOUT_UNITS
from experiments.simulation.timeline import run_protocol

log = logging.getLogger(__name__)

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
    """:func:`dose_folder` of every dose; raises ConfigError if two doses would share a folder."""
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
    """The results an earlier run left in ``folder`` (:data:`RESULT_FILES`, ``dose_*/results.h5``)."""
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
    :class:`RunFolderError` naming ``field`` if either fails. Returns the folder."""
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

    Checks that it can be written, takes its lock (:data:`LOCK_FILE`; a folder whose lock a
    live run holds is refused) and, unless ``resume``, refuses a folder that holds an earlier
    run's results. Raises :class:`RunFolderError` naming ``field``; the lock file is removed
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
    """What :func:`claim_folder` checks, without holding the folder (raises RunFolderError)."""
    with claim_folder(folder, field, resume):
        pass


class _Outputs:
    """Writes a run's files, each failure as one :class:`RunFolderError` naming the path; on an
    interruption (:meth:`discard`) removes what it wrote."""

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


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("ketamine-sim", "brian2", "numpy", "scipy", "h5py", "hydra-core", "omegaconf", "matplotlib"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _git_commit() -> str:
    try:
        from experiments.paths import ROOT as root

        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class _StopAfterWindow:
    """While the windows of a protocol run, a first SIGINT (Ctrl-C, a notebook's "interrupt
    kernel") asks the run to stop after the current window, a second stops it at once. Brian2's
    own handler would only stop a runtime network early (and swallow the signal during a
    standalone window); the window the binary itself cut short is refused by the engine."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = False
        self._previous = None

    def __enter__(self) -> _StopAfterWindow:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:  # None: a handler not set from Python; Python's own is the nearest
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt("interrupted twice: stopped at once")
        self.requested = True
        log.warning(
            "interrupt: the run stops after the current window and writes nothing (interrupt again to stop at once)"
        )

    def progress(self, message: str) -> None:
        """run_protocol's progress hook, called after every window: stops the run if asked."""
        logging.getLogger(run_protocol.__module__).info(message)
        if self.requested:
            raise KeyboardInterrupt("interrupted: the run stopped after a window")


def _run_data(cfg, protocol, structure, drive, engine, clock: float, started: datetime, train=None) -> RunData:
    with _StopAfterWindow() as stop:
        try:
            result = run_protocol(
                protocol,
                structure,
                drive,
                engine,
                int(cfg.seed),
                C.mechanisms(cfg, structure),
                train=train,
                progress=stop.progress,
            )
        except Exception as error:  # e.g. the binary killed by the same Ctrl-C outside its run loop
            if stop.requested:
                raise KeyboardInterrupt(f"interrupted ({type(error).__name__}: {error})") from error
            raise
    wall = {"build": engine.timings["build_s"], **result.wall_s, "total": time.perf_counter() - clock}
    provenance = {
        "seed": int(cfg.seed),
        "git_commit": _git_commit(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "start_time": started.isoformat(),
        "end_time": datetime.now(UTC).isoformat(),
        "circuit_digest": structure.digest(),
        "recompiled": bool(engine.recompiled),
        "backend": cfg.backend.name,
        "versions": _versions(),
        "wall_time_s": wall,
    }
    return RunData(
        spikes=result.spikes,
        windows=result.windows,
        window_units=result.window_units,
        timeline=result.timeline,
        timeline_units=result.timeline_units,
        readouts=result.readouts,
        readout_units={**READOUT_UNITS, **TRAIN_READOUT_UNITS},
        config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        provenance=provenance,
        synapses=result.synapses,
    )


def run_experiment(
    cfg, output_dir: str | Path, *, overwrite: bool = False, folder_field: str = "hydra.run.dir"
) -> Path:
    """Validate ``cfg``, run its experiment, write ``results.h5`` (dose_response: one per dose
    and ``dose_response.csv``) into ``output_dir``; returns the path of the main file.

    The folder is held while the run runs (:func:`claim_folder`): a folder that cannot be
    written, in which another run is running, or (unless ``overwrite``, which removes them
    first) that holds earlier results is refused with :class:`RunFolderError` (a
    :class:`~experiments.config.ConfigError` naming ``folder_field``) before anything is
    simulated. The scorecard resumes into its folder (finished runs are kept). On Ctrl-C
    the run stops after the current window, removes what it wrote and re-raises
    KeyboardInterrupt."""
    validate(cfg)
    if cfg.experiment.name == "dose_response":
        dose_folders(C.dose_list(cfg))
    resume = cfg.experiment.name == "scorecard"
    with claim_folder(output_dir, folder_field, resume=resume or overwrite) as folder:
        if overwrite and not resume:
            for path in remove_results(folder):
                log.info("overwrite: removed %s", path)
        return run_in_folder(cfg, folder, folder_field)


def run_in_folder(cfg, output_dir: str | Path, folder_field: str = "hydra.run.dir") -> Path:
    """:func:`run_experiment` in a folder the caller holds (:func:`claim_folder`); files it
    writes replace files of the same name."""
    validate(cfg)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    output_dir = Path(output_dir)
    structure = C.circuit_structure(cfg)
    drive = C.circuit_drive(cfg)
    cache_dir = Path(cfg.backend.cache_dir).expanduser() if cfg.backend.cache_dir else None
    name = cfg.experiment.name
    log.info(
        "experiment %s: circuit %s (%d neurons), drug %s, backend %s, seed %d",
        name,
        structure.name,
        sum(structure.counts.values()),
        cfg.drug.name,
        cfg.backend.name,
        cfg.seed,
    )
    if name == "scorecard":  # every run in its own process; no engine here
        from experiments.figures import scorecard as heat_map

        return scorecard.run_scorecard(cfg, output_dir, _run_one, _check_run, heat_map if cfg.output.figure else None)
    outputs = _Outputs(folder_field)
    try:
        folders = dose_folders(C.dose_list(cfg)) if name == "dose_response" else []
        engine = make_engine(structure, cfg.backend.name, cache_dir)
        if name == "dose_response":
            return _dose_response(cfg, output_dir, folders, structure, drive, engine, clock, started, outputs)
        train = C.train(cfg) if name == "evoked_release" else None
        data = _run_data(cfg, PROTOCOLS[name](cfg), structure, drive, engine, clock, started, train)
        path = outputs.write(output_dir / "results.h5", lambda p: write_results(p, data))
        log.info("results: %s", path.resolve())
        if cfg.output.figure:
            from experiments.figures import summary_figure

            png = outputs.write(output_dir / "summary.png", lambda p: summary_figure(data, p))
            log.info("figure: %s", png.resolve())
            if "spine_density" in data.timeline:
                from experiments.figures import spine_density

                base = output_dir / "spine_density"  # written as .png and .svg
                png = outputs.write(
                    base.with_suffix(".png"), lambda p: spine_density(data, base), also=[base.with_suffix(".svg")]
                )
                log.info("figure: %s", png.resolve())
        return path
    except KeyboardInterrupt as interrupt:
        outputs.discard()
        log.warning("%s: nothing written to %s", interrupt or "interrupted", output_dir)
        raise


def _dose_response(
    cfg,
    output_dir: Path,
    folders: list[str],
    structure,
    drive,
    engine,
    clock: float,
    started: datetime,
    outputs: _Outputs,
) -> Path:
    """The iv_infusion protocol once per dose, all on the one compiled circuit."""
    rows = []
    doses = C.dose_list(cfg)
    for i, (dose, folder) in enumerate(zip(doses, folders)):
        log.info("dose %d/%d: %g mg/kg", i + 1, len(doses), dose)
        dose_cfg = OmegaConf.merge(cfg, {"dosing": {"dose_mg_per_kg": dose}})
        dose_clock = (
            clock if i == 0 else time.perf_counter()
        )  # each file's total covers its own dose (the first: the build too)
        data = _run_data(dose_cfg, PROTOCOLS["iv_infusion"](dose_cfg), structure, drive, engine, dose_clock, started)
        outputs.write(output_dir / folder / "results.h5", lambda p, data=data: write_results(p, data))
        rows.append(dose_response.summarize(dose, data))
    path = outputs.write(output_dir / "dose_response.csv", lambda p: dose_response.write_table(rows, p))
    log.info("results: %s (and dose_*/results.h5)", path.resolve())
    if cfg.output.figure:
        from experiments.figures import dose_response_png

        png = outputs.write(output_dir / "dose_response.png", lambda p: dose_response_png(rows, p))
        log.info("figure: %s", png.resolve())
    return path


def validate(cfg) -> None:
    """The whole validation of a config: every value (:func:`experiments.config.validate`) and,
    for the scorecard, that its records exist and have a registered observable. Raises
    :class:`ConfigError` naming the field."""
    C.validate(cfg)
    if cfg.experiment.name == "scorecard":
        s = cfg.scorecard
        try:
            scorecard.scorable(
                scorecard.load_records(s.seeds_dir or scorecard.SEEDS_DIR),
                list(s.records) if s.records is not None else None,
            )
        except scorecard.RecordError as error:
            raise ConfigError(
                "scorecard.records" if "scorecard.records" in str(error) else "scorecard.seeds_dir", str(error)
            ) from None


def _run_one(overrides: tuple[str, ...], directory: str) -> str:
    """One scorecard run in its worker process (module level: pickled by name)."""
    logging.basicConfig(level=logging.WARNING)
    run_experiment(C.compose_config(list(overrides)), Path(directory))
    return directory


def _check_run(overrides) -> None:
    """The command line's checks of one scorecard run, with the whole validation."""
    C.check_overrides(list(overrides), validate=validate)
