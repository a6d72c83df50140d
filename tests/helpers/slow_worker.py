"""A stand-in for a scorecard run that takes long (imported by spawned worker processes)."""

import time


def sleep_run(overrides, directory) -> str:
    time.sleep(float(dict(o.split("=", 1) for o in overrides).get("sleep_s", 60)))
    return directory
