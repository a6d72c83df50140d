"""Bookkeeping of runs and sweeps: each job's index row points at its own folder, a run folder
is held by one run at a time and never silently overwritten, an interrupted run writes nothing,
output names derived from values are unique, and unwritable folders end in one line.

The fast tests stand in for the simulation (``ketamine_sim.experiments.kinds.protocol_run._run_data``) where only the
writing is checked; the tests marked ``compiles`` run the real command on ``circuit=small`` with one
thread and real signals.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.config import ConfigError, dose_folder
from ketamine_sim.experiments.errors import RunFolderError
from ketamine_sim.experiments.kinds import claim_folder, dose_folders, run_experiment
from ketamine_sim.experiments.kinds import folders as R
from ketamine_sim.experiments.kinds import protocol_run as P
from ketamine_sim.experiments.results import RunData
from ketamine_sim.experiments.sweep import STATUS_FILE, run_job, sweep_index

BATH = ("experiment=bath", "circuit=small", "backend.threads=1", "output.figure=false")
#: Eight 2 s windows on circuit=small (the real runs below signal the process during a window before
#: the last): enough that a probe on a slow machine meets one before the last (a small window's run
#: loop lasts about 0.15-0.3 s; with four, one run met only the last).
N_WINDOWS = 8
WINDOWS = (*BATH, "bath.concentrations_uM=[0,0.5,1,2,3,5,10,20]", "bath.equilibration_s=60")


def _env(cache: Path | None = None) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    if cache is not None:
        env["KETAMINE_SIM_CACHE"] = str(cache)
    return env


def _cli(*args: str, cache: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ketamine_sim.experiments.app", *args],
        capture_output=True,
        text=True,
        env=_env(cache),
        timeout=timeout,
    )


def _one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert exit 2 with one line on stderr (no traceback) holding every fragment; returns it."""
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ketamine-sim: "), proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- sweep index


def _fake_sweep(root: Path, jobs: list[list[str]], subdirs: list[str]) -> None:
    """A sweep folder as Hydra's basic sweeper and run_job leave it (no results files)."""
    sweep_param = ",".join(o.split("=", 1)[1] for o in (j[0] for j in jobs))
    key = jobs[0][0].split("=", 1)[0]
    (root / "multirun.yaml").write_text(
        yaml.safe_dump(
            {
                "hydra": {
                    "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "params": None},
                    "overrides": {"task": [f"{key}={sweep_param}"]},
                }
            }
        )
    )
    for num, (overrides, subdir) in enumerate(zip(jobs, subdirs)):
        folder = root / subdir
        (folder / ".hydra").mkdir(parents=True, exist_ok=True)
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (folder / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": num}}}))
        previous = json.loads((folder / STATUS_FILE).read_text()) if (folder / STATUS_FILE).exists() else {}
        jobs_here = sorted({*previous.get("jobs", []), num})
        (folder / STATUS_FILE).write_text(
            json.dumps(
                {"status": "done", "job": num, "jobs": jobs_here, "overrides": overrides, "job_wall_s": 10.0 + num}
            )
        )
        stamp = time.time() - 100 + num  # later jobs are newer
        os.utime(folder / STATUS_FILE, (stamp, stamp))
        os.utime(folder, (stamp, stamp))


def test_equal_overrides_each_job_points_at_its_own_folder(tmp_path):
    """``seed=1,2,1``: job 0 used to get job 2's folder and timing (rows matched by overrides)."""
    _fake_sweep(tmp_path, [["seed=1"], ["seed=2"], ["seed=1"]], ["0", "1", "2"])
    frame = sweep_index(tmp_path)
    assert frame["run"].tolist() == ["0", "1", "2"]
    assert frame["job_wall_s"].tolist() == [10.0, 11.0, 12.0]
    assert frame["seed"].tolist() == ["1", "2", "1"]


def test_a_job_killed_before_its_status_is_matched_by_hydras_job_number(tmp_path):
    """A folder with only Hydra's files (the job was killed at once) counts for its own job only."""
    _fake_sweep(tmp_path, [["seed=1"], ["seed=2"], ["seed=1"]], ["0", "1", "2"])
    (tmp_path / "0" / STATUS_FILE).unlink()
    frame = sweep_index(tmp_path)
    assert frame["run"].tolist() == ["0", "1", "2"]
    assert frame["status"].tolist()[0] == "missing" and frame["job_wall_s"].isna().tolist() == [True, False, False]
    (tmp_path / "2").rename(tmp_path / "gone")  # job 2 never ran: it does not borrow job 0's folder
    shutil.rmtree(tmp_path / "gone")
    frame = sweep_index(tmp_path)
    assert frame["run"].tolist() == ["0", "1", ""]


def test_jobs_sharing_a_folder_by_design_both_point_at_it(tmp_path):
    """``hydra.sweep.subdir`` named by the overrides: jobs 0 and 2 write one folder."""
    _fake_sweep(tmp_path, [["seed=1"], ["seed=2"], ["seed=1"]], ["seed=1", "seed=2", "seed=1"])
    frame = sweep_index(tmp_path)
    assert frame["run"].tolist() == ["seed=1", "seed=2", "seed=1"]


def test_index_without_job_list_keeps_every_folder(tmp_path):
    _fake_sweep(tmp_path, [["seed=1"], ["seed=2"], ["seed=1"]], ["0", "1", "2"])
    (tmp_path / "multirun.yaml").unlink()
    frame = sweep_index(tmp_path)
    assert frame["run"].tolist() == ["0", "1", "2"] and frame["job"].tolist() == [0, 1, 2]


def test_run_job_records_the_jobs_that_share_its_folder(tmp_path):
    cfg = compose_config([*BATH, "seed=1"])
    ran = []
    run_job(cfg, tmp_path, ["seed=1"], 0, run=lambda c, d: ran.append(d))
    run_job(cfg, tmp_path, ["seed=1"], 2, run=lambda c, d: ran.append(d))
    status = json.loads((tmp_path / STATUS_FILE).read_text())
    assert status["job"] == 2 and status["jobs"] == [0, 2] and len(ran) == 2
    run_job(cfg, tmp_path, ["seed=5"], 0, run=lambda c, d: ran.append(d))  # another sweep's job 0
    assert json.loads((tmp_path / STATUS_FILE).read_text())["jobs"] == [0]


def test_a_bad_value_in_a_rerun_removes_no_earlier_result(tmp_path):
    """A job reruns into a folder holding another config's results only once its config is valid."""
    (tmp_path / "results.h5").write_bytes(b"an earlier run's results")
    cfg = compose_config([*BATH, "bath.equilibration_s=-1"])
    with pytest.raises(ConfigError, match="bath.equilibration_s"):
        run_job(cfg, tmp_path, ["bath.equilibration_s=-1"], 0, run=lambda c, d: pytest.fail("ran"))
    assert (tmp_path / "results.h5").read_bytes() == b"an earlier run's results"
    assert json.loads((tmp_path / STATUS_FILE).read_text())["status"] == "failed"


# --------------------------------------------------------------------------- one run per folder


@pytest.mark.cli
def test_a_folder_with_results_is_refused_on_the_command_line(tmp_path):
    """The second run into one hydra.run.dir used to run and replace the first run's results."""
    (tmp_path / "results.h5").write_bytes(b"the first run's results")
    proc = _cli(*BATH, "bath.concentrations_uM=[0]", f"hydra.run.dir={tmp_path}")
    _one_line_error(proc, "hydra.run.dir", str(tmp_path), "results.h5")
    assert (tmp_path / "results.h5").read_bytes() == b"the first run's results"
    assert not (tmp_path / ".hydra").exists(), "Hydra wrote into the refused folder"


@pytest.mark.cli
def test_a_folder_with_a_live_run_is_refused(tmp_path):
    """A run that has not ended holds the folder's lock: a second run (and a sweep job) is refused."""
    with claim_folder(tmp_path):
        proc = _cli(*BATH, "bath.concentrations_uM=[0]", f"hydra.run.dir={tmp_path}")
        _one_line_error(proc, "hydra.run.dir", "in use")
        with pytest.raises(RunFolderError, match="hydra.sweep.dir: .* in use"):
            run_job(compose_config(list(BATH)), tmp_path, [], 0, run=lambda c, d: pytest.fail("ran"))
        assert not (tmp_path / STATUS_FILE).exists()
    assert not (tmp_path / R.LOCK_FILE).exists(), "the lock file outlived the run"
    with claim_folder(tmp_path):  # free again
        pass


def test_folder_errors_cross_process_boundaries():
    """Sweep jobs (joblib workers) and scorecard runs raise it in another process."""
    import pickle

    error = pickle.loads(pickle.dumps(RunFolderError("hydra.sweep.dir", "/x: is in use")))
    assert isinstance(error, ConfigError) and error.field == "hydra.sweep.dir"
    assert str(error) == "hydra.sweep.dir: /x: is in use"


def test_api_refuses_a_folder_with_results_before_building(tmp_path, monkeypatch):
    from ketamine_sim.experiments.api import run

    monkeypatch.setattr(P, "make_engine", lambda *a, **k: pytest.fail("built a circuit"))
    (tmp_path / "dose_0.5_mg_per_kg").mkdir()
    (tmp_path / "dose_0.5_mg_per_kg" / "results.h5").write_bytes(b"x")
    with pytest.raises(RunFolderError, match="output_dir: .*dose_0.5_mg_per_kg/results.h5"):
        run([*BATH, "bath.concentrations_uM=[0]"], tmp_path)


def _fake_data(cfg, *args, **kwargs) -> RunData:
    """What ``_run_data`` returns, without simulating: two windows of made-up readouts."""
    rows = np.array([1.0, 2.0])
    return RunData(
        spikes={"pyr": (np.zeros(0), np.zeros(0, dtype=np.uint64))},
        windows={"start_s": np.array([0.0, 10.0]), "duration_s": np.array([2.0, 2.0])},
        window_units={"start_s": "s", "duration_s": "s"},
        timeline={"time_s": np.array([0.0, 20.0])},
        timeline_units={"time_s": "s"},
        readouts={pop: {"rate": rows, "evoked_release": rows, "nmda_blocked": rows} for pop in ("pyr", "pv", "sst")},
        readout_units={"rate": "Hz", "evoked_release": "1", "nmda_blocked": "1"},
        config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        provenance={"seed": int(cfg.seed)},
    )


@pytest.fixture
def no_simulation(monkeypatch):
    """run_experiment without a circuit: ``_run_data`` calls ``.hook(cfg)`` if set, then returns
    :func:`_fake_data`; ``.calls`` lists the configs it was called with."""
    from types import SimpleNamespace

    state = SimpleNamespace(calls=[], hook=None)

    def fake(cfg, *args, **kwargs):
        state.calls.append(cfg)
        if state.hook is not None:
            state.hook(cfg)
        return _fake_data(cfg)

    monkeypatch.setattr(P, "make_engine", lambda *a, **k: None)
    monkeypatch.setattr(P, "_run_data", fake)
    return state


def test_overwrite_replaces_the_earlier_outputs(tmp_path, no_simulation):
    (tmp_path / "results.h5").write_bytes(b"old")
    (tmp_path / "summary.png").write_bytes(b"old figure")  # this run draws none: a stale one must go
    with pytest.raises(RunFolderError):
        run_experiment(compose_config([*BATH, "bath.concentrations_uM=[0]"]), tmp_path)
    run_experiment(compose_config([*BATH, "bath.concentrations_uM=[0]"]), tmp_path, overwrite=True)
    assert (tmp_path / "results.h5").read_bytes()[:4] == b"\x89HDF" and not (tmp_path / "summary.png").exists()


# --------------------------------------------------------------------------- names from values


def test_dose_folders_are_unique_or_refused():
    assert dose_folder(0.5) == "dose_0.5_mg_per_kg" and dose_folder(1.0) == "dose_1_mg_per_kg"  # names as before
    names = dose_folders([0.1, 0.1000001, 1e-7, 2.5e-7])
    assert len(set(names)) == 4 and names[:2] == ["dose_0.1_mg_per_kg", "dose_0.1000001_mg_per_kg"]
    with pytest.raises(ConfigError, match="dose_response.doses_mg_per_kg: doses 0.5 and 0.5"):
        dose_folders([0.5, 0.25, 0.5])


def test_close_doses_are_written_to_their_own_folders(tmp_path, no_simulation):
    """Doses 0.1 and 0.1000001 used to share one folder (the first was overwritten)."""
    cfg = compose_config(
        [
            "experiment=dose_response",
            "circuit=small",
            "output.figure=false",
            "dose_response.doses_mg_per_kg=[0.1,0.1000001]",
        ]
    )
    run_experiment(cfg, tmp_path)
    from ketamine_sim.experiments.results import read_results

    for dose, folder in ((0.1, "dose_0.1_mg_per_kg"), (0.1000001, "dose_0.1000001_mg_per_kg")):
        stored = yaml.safe_load(read_results(tmp_path / folder / "results.h5").config_yaml)
        assert stored["dosing"]["dose_mg_per_kg"] == dose
    assert (tmp_path / "dose_response.csv").read_text().count("\n") == 3
    from ketamine_sim.experiments.sweep import check_finished

    assert check_finished(tmp_path, cfg)[0]  # the resume check names the folders alike


def test_equal_doses_are_refused_before_anything_runs(tmp_path, no_simulation):
    cfg = compose_config(["experiment=dose_response", "circuit=small", "dose_response.doses_mg_per_kg=[0.5,0.5]"])
    with pytest.raises(ConfigError, match="dose_response.doses_mg_per_kg"):
        run_experiment(cfg, tmp_path)
    assert not no_simulation.calls and not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- interruptions (fast)


def test_an_interrupted_dose_response_leaves_nothing(tmp_path, no_simulation):
    def interrupt_second_dose(cfg):
        if len(no_simulation.calls) == 2:
            raise KeyboardInterrupt("Ctrl-C")

    no_simulation.hook = interrupt_second_dose
    cfg = compose_config(
        ["experiment=dose_response", "circuit=small", "output.figure=false", "dose_response.doses_mg_per_kg=[0.1,0.5]"]
    )
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.rglob("*"))


def test_interrupt_flag_stops_after_the_window():
    """The handler run_protocol's windows run under: the first SIGINT is remembered (the window
    goes on), the progress hook after the window stops the run; a second SIGINT stops at once."""
    previous = signal.getsignal(signal.SIGINT)
    with P._StopAfterWindow() as stop:
        stop.after_window()  # nothing asked: goes on
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            stop.after_window()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is previous


def test_a_runtime_window_cut_short_is_refused(monkeypatch):
    """Brian2's SIGINT handler ends a runtime network early; the engine refuses the window."""
    from types import SimpleNamespace

    from ketamine_sim.experiments.simulation import engine as E

    structure = compose_config(["circuit=small"])
    from ketamine_sim.experiments.config import circuit_structure

    structure = circuit_structure(structure)

    class Network:
        t_ = 0.0

        def run(self, duration):
            self.t_ = 0.4 * float(duration)  # stopped at 40%

    monkeypatch.setattr(E, "build_circuit", lambda *a, **k: SimpleNamespace(network=Network(), groups={}, synapses={}))
    engine = E.RuntimeEngine(structure, "numpy")
    with pytest.raises(KeyboardInterrupt, match="truncated window"):
        engine.run_window({}, connect_seed=1, noise_seed=2)


# --------------------------------------------------------------------------- unwritable folders (fast)


def _unprivileged() -> list[str]:
    """A command prefix under which permission bits apply (root drops its override), or skip."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permission bits cannot be tested")
    return ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


def test_unwritable_folders_are_refused_before_simulating(tmp_path, no_simulation):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(RunFolderError, match=r"output_dir: cannot write into .*a_file/run"):
        run_experiment(
            compose_config([*BATH, "bath.concentrations_uM=[0]"]),
            tmp_path / "a_file" / "run",
            folder_field="output_dir",
        )
    assert not no_simulation.calls


@pytest.mark.cli
def test_read_only_run_folder_is_one_line_on_the_command_line(tmp_path):
    prefix = _unprivileged()
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        proc = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-m",
                "ketamine_sim.experiments.app",
                *BATH,
                "bath.concentrations_uM=[0]",
                f"hydra.run.dir={folder}",
            ],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
    finally:
        folder.chmod(0o755)
    _one_line_error(proc, "hydra.run.dir", "cannot write into", str(folder))


@pytest.mark.cli
def test_unusable_sweep_folder_is_one_line(tmp_path):
    (tmp_path / "a_file").write_text("")
    proc = _cli("-m", *BATH, "bath.concentrations_uM=[0]", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'a_file' / 's'}")
    _one_line_error(proc, "hydra.sweep.dir", "cannot write into")


def test_a_folder_lost_at_the_end_is_one_error_naming_the_path(tmp_path, no_simulation):
    """The simulation ran, then its folder went away: one RunFolderError naming the file."""
    folder = tmp_path / "run"

    def lose_the_folder(cfg):
        shutil.rmtree(folder)
        folder.write_text("now a file")

    no_simulation.hook = lose_the_folder
    with pytest.raises(RunFolderError, match=rf"hydra.run.dir: could not write {folder}/results.h5"):
        run_experiment(compose_config([*BATH, "bath.concentrations_uM=[0]"]), folder)


# --------------------------------------------------------------------------- real runs, real signals


class _Running:
    """A command started in its own process group, its output collected by a thread."""

    def __init__(self, args: list[str], cache: Path, **env: str):
        self.cache = Path(cache)
        for exe in self.cache.glob("*/main"):  # nm each build now, not while its windows run
            _running_flag_offset(os.path.realpath(exe))
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**_env(cache), **env},
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True
        )
        self._reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while text not in self.output:
            assert self.proc.poll() is None or text in self.output, f"ended before {text!r}:\n{self.output[-3000:]}"
            assert time.time() < deadline, f"no {text!r} in time:\n{self.output[-3000:]}"
            time.sleep(0.05)

    def windows_reported(self) -> int:
        """How many "window k/N" lines the command has printed so far."""
        return len(re.findall(rf"window \d+/{N_WINDOWS} ", self.output))

    def binary_in_its_run_loop(self, timeout: float = 600) -> tuple[int, int]:
        """``(pid, window)``: a window binary once it is inside its run loop (Brian2's
        ``Network::_globally_running``, read from its memory: the binary spends a varying share
        of its time before and after the loop, building synapses and writing its results, where
        SIGINT kills it instead of stopping the loop), and the 1-based window it runs. Windows
        run one after another and each is reported as it ends, before the next binary starts,
        so the window is one more than those reported when the binary was found in its loop (a
        loaded machine may find window 3's binary instead of window 2's). The builds' symbol
        offsets are read (``nm``, seconds on a busy machine) before the probe starts, so that no
        window passes while it reads them."""
        for name in re.findall(r"the compiled build (\S+?),", self.output):  # built by this run: nm it now
            if (self.cache / name / "main").exists():
                _running_flag_offset(os.path.realpath(self.cache / name / "main"))
        deadline = time.time() + timeout
        while time.time() < deadline:
            for child in _children(self.proc.pid):
                try:
                    if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0].endswith(b"main"):
                        address = _running_flag_address(child)
                        with open(f"/proc/{child}/mem", "rb", buffering=0) as memory:
                            while time.time() < deadline:
                                memory.seek(address)
                                flag = memory.read(1)
                                if flag == b"\x01":
                                    return child, self.windows_reported() + 1
                                if flag != b"\x00":  # it ended: an exited binary's memory reads empty
                                    break
                                time.sleep(0.001)
                except OSError:  # it ended
                    continue
            time.sleep(0.005)
        raise AssertionError(f"no binary in its run loop:\n{self.output[-3000:]}")

    def binary_in_a_window_before_the_last(self) -> tuple[int, int]:
        """:meth:`binary_in_its_run_loop`, refusing to go on if it is the last window's (then
        "nothing more runs" could not be told from "the run was over")."""
        binary, window = self.binary_in_its_run_loop()
        assert window < N_WINDOWS, f"found the last window's binary, not an earlier one:\n{self.output[-3000:]}"
        return binary, window

    def finish(self, timeout: float = 300) -> int:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return self.proc.returncode


@functools.cache
def _running_flag_offset(exe: str) -> int:
    """Offset of ``Network::_globally_running`` in the binary ``exe`` (one ``nm`` per build)."""
    symbols = subprocess.run(["nm", exe], capture_output=True, text=True, check=True).stdout.split("\n")
    return int(next(line.split()[0] for line in symbols if line.endswith("_ZN7Network17_globally_runningE")), 16)


def _running_flag_address(pid: int) -> int:
    """Address of ``Network::_globally_running`` (a bool) in the running binary ``pid``."""
    exe = os.readlink(f"/proc/{pid}/exe")
    offset = _running_flag_offset(exe)
    with open(exe, "rb") as f:
        position_independent = f.read(18)[16] == 3  # ELF e_type ET_DYN: symbols are relative to the load base
    if not position_independent:
        return offset
    with open(f"/proc/{pid}/maps") as maps:
        bases = [int(line.split("-")[0], 16) for line in maps if line.rstrip().endswith(exe)]
    if not bases:  # the binary is exiting (its memory is unmapped): as if it had ended
        raise ProcessLookupError(f"process {pid} has no mapping of {exe}")
    return offset + min(bases)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/task").exists() or shutil.which("nm") is None, reason="needs Linux /proc and nm (binutils)"
)


@pytest.mark.compiles
@needs_proc
def test_one_sigint_from_python_stops_after_the_window(build_cache, tmp_path):
    """A notebook's "interrupt kernel" (one SIGINT to the process) during a window before the last: that
    window ends, nothing more runs, nothing is written, api.run raises KeyboardInterrupt."""
    script = (
        "import logging, sys\nlogging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
        "from ketamine_sim.experiments.api import run\n"
        "try:\n    run(sys.argv[2:], sys.argv[1])\n"
        "except KeyboardInterrupt as error:\n    print('RAISED KeyboardInterrupt', error)\n    sys.exit(130)\n"
        "print('FINISHED')\n"
    )
    run = _Running([sys.executable, "-c", script, str(tmp_path / "api"), *WINDOWS], build_cache)
    run.wait_for(f"window 1/{N_WINDOWS}")
    _, window = run.binary_in_a_window_before_the_last()
    os.kill(run.proc.pid, signal.SIGINT)  # the Python process only, as a kernel interrupt
    assert run.finish() == 130, run.output[-3000:]
    assert "RAISED KeyboardInterrupt" in run.output and run.windows_reported() == window, run.output[-3000:]
    assert "FINISHED" not in run.output
    assert not list((tmp_path / "api").rglob("*.h5")) and not list((tmp_path / "api").rglob("*.tmp"))


@pytest.mark.compiles
@needs_proc
def test_ctrl_c_to_the_process_group_during_a_window_writes_nothing(build_cache, tmp_path):
    """Ctrl-C in a terminal: the binary cuts its window short, the run stops, writes nothing."""
    run = _Running(
        [sys.executable, "-m", "ketamine_sim.experiments.app", *WINDOWS, f"hydra.run.dir={tmp_path}"], build_cache
    )
    run.wait_for(f"window 1/{N_WINDOWS}")
    _, window = run.binary_in_its_run_loop()
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.finish() != 0, run.output[-3000:]
    assert run.windows_reported() == window - 1, f"the cut window was reported as a result:\n{run.output[-3000:]}"
    assert "binary was interrupted after" in run.output, run.output[-3000:]
    assert not (tmp_path / "results.h5").exists() and not list(tmp_path.glob(".*.tmp"))
    assert not (tmp_path / R.LOCK_FILE).exists()


@pytest.mark.compiles
@needs_proc
def test_sigterm_during_a_window_stops_the_binary_and_leaves_nothing(build_cache, tmp_path):
    """``kill PID`` (SIGTERM to the Python process, as a scheduler's time limit sends it): exit
    143, the window's binary ended, no results and no temporary window folder left."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    folder = tmp_path / "run"
    run = _Running(
        [sys.executable, "-m", "ketamine_sim.experiments.app", *WINDOWS, f"hydra.run.dir={folder}"],
        build_cache,
        TMPDIR=str(scratch),
    )
    run.wait_for(f"window 1/{N_WINDOWS}")
    binary, _ = run.binary_in_its_run_loop()
    os.kill(run.proc.pid, signal.SIGTERM)
    assert run.finish() == 143, run.output[-3000:]
    assert not Path(f"/proc/{binary}").exists() or "zombie" in Path(f"/proc/{binary}/status").read_text()
    assert not (folder / "results.h5").exists() and not list(folder.glob(".*.tmp"))
    assert not list(scratch.glob("ketamine-sim-window-*")), list(scratch.iterdir())


@pytest.mark.compiles
@needs_proc
def test_a_window_the_binary_cut_short_is_never_written(build_cache, tmp_path):
    """SIGINT to a window's binary alone: it ends its run loop early and exits 0; the engine sees the
    window is short (last_run_info.txt) and the run stops instead of writing it."""
    run = _Running(
        [sys.executable, "-m", "ketamine_sim.experiments.app", *WINDOWS, f"hydra.run.dir={tmp_path}"], build_cache
    )
    run.wait_for(f"window 1/{N_WINDOWS}")
    binary, window = run.binary_in_its_run_loop()
    os.kill(binary, signal.SIGINT)
    assert run.finish() != 0, run.output[-3000:]
    assert "binary was interrupted after" in run.output, run.output[-3000:]
    assert run.windows_reported() == window - 1 and not (tmp_path / "results.h5").exists()


@pytest.mark.compiles
@needs_proc
def test_folder_unwritable_mid_run_is_one_line_naming_the_path(build_cache, tmp_path):
    prefix = _unprivileged()
    folder = tmp_path / "run"
    run = _Running(
        [*prefix, sys.executable, "-m", "ketamine_sim.experiments.app", *WINDOWS, f"hydra.run.dir={folder}"],
        build_cache,
    )
    try:
        run.wait_for(f"window 1/{N_WINDOWS}")
        folder.chmod(0o555)
        code = run.finish()
    finally:
        folder.chmod(0o755)
    assert code == 2, run.output[-3000:]
    assert "Traceback" not in run.output, run.output[-3000:]
    last = [line for line in run.lines if line.strip()][-1]
    assert last.startswith("ketamine-sim: ") and f"could not write {folder}/results.h5" in last, last
    assert not (folder / "results.h5").exists()


def test_config_errors_cross_process_boundaries():
    """A ConfigError raised in a worker process (joblib, scorecard) arrives whole, not as a TypeError."""
    import pickle

    from ketamine_sim.experiments.config import ConfigError

    error = pickle.loads(pickle.dumps(ConfigError("seed", "must be >= 0, got -1")))
    assert isinstance(error, ConfigError) and error.field == "seed" and str(error) == "seed: must be >= 0, got -1"


def test_api_run_refuses_what_the_command_line_refuses(tmp_path):
    """``ketamine_sim.experiments.api.run`` applies the command line's checks: a key given twice and a key
    nothing reads are refused before anything is built."""
    from ketamine_sim.experiments.api import run
    from ketamine_sim.experiments.config import ConfigError

    with pytest.raises(ConfigError, match="seed"):
        run(["circuit=small", "seed=1", "seed=2"], tmp_path / "twice")
    with pytest.raises(ConfigError, match="foo"):
        run(["circuit=small", "+foo=1"], tmp_path / "unknown")
    assert not (tmp_path / "twice").exists() or not any((tmp_path / "twice").iterdir())


def test_a_compile_ended_by_ctrl_c_is_an_interrupt():
    """Brian2 reports a make killed by SIGINT as "compilation failed (error code: 2)" (os.system's
    raw wait status); the engine turns it into an interrupt, other failures stay errors."""
    from ketamine_sim.experiments.simulation.builds import _interrupted

    assert _interrupted(RuntimeError("Project compilation failed (error code: 2)."))
    assert not _interrupted(RuntimeError("Project compilation failed (error code: 512)."))  # make exited 2
    assert not _interrupted(RuntimeError("something else"))


# CPython's executor thread may trip over the executor it was shut down under (its
# _adjust_process_count reads _processes, set to None by shutdown): harmless, the thread ends
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.cli  # its workers are Python processes
def test_ctrl_c_stops_a_scorecard(tmp_path):
    """SIGINT to the scorecard's process: no new run starts, running workers are stopped, and
    KeyboardInterrupt is raised within seconds (not after every planned run)."""
    import signal
    import threading

    from helpers.slow_worker import sleep_run

    from ketamine_sim.experiments.scoring.scorecard import PlannedRun, execute

    runs = [PlannedRun("default", seed, ("sleep_s=60", f"seed={seed}"), tmp_path / str(seed)) for seed in range(4)]
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt, match="0 of 4 scorecard runs finished"):
            execute(runs, sleep_run, n_jobs=2, grace_s=10.0)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 40


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.cli  # its workers are Python processes
def test_no_run_starts_after_ctrl_c(tmp_path):
    """One worker, runs of 4 s: SIGINT during the first run; no later run starts (none was
    queued in the executor ahead of time), although the first is stopped."""
    import signal
    import threading

    from helpers.slow_worker import marking_run

    from ketamine_sim.experiments.scoring.scorecard import PlannedRun, execute

    runs = [PlannedRun("default", seed, ("sleep_s=4", f"seed={seed}"), tmp_path / str(seed)) for seed in range(4)]
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="0 of 4 scorecard runs finished"):
            execute(runs, marking_run, n_jobs=1, grace_s=10.0)
    finally:
        timer.cancel()
    time.sleep(5.0)  # a run queued before the interrupt would have started by now
    assert sorted(p.parent.name for p in tmp_path.glob("*/started")) == ["0"]


def test_provenance_says_whether_the_checkout_was_modified(tmp_path, monkeypatch):
    """``git_dirty``/``git_describe`` beside ``git_commit``: a clean checkout, one with a
    modified tracked file, and a folder outside any checkout (an installed wheel)."""
    import shutil
    import subprocess

    from ketamine_sim.experiments import paths
    from ketamine_sim.experiments.kinds.protocol_run import git_state

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "checkout"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    (repo / "model.py").write_text("x = 1\n")
    git("add", "model.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    monkeypatch.setattr(paths, "ROOT", repo)
    clean = git_state()
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    assert clean["git_describe"] == clean["git_commit"][:12]
    (repo / "model.py").write_text("x = 2\n")
    dirty = git_state()
    assert dirty["git_commit"] == clean["git_commit"] and dirty["git_dirty"] is True
    assert dirty["git_describe"] == clean["git_commit"][:12] + "-dirty"
    outside = tmp_path / "site-packages"
    outside.mkdir()
    monkeypatch.setattr(paths, "ROOT", outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert git_state() == {"git_commit": "unknown", "git_dirty": "unknown", "git_describe": "unknown"}
