"""Runs planned as whole configs (a cohort's patients, a sensitivity analysis's samples).

Such a run is not a command line: its config is built in Python (a patient's drawn constants,
a sample's parameter values), passed to its worker process as YAML text and stored under a
folder named by a hash of its values, so that a resumed experiment never reuses a run of other
settings.
"""

from __future__ import annotations

import hashlib
import json
import re

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


def override_value(value) -> str:
    r"""``value`` in Hydra's override grammar, parsed back to the same value: strings quoted,
    floats as their shortest exact text, lists and dicts element by element.

    Examples
    --------
    >>> [override_value(v) for v in (0.1, 14, 2.0, True, None, [1, 0.5], {"k": "1e3"})]
    ['0.1', '14', '2.0', 'true', 'null', '[1,0.5]', "{k:'1e3'}"]
    >>> print(override_value("it's a\\b\\"))
    'it\'s a\b\\'
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{override_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no override for a {type(value).__name__}")


def _quoted(text: str) -> str:
    """``text`` in single quotes as Hydra's override grammar reads it back: a quote escaped, and
    the backslashes before a quote or the closing quote doubled (others are literal there)."""
    escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), text)
    return f"'{escaped}'"


def overrides_between(base, run) -> list[str]:
    """The overrides that turn the config ``base`` into ``run`` (both unresolved): ``key=value``
    for a changed or new value (a whole list or a new block at once), ``~key`` for a block or
    key ``run`` drops. A run planned as a whole config becomes a command line this way, which a
    Hydra launcher composes back (``ketamine_sim.experiments.kinds.launch``).

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> base = OmegaConf.create({"seed": 1, "pk": {"cl": 1.0, "fp": None}, "cohort": {"n": 5}})
    >>> run = OmegaConf.create({"seed": 7, "pk": {"cl": 0.9, "fp": {"k": 2.0}}})
    >>> overrides_between(base, run)
    ['seed=7', 'pk.cl=0.9', 'pk.fp={k:2.0}', '~cohort']
    """
    a = OmegaConf.to_container(base, resolve=False)
    b = OmegaConf.to_container(run, resolve=False)
    a.pop("hydra", None)
    b.pop("hydra", None)
    return list(_between(a, b, ""))


def _between(a: dict, b: dict, prefix: str):
    for key, value in b.items():
        path = f"{prefix}{key}"
        if key not in a:
            yield f"+{path}={override_value(value)}"
        elif isinstance(value, dict) and isinstance(a[key], dict):
            yield from _between(a[key], value, path + ".")
        elif _numbers_as_floats(value) != _numbers_as_floats(a[key]) or type(value) is not type(a[key]):
            yield f"{path}={override_value(value)}"
    for key in a:
        if key not in b:
            yield f"~{prefix}{key}"
