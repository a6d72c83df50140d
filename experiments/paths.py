"""Where things are: the checkout's folders, the build cache, the backends (a leaf module).

Every other module of ``experiments`` may import this one; it imports none of them.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the package is installed editable: ``pip install -e .``).
ROOT = Path(__file__).resolve().parent.parent
#: Hydra's primary config folder.
CONFIG_DIR = str(ROOT / "configs")
#: The published findings (one YAML list of records per topic).
SEEDS_DIR = ROOT / "seeds"
#: The hypothesis config group (the scorecard runs every option of it).
HYPOTHESIS_DIR = ROOT / "configs" / "hypothesis"
#: Brian2 backends a window can run on (``backend.name``).
BACKENDS = ("cpp_standalone", "cython", "numpy")
#: OpenMP wait policies a compiled window can run with (``backend.wait_policy``; ``auto``: the
#: OpenMP runtime's own, which for GNU spins about 0.3 ms, then sleeps).
WAIT_POLICIES = ("passive", "active", "auto")


def default_cache_dir() -> Path:
    """``$KETAMINE_SIM_CACHE`` or ``~/.cache/ketamine-sim`` (shared by all runs of a user)."""
    return Path(os.environ.get("KETAMINE_SIM_CACHE", Path.home() / ".cache" / "ketamine-sim")).expanduser()


def cache_dir_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be a build cache (None if it can): it must be a folder, or be
    creatable in a writable folder. An existing read-only folder is accepted (its finished
    builds are usable; a missing build is reported when it is needed)."""
    folder = Path(folder).expanduser()
    if folder.exists():
        return None if folder.is_dir() else f"{folder} exists and is not a folder"
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{folder} cannot be created: {parent} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{folder} cannot be created: {parent} is not writable"
    return None
