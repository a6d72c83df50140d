"""A stand-in for a scorecard run that takes long (imported by spawned worker processes)."""

import time


def sleep_run(overrides, directory) -> str:
    time.sleep(float(dict(o.split("=", 1) for o in overrides).get("sleep_s", 60)))
    return directory


def marking_run(overrides, directory) -> str:
    """Marks its start (``started`` in its folder), then sleeps as `sleep_run`."""
    from pathlib import Path

    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / "started").write_text(str(time.time()))
    return sleep_run(overrides, directory)
