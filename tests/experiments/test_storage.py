"""The one atomic-write helper (ketamine_sim.experiments.results.atomic_write) and the writers that use it:
a file is either complete or untouched, and no temp file is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ketamine_sim.experiments import results
from ketamine_sim.experiments.results import atomic_write

ERRORS = [RuntimeError("disk full"), OSError(28, "No space left on device"), KeyboardInterrupt()]


def half_then_raise(exc: BaseException):
    """A ``write_fn`` that writes part of a file, then fails with ``exc``."""

    def write(tmp: Path) -> None:
        with open(tmp, "w") as f:
            f.write("half of the ")
        raise exc

    return write


def test_content_is_complete_after_success(tmp_path):
    path = tmp_path / "out.txt"
    text = "".join(f"line {i}\n" for i in range(10_000))
    assert atomic_write(path, lambda tmp: tmp.write_text(text)) == path
    assert path.read_text() == text
    assert os.listdir(tmp_path) == ["out.txt"]
    atomic_write(str(path), lambda tmp: tmp.write_text("second\n"))  # replaces, str paths too
    assert path.read_text() == "second\n" and os.listdir(tmp_path) == ["out.txt"]


def test_temp_file_is_beside_the_target_and_hidden(tmp_path):
    seen = []
    atomic_write(tmp_path / "a.csv", lambda tmp: (seen.append(tmp), tmp.write_text("x")))
    (tmp,) = seen
    assert tmp.parent == tmp_path and tmp.name.startswith(".a.csv.") and tmp.name.endswith(".tmp")
    assert f".{os.getpid()}." in tmp.name


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_nothing_left_after_an_error_in_write_fn(tmp_path, exc):
    path = tmp_path / "new.txt"
    with pytest.raises(type(exc)):
        atomic_write(path, half_then_raise(exc))
    assert os.listdir(tmp_path) == []  # no target, no temp file


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_target_unchanged_after_an_error_in_write_fn(tmp_path, exc):
    path = tmp_path / "kept.txt"
    path.write_text("the earlier, complete content\n")
    with pytest.raises(type(exc)):
        atomic_write(path, half_then_raise(exc))
    assert path.read_text() == "the earlier, complete content\n"
    assert os.listdir(tmp_path) == ["kept.txt"]


def test_write_fn_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "x.txt", lambda tmp: None)
    assert os.listdir(tmp_path) == []


def test_a_failing_rename_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "kept.txt"
    path.write_text("old\n")

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(results.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        atomic_write(path, lambda tmp: tmp.write_text("new\n"))
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["kept.txt"]


def test_file_and_folder_are_flushed_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "fsync", fsync)
    monkeypatch.setattr(results.os, "replace", replace)
    atomic_write(tmp_path / "f.txt", lambda tmp: tmp.write_text("x"))
    expected = [("fsync", "file"), ("replace", "f.txt")]
    if hasattr(os, "O_DIRECTORY") and os.path.isdir("/proc/self/fd"):
        expected.append(("fsync", "folder"))
    assert events[: len(expected)] == expected


def test_a_folder_that_refuses_fsync_is_no_error(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(fd):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(results.os, "fsync", fsync)
    atomic_write(tmp_path / "f.txt", lambda tmp: tmp.write_text("x"))
    assert (tmp_path / "f.txt").read_text() == "x"


# -- the writers that use it ---------------------------------------------------------------


def test_dose_response_table_is_complete_or_untouched(tmp_path):
    from ketamine_sim.experiments.analysis import dose_response

    path = tmp_path / "dose_response.csv"
    row = {c: float(i) for i, c in enumerate(dose_response.COLUMNS)}
    dose_response.write_table([row, row], path)
    assert path.read_text().splitlines()[0] == ",".join(dose_response.COLUMNS)
    before = path.read_text()
    with pytest.raises(ValueError):  # a row with a column the table does not have: fails mid-write
        dose_response.write_table([row, {**row, "unknown": 1.0}], path)
    assert path.read_text() == before and sorted(os.listdir(tmp_path)) == ["dose_response.csv"]


def test_scorecard_tables_are_written_atomically(tmp_path, monkeypatch):
    from ketamine_sim.experiments.scoring import scorecard

    rows = [
        {
            "finding": "F1",
            "role": "validation",
            "hypothesis": "h",
            "passed": True,
            "value": "0.1",
            "target": "> 0",
            "seed_spread": 0.0,
            "n_seeds": 1,
        }
    ]
    scorecard.write(rows, tmp_path)
    assert (tmp_path / "scorecard.csv").read_text().startswith("finding,role,hypothesis,passed")
    assert "| F1 | > 0 | PASS 0.1 |" in (tmp_path / "scorecard.md").read_text()
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    import pandas as pd

    def failing_to_csv(self, path, **kwargs):
        Path(path).write_text("finding,hyp")  # cut off
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    with pytest.raises(OSError):
        scorecard.write(rows, tmp_path)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_sweep_status_and_index_are_written_atomically(tmp_path, monkeypatch):
    from ketamine_sim.experiments import sweep
    from ketamine_sim.experiments.kinds import jobs

    jobs._write_status(tmp_path, status="done", job=3)
    assert sweep.read_status(tmp_path) == {"status": "done", "job": 3}
    monkeypatch.setattr(Path, "write_text", lambda self, text: (open(self, "w").write(text[:5]), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        jobs._write_status(tmp_path, status="failed", job=3)
    assert sweep.read_status(tmp_path) == {"status": "done", "job": 3}
    assert os.listdir(tmp_path) == [sweep.STATUS_FILE]


def test_figures_are_complete_or_untouched(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from ketamine_sim.experiments import figures

    fig = Figure()
    fig.subplots().plot(np.arange(3))
    png, svg = figures.save(fig, tmp_path / "plot")
    assert png.read_bytes().startswith(b"\x89PNG") and png.read_bytes().endswith(b"IEND\xaeB`\x82")
    assert b"<svg" in svg.read_bytes()[:2000]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def cut_off(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG cut off")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", cut_off)
    with pytest.raises(KeyboardInterrupt):
        figures.save(fig, tmp_path / "plot")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
