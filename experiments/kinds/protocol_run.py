"""Running a protocol experiment on one compiled circuit: the windows, the provenance, the file.

`run_protocol_experiment` runs the protocol of ``experiment.name`` (bath, iv_infusion,
evoked_release, course) and writes ``results.h5`` and its figures; `run_dose_response`
runs the iv_infusion protocol once per dose on the same compiled circuit.
"""

from __future__ import annotations

import logging
import platform
import socket
import subprocess
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from omegaconf import OmegaConf

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.analysis import dose_response
from ketamine_sim.experiments.interrupts import Interrupts
from ketamine_sim.experiments.kinds.folders import Outputs, dose_folders
from ketamine_sim.experiments.kinds.progress import window_bar
from ketamine_sim.experiments.protocols import PROTOCOLS
from ketamine_sim.experiments.results import RunData, write_results
from ketamine_sim.experiments.simulation.engine import make_engine
from ketamine_sim.experiments.simulation.progress import WindowDone
from ketamine_sim.experiments.simulation.readouts import READOUT_UNITS, TRAIN_READOUT_UNITS
from ketamine_sim.experiments.simulation.timeline import run_protocol

log = logging.getLogger(__name__)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("ketamine-sim", "brian2", "numpy", "scipy", "h5py", "hydra-core", "omegaconf", "matplotlib"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _git(*args: str) -> str:
    """``git ARGS`` in the checkout ('' when git or the checkout is missing)."""
    from ketamine_sim.experiments.paths import ROOT

    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def git_state() -> dict[str, str | bool]:
    """The code a run used: ``git_commit`` (the checkout's HEAD, or "unknown" outside a git
    checkout, e.g. an installed wheel), ``git_dirty`` (True when tracked files differ from
    HEAD, as ``git describe --dirty`` decides; "unknown" without git) and ``git_describe``
    (``git describe --always --dirty``, e.g. ``a0c961c-dirty``)."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return {"git_commit": "unknown", "git_dirty": "unknown", "git_describe": "unknown"}
    describe = _git("describe", "--always", "--dirty", "--abbrev=12")
    return {
        "git_commit": commit,
        "git_dirty": describe.endswith("-dirty") if describe else "unknown",
        "git_describe": describe or "unknown",
    }


class _StopAfterWindow(Interrupts):
    """While the windows of a protocol run, a first SIGINT (Ctrl-C, a notebook's "interrupt
    kernel") asks the run to stop after the current window, a second stops it at once. Brian2's
    own handler would only stop a runtime network early (and swallow the signal during a
    standalone window); the window the binary itself cut short is refused by the engine."""

    def __init__(self) -> None:
        super().__init__(
            "the run stops after the current window and writes nothing (interrupt again to stop at once)",
            twice_stops=True,
        )

    def after_window(self) -> None:
        """Called after every window: stops the run if asked."""
        if self.requested:
            raise KeyboardInterrupt("interrupted: the run stopped after a window")


def _run_data(cfg, protocol, structure, drive, engine, clock: float, started: datetime, train=None) -> RunData:
    bar_label = f"{cfg.experiment.name} seed {cfg.seed}"
    with (
        _StopAfterWindow() as stop,
        window_bar(bar_label, len(protocol.windows), logging.getLogger(run_protocol.__module__)) as report,
    ):

        def progress(done: WindowDone) -> None:
            report(done)
            stop.after_window()

        try:
            result = run_protocol(
                protocol,
                structure,
                drive,
                engine,
                int(cfg.seed),
                C.mechanisms(cfg, structure),
                train=train,
                progress=progress,
            )
        except Exception as error:  # e.g. the binary killed by the same Ctrl-C outside its run loop
            if stop.requested:
                raise KeyboardInterrupt(f"interrupted ({type(error).__name__}: {error})") from error
            raise
    wall = {"build": engine.timings["build_s"], **result.wall_s, "total": time.perf_counter() - clock}
    provenance = {
        "seed": int(cfg.seed),
        **git_state(),
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
        connectivity=result.connectivity if cfg.output.get("connectivity", False) else {},
        field_potential=result.field_potential,
    )


def run_protocol_experiment(cfg, output_dir: Path, outputs: Outputs, clock: float, started: datetime) -> Path:
    """The protocol of ``experiment.name`` on the compiled circuit: writes ``results.h5`` and,
    with ``output.figure``, ``summary.png`` (and ``spine_density.png``/``.svg`` when the run has
    plasticity traces). Returns the results' path. Ctrl-C: nothing is left."""
    with _discard_on_interrupt(outputs, output_dir):
        structure, drive, engine = _circuit(cfg)
        train = C.train(cfg) if cfg.experiment.name == "evoked_release" else None
        protocol = PROTOCOLS[cfg.experiment.name](cfg)
        data = _run_data(cfg, protocol, structure, drive, engine, clock, started, train)
        path = outputs.write(output_dir / "results.h5", lambda p: write_results(p, data))
        log.info("results: %s", path.resolve())
        if cfg.output.figure:
            _figures(data, output_dir, outputs)
        return path


def _figures(data: RunData, output_dir: Path, outputs: Outputs) -> None:
    from ketamine_sim.experiments.figures import spine_density, summary_figure

    png = outputs.write(output_dir / "summary.png", lambda p: summary_figure(data, p))
    log.info("figure: %s", png.resolve())
    if "spine_density" in data.timeline:
        base = output_dir / "spine_density"  # written as .png and .svg
        png = outputs.write(
            base.with_suffix(".png"), lambda p: spine_density(data, base), also=[base.with_suffix(".svg")]
        )
        log.info("figure: %s", png.resolve())


def _circuit(cfg):
    """The circuit's structure and drive, and the engine that runs its windows (compiled once)."""
    structure = C.circuit_structure(cfg)
    cache_dir = Path(cfg.backend.cache_dir).expanduser() if cfg.backend.cache_dir else None
    log.info("circuit %s: %d neurons", structure.name, sum(structure.counts.values()))
    return structure, C.circuit_drive(cfg), make_engine(structure, cache_dir=cache_dir, **C.engine_options(cfg))


@contextmanager
def _discard_on_interrupt(outputs: Outputs, output_dir: Path):
    """On Ctrl-C, remove what the run wrote and re-raise."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        outputs.discard()
        log.warning("%s: nothing written to %s", interrupt or "interrupted", output_dir)
        raise


def run_dose_response(cfg, output_dir: Path, outputs: Outputs, clock: float, started: datetime) -> Path:
    """The iv_infusion protocol once per dose, all on the one compiled circuit; writes
    ``dose_*/results.h5`` and ``dose_response.csv`` (and its figure). Ctrl-C: nothing is left."""
    with _discard_on_interrupt(outputs, output_dir):
        return _dose_response(cfg, output_dir, outputs, clock, started)


def _dose_response(cfg, output_dir: Path, outputs: Outputs, clock: float, started: datetime) -> Path:
    folders = dose_folders(C.dose_list(cfg))
    structure, drive, engine = _circuit(cfg)
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
        from ketamine_sim.experiments.figures import dose_response_png

        png = outputs.write(output_dir / "dose_response.png", lambda p: dose_response_png(rows, p))
        log.info("figure: %s", png.resolve())
    return path


def redraw_summary(folder: Path, cfg) -> bool:
    """Redraw ``summary.png`` of finished results if it is missing or cut off."""
    from ketamine_sim.experiments.figures import png_complete, summary_figure
    from ketamine_sim.experiments.results import read_results

    png = Path(folder) / "summary.png"
    if png_complete(png):
        return False
    summary_figure(read_results(Path(folder) / "results.h5"), png)
    return True


def redraw_dose_response(folder: Path, results: list[tuple[str, object]]) -> bool:
    """Redraw ``dose_response.png`` from the per-dose results if it is missing or cut off."""
    from ketamine_sim.experiments.figures import dose_response_png, png_complete
    from ketamine_sim.experiments.results import read_results

    png = Path(folder) / "dose_response.png"
    if png_complete(png):
        return False
    rows = [
        dose_response.summarize(float(c.dosing.dose_mg_per_kg), read_results(Path(folder) / rel)) for rel, c in results
    ]
    dose_response_png(rows, png)
    return True
