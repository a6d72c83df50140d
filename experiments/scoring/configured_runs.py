"""Runs planned as whole configs (a cohort's patients, a sensitivity analysis's samples).

Such a run is not a command line: its config is built in Python (a patient's drawn constants,
a sample's parameter values), passed to its worker process as YAML text and stored under a
folder named by a hash of its values, so that a resumed experiment never reuses a run of other
settings.
"""

from __future__ import annotations

import hashlib
import json

from omegaconf import OmegaConf

#: Backend keys that change no result: left out of a run folder's hash.
_NOT_HASHED = ("cache_dir", "wait_policy")
#: Root blocks that change no result (the objective is computed from the results).
_BLOCKS_NOT_HASHED = ("objective",)


def payload_of(cfg) -> tuple[str]:
    """A run's config as its worker's payload: the config's YAML text in a 1-tuple.

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> payload = payload_of(OmegaConf.create({"seed": 3}))
    >>> payload
    ('seed: 3\\n',)
    >>> config_of(payload).seed
    3
    """
    return (OmegaConf.to_yaml(cfg),)


def config_of(payload: tuple[str, ...]):
    """The config of a planned run from its payload (`payload_of`)."""
    return OmegaConf.create(payload[0])


def config_digest(cfg) -> str:
    """A short hash of a run's config that names its folder: the resolved values, key order,
    the run's own cache and wait settings and its objective left out (they change no result),
    and every number as a float (``14`` and ``14.0`` are one setting).

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> a = OmegaConf.create({"seed": 14, "backend": {"cache_dir": "/a"}, "x": {"b": 1, "a": 2}})
    >>> b = OmegaConf.create({"x": {"a": 2.0, "b": 1}, "seed": 14.0, "backend": {"cache_dir": "/b"}})
    >>> config_digest(a) == config_digest(b), len(config_digest(a))
    (True, 10)
    """
    tree = OmegaConf.to_container(cfg, resolve=True)
    for key in _NOT_HASHED:
        tree.get("backend", {}).pop(key, None)
    for block in _BLOCKS_NOT_HASHED:
        tree.pop(block, None)
    text = json.dumps(_numbers_as_floats(tree), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _numbers_as_floats(node):
    """``node`` with every number a float."""
    if isinstance(node, dict):
        return {k: _numbers_as_floats(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_numbers_as_floats(v) for v in node]
    return float(node) if isinstance(node, int) and not isinstance(node, bool) else node
