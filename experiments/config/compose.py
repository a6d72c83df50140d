"""Composing configs and checking command-line overrides (Hydra's compose API).

[`compose_config`][ketamine_sim.experiments.config.compose.compose_config] is the config a run would use;
[`check_overrides`][ketamine_sim.experiments.config.compose.check_overrides] is what
``ketamine-sim [-m] OVERRIDES`` checks before Hydra runs: the overrides parse and name each
key once, every job's config composes (an unknown group option, key or launcher plugin
becomes a [`ConfigError`][ketamine_sim.experiments.errors.ConfigError] naming it), the launcher settings
are usable and, given a validation function, a single run's config is valid. The keys and
their units are listed in [Configuration](../configuration.md).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig

from ketamine_sim.experiments.config import kept
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.paths import CONFIG_DIR

#: Sweeps of more jobs than this are checked one swept value at a time (each composition
#: takes about 0.1 s), not job by job.
MAX_JOBS_COMPOSED = 64
#: The launchers that hydra-submitit-launcher provides (``pip install -e ".[cluster]"``).
_SUBMITIT = ("submitit_local", "submitit_slurm")


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``ketamine-sim OVERRIDES`` would use, without running anything.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, ``key=value`` (``"circuit=small"``, ``"drug=esketamine"``,
        ``"dosing.dose_mg_per_kg=0.5"``); units as the config's key names state them.

    Returns
    -------
    omegaconf.DictConfig
        The composed config from ``configs/config.yaml`` (without Hydra's own ``hydra``
        node). Values are not validated here (see
        [`check_overrides`][ketamine_sim.experiments.config.compose.check_overrides]).

    Raises
    ------
    hydra.errors.HydraException
        An override that does not parse or compose (an unknown group option or key), as
        Hydra reports it; [`check_overrides`][ketamine_sim.experiments.config.compose.check_overrides]
        turns these into one-line ConfigErrors.
    ValueError
        Called while Hydra is already initialised (inside a running app).

    Examples
    --------
    >>> cfg = compose_config(["circuit=small", "seed=3"])
    >>> cfg.experiment.name, cfg.circuit.name, cfg.seed
    ('iv_infusion', 'small', 3)
    >>> dict(cfg.circuit.counts)
    {'pyr': 320, 'pv': 46, 'sst': 34}
    """
    import copy

    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    overrides = list(overrides)
    groups, values = split_value_overrides(overrides)
    try:
        return with_values(_composed(tuple(groups)), values)  # a copy: callers may change it
    except (ConfigAttributeError, ConfigKeyError):  # not a key of the config: Hydra says so
        return copy.deepcopy(_composed(tuple(overrides)))


def with_values(composed: DictConfig, values: Sequence[tuple[str, object]]) -> DictConfig:
    """A copy of a composition with each value override of `split_value_overrides` set as Hydra
    sets it after composing (``OmegaConf.update(cfg, key, value, merge=True)``); OmegaConf's
    error for a key the config lacks."""
    import copy

    from omegaconf import OmegaConf

    cfg = copy.deepcopy(composed)
    for key, value in values:
        OmegaConf.update(cfg, key, value, merge=True)
    return cfg


def _composed(
    overrides: tuple[str, ...],
    config_name: str = "config",
    with_hydra: bool = False,
    keep_on_disk: bool = True,
    to_keep: list | None = None,
) -> DictConfig:
    """Hydra's composition of ``overrides``, kept in memory by (overrides, config, config
    files' signature) and on disk by `ketamine_sim.experiments.config.kept` (``keep_on_disk``).

    ``with_hydra``: with Hydra's own ``hydra`` node, composed in the Hydra context already
    initialised (inside a running app, or `check_overrides`'s). A running app's context may
    carry the user's search path: its compositions are kept in memory only. ``to_keep``: a
    new composition is appended there as ``(key, cfg)`` instead of written at once (a refused
    command writes nothing)."""
    signature = kept.config_tree_signature(CONFIG_DIR)
    key = (overrides, config_name, with_hydra, signature)
    keep = keep_on_disk and kept.keepable(overrides)
    name = kept.key(overrides, config_name, with_hydra, CONFIG_DIR, signature) if keep else ""
    if key not in _COMPOSED:
        cfg = kept.load(name) if name else None
        if cfg is None:
            from hydra import compose, initialize_config_dir

            with (
                contextlib.nullcontext()
                if with_hydra
                else initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3")
            ):
                cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=with_hydra)
            if name:
                _UNWRITTEN.add(name)
        if len(_COMPOSED) >= _COMPOSED_MAX:
            _COMPOSED.pop(next(iter(_COMPOSED)))
        _COMPOSED[key] = cfg
    if name in _UNWRITTEN:
        if to_keep is not None:
            if all(name != kept_name for kept_name, _ in to_keep):  # a sweep's jobs share compositions
                to_keep.append((name, _COMPOSED[key]))
        else:
            _keep(name, _COMPOSED[key])
    return _COMPOSED[key]


def _keep(name: str, cfg: DictConfig) -> None:
    """Write a composition kept so far in memory only to the disk store."""
    kept.store(name, cfg)
    _UNWRITTEN.discard(name)


def split_value_overrides(overrides: Sequence[str]) -> tuple[list[str], list[tuple[str, object]]]:
    """The overrides Hydra must compose and the plain value changes it applies after composing.

    Hydra composes the defaults list with the group choices, additions and deletions, then sets
    each plain ``key=value`` of a key that is not a config group with ``OmegaConf.update(cfg, key, value, merge=True)``;
    setting those on a kept composition of the others gives Hydra's config without composing
    again (`compose_config`, `check_overrides`, and the launched runs of
    ``ketamine_sim.experiments.kinds.launch``).

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides.

    Returns
    -------
    groups : list of str
        The overrides to compose (everything when a key is given twice or an override does not
        parse, so that Hydra reports it).
    values : list of (str, object)
        The dotted keys and their parsed values, in the order given.

    Examples
    --------
    >>> split_value_overrides(["circuit=small", "seed=3", "dosing.dose_mg_per_kg=0.5"])
    (['circuit=small'], [('seed', 3), ('dosing.dose_mg_per_kg', 0.5)])
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return list(overrides), []  # Hydra reports the syntax error
    groups, values = [], []
    for text, override in zip(overrides, parsed):
        key = override.key_or_group
        plain = not (override.is_add() or override.is_force_add() or override.is_delete())
        if (
            plain
            and override.package is None
            and ("." in key or key not in _config_groups())
            and not key.startswith("hydra")
            and not override.is_sweep_override()
        ):
            values.append((key, override.value()))
        else:
            groups.append(text)
    keys = [key for key, _ in values]
    if len(keys) != len(set(keys)):  # a key given twice: Hydra's order decides
        return list(overrides), []
    return groups, values


def _config_groups() -> frozenset[str]:
    """The config groups of ``configs/`` (its folders): ``seed=3`` is a value, ``drug=x`` a choice."""
    return frozenset(p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir())


#: Composed configs by (overrides, config files' signature): Hydra takes about 0.2 s per
#: composition; a file edited since (another size or modification time) composes anew.
_COMPOSED: dict[tuple, DictConfig] = {}
_COMPOSED_MAX = 256
#: Keys of compositions composed in this process but not yet on disk (a refused command's).
_UNWRITTEN: set[str] = set()


# --------------------------------------------------------------------------- before Hydra runs
def _one_line(text: str) -> str:
    """Hydra's multi-line message as one line (without the search path and the grammar link)."""
    lines = []
    for line in str(text).splitlines():
        if line.startswith(("Config search path", "See https://")):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines).rstrip(".")


def _parse(overrides: Sequence[str]) -> list:
    """Hydra's parse of the overrides; a syntax error, an empty key or a key given twice
    (``seed=1 seed=2``: the last would silently win) is a ConfigError."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed, seen = [], {}
    for text in overrides:
        try:
            override = parser.parse_overrides([text])[0]
        except OverrideParseException as error:
            key, _, value = text.partition("=")
            hint = (
                "; a list item holding '=' is quoted: key=['a.b=1','c=2']"
                if value.startswith("[") and "=" in value and "'" not in value and '"' not in value
                else ""
            )
            raise ConfigError(key or text, f"cannot parse {text!r}: {_one_line(error.message)}{hint}") from None
        key = override.key_or_group
        if not key:
            raise ConfigError(text, "an override needs a key: key=value")
        name = f"{key}@{override.package}" if override.package else key
        if name in seen:
            raise ConfigError(key, f"given twice ({seen[name]!r} and {text!r}); give each key once")
        seen[name] = text
        parsed.append(override)
    return parsed


def _jobs(parsed: list, multirun: bool) -> list[list[str]]:
    """The override lists of the jobs to compose: one run, or the jobs of a basic sweep (all
    of them up to `MAX_JOBS_COMPOSED`, else each swept value once)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.errors import HydraException

    plain = [o.input_line for o in parsed]
    custom_sweeper = any(o.key_or_group.startswith(("hydra/sweeper", "hydra.sweeper")) for o in parsed)
    if not multirun or custom_sweeper or not any(o.is_sweep_override() for o in parsed):
        return [plain] if not (multirun and custom_sweeper) else []
    try:
        jobs = BasicSweeper.split_arguments(parsed, None)[0]
    except HydraException as error:  # a range or interval sweep: the basic sweeper does not take it
        raise ConfigError(
            next(o.key_or_group for o in parsed if o.is_sweep_override() and not o.is_discrete_sweep()),
            _one_line(str(error)),
        ) from None
    if len(jobs) <= MAX_JOBS_COMPOSED:
        return jobs
    first = jobs[0]
    choices = [sorted({job[i] for job in jobs}) for i in range(len(first))]
    return [first] + [
        first[:i] + [value] + first[i + 1 :]
        for i, values in enumerate(choices)
        for value in values
        if value != first[i]
    ]


def _experiment_of(job: Sequence[str]) -> str:
    for text in job:
        key, _, value = text.partition("=")
        if key.lstrip("+") == "experiment":
            return value
    return "iv_infusion"


def _composition_error(error: Exception, job: Sequence[str]) -> ConfigError:
    """Hydra's composition error as a ConfigError naming the group or key."""
    from hydra.errors import MissingConfigException

    from ketamine_sim.experiments.config.settings import EXPERIMENTS, unknown_key

    text = str(error)
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, option = error.missing_cfg_file.rpartition("/")
        if group == "hydra/launcher" and option in _SUBMITIT:
            return ConfigError(
                "hydra/launcher",
                f"{_launcher_choice(job)} needs the hydra-submitit-launcher plugin, "
                'which is not installed: pip install -e ".[cluster]"',
            )
        options = error.options or sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))
        if options and option not in options:
            return ConfigError(group, f"unknown option {option!r}; allowed: {', '.join(options)}")
    if text.startswith("Ambiguous value for argument"):
        key = text.split("'")[1].partition("=")[0]
        return ConfigError(key, "a sweep (a,b) needs -m; a list is written [a,b], a string with a comma is quoted")
    found = re.search(r"Could not override '([^']+)'", text)
    if found and not found.group(1).startswith("hydra.") and "@" not in found.group(1):
        experiment = _experiment_of(job)
        return unknown_key(found.group(1), experiment if experiment in EXPERIMENTS else "iv_infusion")
    for text_override in job:  # name the override the message is about
        key = text_override.partition("=")[0].lstrip("+~")
        if key and (f"'{key}'" in text or text_override in text):
            return ConfigError(key, _one_line(text))
    where = re.match(r"In '([^'/]+)/", text)  # an option's file that does not compose
    return ConfigError(where.group(1) if where else "overrides", _one_line(text))


def _launcher_choice(job: Sequence[str]) -> str:
    for text in job:
        key, _, value = text.partition("=")
        if key == "hydra/launcher":
            return f"hydra/launcher={value}"
    return "this launcher"


def _compose(job: list[str], config_name: str, keep_on_disk: bool, to_keep: list | None = None) -> DictConfig:
    """The job's composition with its ``hydra`` node; plain value overrides are applied to a
    kept composition of the others, as `compose_config` does (not when the job chooses an
    option of Hydra's own groups, ``hydra/launcher=...``, whose configs plugins register)."""

    from hydra import compose
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    groups, values = split_value_overrides(job)
    errors = (HydraException, OmegaConfBaseException, ValueError, KeyError, TypeError)
    if not any(text.lstrip("+~").startswith("hydra/") for text in groups):
        try:
            kept_cfg = _composed(
                tuple(groups), config_name, with_hydra=True, keep_on_disk=keep_on_disk, to_keep=to_keep
            )
        except errors as error:
            if not values:  # Hydra composed the job itself: its message names the problem
                raise _composition_error(error, job) from None
            kept_cfg = None
        if kept_cfg is not None:
            try:
                cfg = with_values(kept_cfg, values)
                _set_job_fields(cfg, job)
                return cfg
            except errors:
                pass  # composed whole below, so that Hydra's own message names the problem
    try:
        return compose(config_name=config_name, overrides=job, return_hydra_config=True)
    except errors as error:
        raise _composition_error(error, job) from None


def _set_job_fields(cfg: DictConfig, job: list[str]) -> None:
    """The fields of the ``hydra`` node that Hydra derives from a job's own overrides and the
    working folder (a kept composition has those of its group overrides)."""
    import os

    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict

    options = cfg.hydra.job.config.override_dirname
    with open_dict(cfg):
        cfg.hydra.overrides.task = list(job)
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=OverridesParser.create().parse_overrides(job),
            kv_sep=options.kv_sep,
            item_sep=options.item_sep,
            exclude_keys=options.exclude_keys,
        )
        cfg.hydra.runtime.cwd = os.getcwd()


def _read_by_the_experiment(job: Sequence[str], cfg: DictConfig) -> None:
    """Refuse an override that the chosen experiment never reads (``dosing.*`` in a bath)."""
    from ketamine_sim.experiments.config import settings as C

    experiment = cfg.get("experiment", {}).get("name")
    for text in job:
        key = text.partition("=")[0].lstrip("+~").partition("@")[0]
        error = C.unread_override(key, experiment) if experiment in C.EXPERIMENTS else None
        if error is not None:
            raise error
        if experiment == "sensitivity" and key == "seed" and cfg.get("sensitivity", {}).get("noise_floor"):
            raise ConfigError(
                "seed",
                "nothing reads it: with sensitivity.noise_floor every sample draws its circuit seed; "
                "sensitivity.noise_floor=false runs every sample on this seed",
            )


def check_overrides(
    overrides: Sequence[str] = (),
    multirun: bool = False,
    config_name: str = "config",
    validate: Callable[[DictConfig], None] | None = None,
) -> list[DictConfig]:
    """Check command-line overrides as ``ketamine-sim [-m] OVERRIDES`` does before Hydra runs.

    The overrides must parse and name each key once, every job's config must compose (an
    unknown group option or key is named, with the allowed options or the nearest key),
    the launcher settings must be usable, every override must be read by the chosen
    experiment and, for a single run with ``validate``, the task config must be valid.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, ``key=value``; with ``multirun`` also sweeps (``seed=1,2,3``).
    multirun : bool
        Check the jobs of a basic sweep (all of them up to ``MAX_JOBS_COMPOSED``, else each
        swept value once); ``validate`` is then not applied.
    config_name : str
        The primary config in ``configs/``.
    validate : callable or None
        ``validate(task_cfg)``, raising [`ConfigError`][ketamine_sim.experiments.errors.ConfigError] on a
        bad value (``ketamine_sim.experiments.config.validate``, or ``ketamine_sim.experiments.kinds.validate`` for the
        whole validation); None: composition checks only.

    Returns
    -------
    list of omegaconf.DictConfig
        The composed config of each job checked, with its ``hydra`` node.

    Raises
    ------
    ConfigError
        The first mistake, as one line naming the override path: a syntax error, a key given
        twice, an unknown option or key, a sweep without ``-m``, an override the experiment
        never reads, an unusable launcher setting or (with ``validate``) a bad value.

    Examples
    --------
    >>> [cfg.seed for cfg in check_overrides(["seed=1,2"], multirun=True)]
    [1, 2]
    >>> check_overrides(["seed=1", "seed=2"])
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: seed: given twice ('seed=1' and 'seed=2'); give each key once
    >>> check_overrides(["drug=aspirin"])
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: drug: unknown option 'aspirin'; allowed: arketamine, esketamine, ..., saline
    >>> from ketamine_sim.experiments.config import validate
    >>> check_overrides(["dosing.dose_mg_per_kg=-1"], validate=validate)
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: dosing.dose_mg_per_kg: must be >= 0, got -1
    """
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    jobs = _jobs(_parse(overrides), multirun)
    composed = []
    # inside a running app (a scorecard checking its runs) Hydra is initialised with CONFIG_DIR already
    inside_app = GlobalHydra.instance().is_initialized()
    with (
        contextlib.nullcontext()
        if inside_app
        else initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="app")
    ):
        to_keep: list = []  # written once every job passed: a refused command leaves no file
        for job in jobs:
            cfg = _compose(list(job), config_name, keep_on_disk=not inside_app, to_keep=to_keep)
            check_job(job, cfg, validate=None if multirun else validate)
            composed.append(cfg)
    for name, cfg in to_keep:
        _keep(name, cfg)
    return composed


def check_job(job: Sequence[str], cfg: DictConfig, validate: Callable[[DictConfig], None] | None = None) -> None:
    """The checks of one job's composed config (with its ``hydra`` node).

    Parameters
    ----------
    job : sequence of str
        The job's overrides.
    cfg : omegaconf.DictConfig
        Its composed config, with the ``hydra`` node.
    validate : callable or None
        ``validate(task_cfg)`` on the config without its ``hydra`` node; None: skipped.

    Raises
    ------
    ConfigError
        The launcher settings are unusable, an override is not read by the experiment,
        ``hydra.run.dir`` or ``hydra.sweep.dir`` is empty, or ``validate`` refuses the task.
    """
    from omegaconf import open_dict

    from ketamine_sim.experiments.config import settings as C

    C.launcher_settings(cfg)
    _read_by_the_experiment(job, cfg)
    for key in ("hydra.run.dir", "hydra.sweep.dir"):  # empty: Hydra would write into the current folder
        if any(o.partition("=")[0].lstrip("+") == key and not o.partition("=")[2].strip() for o in job):
            raise ConfigError(key, "must name a folder, got an empty value")
    if validate is not None:
        task = cfg.copy()
        with open_dict(task):
            del task["hydra"]
        validate(task)
