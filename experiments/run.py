"""Run one experiment from a composed config and write ``results.h5`` (and a figure)."""

from __future__ import annotations

import logging
import platform
import socket
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from omegaconf import OmegaConf

from . import config as C
from .engine import make_engine
from .protocols import PROTOCOLS
from .readouts import READOUT_UNITS, TRAIN_READOUT_UNITS
from .results import RunData, write_results
from .timeline import run_protocol

log = logging.getLogger(__name__)


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
        root = Path(__file__).resolve().parent.parent
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _run_data(cfg, protocol, structure, drive, engine, clock: float, started: datetime, train=None) -> RunData:
    result = run_protocol(protocol, structure, drive, engine, int(cfg.seed), C.neurochemistry(cfg), C.a1_antagonist(cfg),
                          train=train, plasticity=C.plasticity(cfg, structure))
    wall = {"build": engine.timings["build_s"], **result.wall_s, "total": time.perf_counter() - clock}
    provenance = {
        "seed": int(cfg.seed),
        "git_commit": _git_commit(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "start_time": started.isoformat(),
        "end_time": datetime.now(timezone.utc).isoformat(),
        "circuit_digest": structure.digest(),
        "recompiled": bool(engine.recompiled),
        "backend": cfg.backend.name,
        "versions": _versions(),
        "wall_time_s": wall,
    }
    return RunData(spikes=result.spikes, windows=result.windows, window_units=result.window_units,
                   timeline=result.timeline, timeline_units=result.timeline_units, readouts=result.readouts,
                   readout_units={**READOUT_UNITS, **TRAIN_READOUT_UNITS},
                   config_yaml=OmegaConf.to_yaml(cfg, resolve=True), provenance=provenance, synapses=result.synapses)


def run_experiment(cfg, output_dir: str | Path) -> Path:
    """Validate ``cfg``, run its experiment, write ``results.h5`` (dose_response: one per dose
    and ``dose_response.csv``) into ``output_dir``; returns the path of the main file."""
    C.validate(cfg)
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    output_dir = Path(output_dir)
    structure = C.circuit_structure(cfg)
    drive = C.circuit_drive(cfg)
    cache_dir = Path(cfg.backend.cache_dir).expanduser() if cfg.backend.cache_dir else None
    name = cfg.experiment.name
    log.info("experiment %s: circuit %s (%d neurons), drug %s, backend %s, seed %d", name, structure.name,
             sum(structure.counts.values()), cfg.drug.name, cfg.backend.name, cfg.seed)
    if name == "scorecard":  # every run in its own process; no engine here
        from .scorecard import run_scorecard

        return run_scorecard(cfg, output_dir)
    engine = make_engine(structure, cfg.backend.name, cache_dir)
    if name == "dose_response":
        return _dose_response(cfg, output_dir, structure, drive, engine, clock, started)
    train = C.train(cfg) if name == "evoked_release" else None
    data = _run_data(cfg, PROTOCOLS[name](cfg), structure, drive, engine, clock, started, train)
    path = write_results(output_dir / "results.h5", data)
    log.info("results: %s", path.resolve())
    if cfg.output.figure:
        from .figures import summary_figure

        log.info("figure: %s", summary_figure(data, output_dir / "summary.png").resolve())
        if "spine_density" in data.timeline:
            from .figures import spine_density

            spine_density(data, output_dir / "spine_density")
            log.info("figure: %s", (output_dir / "spine_density.png").resolve())
    return path


def _dose_response(cfg, output_dir: Path, structure, drive, engine, clock: float, started: datetime) -> Path:
    """The iv_infusion protocol once per dose, all on the one compiled circuit."""
    from . import dose_response

    rows = []
    doses = C.dose_list(cfg)
    for i, dose in enumerate(doses):
        log.info("dose %d/%d: %g mg/kg", i + 1, len(doses), dose)
        dose_cfg = OmegaConf.merge(cfg, {"dosing": {"dose_mg_per_kg": dose}})
        dose_clock = clock if i == 0 else time.perf_counter()  # each file's total covers its own dose (the first: the build too)
        data = _run_data(dose_cfg, PROTOCOLS["iv_infusion"](dose_cfg), structure, drive, engine, dose_clock, started)
        write_results(output_dir / f"dose_{dose:g}_mg_per_kg" / "results.h5", data)
        rows.append(dose_response.summarize(dose, data))
    path = dose_response.write_table(rows, output_dir / "dose_response.csv")
    log.info("results: %s (and dose_*/results.h5)", path.resolve())
    if cfg.output.figure:
        log.info("figure: %s", dose_response.figure(rows, output_dir / "dose_response.png").resolve())
    return path
