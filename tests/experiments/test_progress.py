"""Progress people expect: every window's line with human units, elapsed time and an estimate
of the time left; a tqdm bar in a terminal; a line while another process compiles the build."""

from __future__ import annotations

import logging
import re
import threading

import pytest
from helpers.fake_engine import fake_run

from ketamine_sim.experiments.kinds import progress as P
from ketamine_sim.experiments.simulation import builds

COURSE = ["experiment=course", "dosing=single_iv", "dosing.follow_days=3", "course.window_days_after_last_dose=[3]"]


def _window_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("window ")]


def test_every_window_logs_a_line_with_the_time_left(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    fake_run(tmp_path / "infusion", [])
    lines = _window_lines(caplog)
    assert len(lines) > 3 and lines[0].startswith(f"window 1/{len(lines)} ")
    assert all(re.search(r"elapsed, about [\d.]+ (s|min|h|d) left\]$", line) for line in lines)
    assert lines[-1].endswith("about 0.0 s left]")
    assert all("e-" not in line for line in lines)  # no 5.72e-35 uM: 0 µM, pM, nM, µM
    assert "brain drug 0 µM" in lines[0] and re.search(r"brain drug [\d.]+ (nM|µM)", lines[2])


def test_a_course_reports_protocol_time_in_days(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    fake_run(tmp_path / "course", COURSE)
    assert any(re.search(r"protocol time 3\.\d d", line) for line in _window_lines(caplog))
    assert not any(re.search(r"protocol time \d{4,}", line) for line in _window_lines(caplog))


@pytest.mark.slow
def test_a_terminal_gets_a_bar_with_eta(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(P, "_is_terminal", lambda: True)
    fake_run(tmp_path / "infusion", [])
    err = capsys.readouterr().err
    assert re.search(r"iv_infusion seed \d+:.*\d+/\d+ \[\d+:\d+<\d+:\d+", err), err[-500:]
    assert "window/s" in err or "s/window" in err


@pytest.mark.slow
def test_no_bar_outside_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(P, "_is_terminal", lambda: False)
    fake_run(tmp_path / "infusion", [])
    assert "window/s" not in capsys.readouterr().err


def test_waiting_for_another_process_s_build_is_reported(tmp_path, caplog, monkeypatch):
    from filelock import FileLock

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(builds, "LOCK_WAIT_REPORT_S", 0.05)
    path = str(tmp_path / "build.lock")
    held, done = threading.Event(), threading.Event()

    def other_process():  # holds the lock for 0.3 s (its own thread: file locks are per thread)
        with FileLock(path):
            held.set()
            done.wait(0.3)

    thread = threading.Thread(target=other_process)
    thread.start()
    assert held.wait(10)
    with builds._build_lock(path, "small"):
        pass
    thread.join(10)
    messages = [r.getMessage() for r in caplog.records]
    assert any("another process is compiling the same build; waiting" in m for m in messages)
    assert any("still waiting for the other process's build" in m for m in messages)


def test_no_message_when_the_lock_is_free(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with builds._build_lock(str(tmp_path / "build.lock"), "small"):
        pass
    assert not any("waiting" in r.getMessage() for r in caplog.records)


def test_a_sweep_job_tags_its_log_lines(tmp_path, caplog):
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.sweep import run_job

    caplog.set_level(logging.INFO)
    cfg = compose_config(["circuit=small", "seed=2"])

    def run(cfg, output_dir):
        logging.getLogger("ketamine_sim.experiments.test").info("window 1/1")
        (output_dir / "results.h5").write_text("")

    run_job(cfg, tmp_path / "job", ["circuit=small", "seed=2"], job=3, run=run)
    lines = [r.getMessage() for r in caplog.records if "window 1/1" in r.getMessage()]
    assert lines == ["[job 3: circuit=small seed=2] window 1/1"]
    logging.getLogger("ketamine_sim.experiments.test").info("after the job")
    assert caplog.records[-1].getMessage() == "after the job"


def test_a_job_tag_with_a_percent_sign_keeps_the_line(caplog):
    from ketamine_sim.experiments.sweep import job_log_tag

    caplog.set_level(logging.INFO)
    with job_log_tag(1, ["output.note=100%"]):
        logging.getLogger("ketamine_sim.experiments.test").info("window %d/%d", 1, 2)
    assert caplog.records[-1].getMessage() == "[job 1: output.note=100%] window 1/2"
