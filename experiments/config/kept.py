"""Hydra's compositions kept on disk, so that a later process need not compose them again.

Hydra takes about 0.2 s per composition (most of it parsing YAML and merging nodes); reading a
kept one takes a few milliseconds. Every ``ketamine-sim`` command composes its jobs once
before Hydra runs (`check_overrides`), and a notebook or test process composes the same few
configs again and again. A composition is kept in the user's cache
(``<cache>/compositions/<key>.pickle``, see `ketamine_sim.experiments.paths.default_cache_dir`) under a key
that hashes everything its result depends on: the overrides, the primary config's name,
whether the ``hydra`` node is included, the *content* of every file of the config tree and
its location, the versions of Python, Hydra and OmegaConf, and the Hydra plugins installed.
An edited config file, an upgraded library or another checkout therefore finds no kept
composition and composes anew. A kept file that cannot be read is ignored (and replaced);
a cache that cannot be written is not used. Compositions with a ``hydra.*`` override (a
search path whose files are not hashed, a run folder) are not kept. Only files owned by the
user and writable by no one else are read (a pickle runs code when loaded: a shared cache
folder must not serve another user's files), and the folder keeps the newest `MAX_FILES`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

from omegaconf import DictConfig

from ketamine_sim.experiments.files import atomic_write
from ketamine_sim.experiments.paths import default_cache_dir

#: Changes when the format of a kept file does.
STORE_VERSION = 1
#: The folder under the cache root.
FOLDER = "compositions"
#: Kept files beyond this many are removed, oldest first.
MAX_FILES = 1000

_CONTENT_DIGESTS: dict[tuple, str] = {}


def config_tree_signature(config_dir: str) -> tuple:
    """(path, size, modification time) of every YAML file under ``config_dir``, sorted."""
    out = []
    for path in sorted(Path(config_dir).rglob("*.yaml")):
        stat = path.stat()
        out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def _content_digest(config_dir: str, signature: tuple) -> str:
    """SHA-256 of the config tree's files (relative path and bytes), computed once per signature."""
    if signature not in _CONTENT_DIGESTS:
        digest = hashlib.sha256()
        for path, _size, _mtime in signature:
            digest.update(str(Path(path).relative_to(config_dir)).encode() + b"\0")
            digest.update(Path(path).read_bytes() + b"\0")
        _CONTENT_DIGESTS[signature] = digest.hexdigest()
    return _CONTENT_DIGESTS[signature]


def _plugins() -> tuple[str, ...]:
    """The modules of Hydra's ``hydra_plugins`` namespace with their files' modification
    times (a plugin can register configs, such as a launcher's)."""
    try:
        import hydra_plugins
    except ImportError:
        return ()
    out = []
    for folder in getattr(hydra_plugins, "__path__", []):
        for entry in sorted(Path(folder).iterdir()):
            if not entry.name.startswith((".", "__")):
                out.append(f"{entry.name}:{entry.stat().st_mtime_ns}")
    return tuple(sorted(out))


def key(overrides: tuple[str, ...], config_name: str, with_hydra: bool, config_dir: str, signature: tuple) -> str:
    """The hex key of one composition from ``config_dir`` (see the module's text for what it
    hashes; ``signature`` is `config_tree_signature`'s)."""
    import hydra
    import omegaconf

    parts = (
        STORE_VERSION,
        overrides,
        config_name,
        with_hydra,
        str(Path(config_dir).resolve()),
        _content_digest(config_dir, signature),
        sys.version_info[:2],
        hydra.__version__,
        omegaconf.__version__,
        _plugins(),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _path(name: str) -> Path:
    return default_cache_dir() / FOLDER / f"{name}.pickle"


def _trusted(path: Path) -> bool:
    """Whether ``path`` and its folder are the user's own and writable by no one else (POSIX;
    elsewhere always true)."""
    if not hasattr(os, "getuid"):
        return True
    for item in (path.parent, path):
        stat = item.stat()
        if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
            return False
    return True


def keepable(overrides: tuple[str, ...]) -> bool:
    """Whether a composition of ``overrides`` may be kept on disk: not with an override of
    Hydra's own settings (``hydra.searchpath`` names files the key does not hash; run
    folders would make every run's composition a new file)."""
    return not any(text.lstrip("+~").startswith("hydra") for text in overrides)


def load(name: str) -> DictConfig | None:
    """The composition kept under ``name``, or None (none kept, not readable, or not the
    user's own file)."""
    try:
        if not _trusted(_path(name)):
            return None
        with _path(name).open("rb") as handle:
            cfg = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None
    return cfg if isinstance(cfg, DictConfig) else None


def store(name: str, cfg: DictConfig) -> None:
    """Keep ``cfg`` under ``name`` (whole or not at all); a cache that cannot be written is
    skipped, and so is a composition that cannot be pickled (a launcher's structured config
    whose class Hydra's plugin scan has since loaded anew)."""
    path = _path(name)
    try:
        data = pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
        _prune(path.parent)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    """Keep the newest `MAX_FILES` kept files of ``folder``."""
    files = list(folder.glob("*.pickle"))
    if len(files) <= MAX_FILES:
        return
    files.sort(key=lambda p: p.stat().st_mtime_ns)
    for old in files[: len(files) - MAX_FILES]:
        old.unlink(missing_ok=True)
