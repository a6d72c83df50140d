"""The ``ketamine-sim`` command: a Hydra app (``ketamine-sim --help``; ``-m`` sweeps).

Every user mistake ends the same way: one line on stderr naming the field, exit status 2,
before any build. Before Hydra runs, :func:`check_overrides` parses the overrides (a key
given twice is refused), composes the config of every job with Hydra's compose API (an
unknown group option, key or launcher plugin becomes a :class:`ConfigError`), checks the
launcher settings and, for a single run, validates the config.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ketamine_sim.experiments import kinds
from ketamine_sim.experiments.config import compose
from ketamine_sim.experiments.errors import ConfigError, NumericalError, RunFolderError
from ketamine_sim.experiments.paths import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _app(cfg: DictConfig) -> str | float | None:
    """One run or one sweep job; returns the run's objective (``objective.findings``) when one
    is configured, which an optimising sweeper (``hydra/sweeper=optuna``) minimises."""
    hydra_cfg = HydraConfig.get()
    try:
        if hydra_cfg.mode == RunMode.MULTIRUN:  # a sweep job: skipped if its folder holds its finished results
            from ketamine_sim.experiments.sweep import run_job

            _needs_an_objective(str(hydra_cfg.sweeper.get("_target_", "")), cfg)

            overrides = OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)
            outcome = run_job(cfg, hydra_cfg.runtime.output_dir, overrides, hydra_cfg.job.num)
        else:
            kinds.run_experiment(cfg, hydra_cfg.runtime.output_dir)
            outcome = None
        if cfg.objective.findings:
            from ketamine_sim.experiments.scoring.objective import objective

            return objective(cfg, hydra_cfg.runtime.output_dir)
        return outcome
    except RunFolderError as error:  # a folder, not a config value: no "invalid config" prefix
        print(f"ketamine-sim: {error}", file=sys.stderr)
        sys.exit(2)
    except ConfigError as error:
        _refuse(error)
    except KeyboardInterrupt:  # Ctrl-C: the run stopped after its current window and wrote nothing
        sys.exit(130)
    except NumericalError as error:  # the model left its range in a window: nothing was written
        print(f"ketamine-sim: run stopped: {error}", file=sys.stderr)
        sys.exit(1)


def _refuse(error: ConfigError) -> None:
    print(f"ketamine-sim: invalid config: {error}", file=sys.stderr)
    sys.exit(2)


def preflight(argv: Sequence[str]) -> None:
    """:func:`check_overrides` for a command line (Hydra's own flags as Hydra reads them);
    the help, info and shell-completion modes and other config folders are left to Hydra."""
    from hydra._internal.utils import get_args_parser

    args = get_args_parser().parse_args(list(argv))
    if args.help or args.hydra_help or args.info or args.shell_completion or args.experimental_rerun:
        return
    if args.config_path or args.config_dir:  # another config tree: only the overrides themselves are checked
        compose._parse(args.overrides)
        return
    multirun = args.multirun or "hydra.mode=MULTIRUN" in args.overrides
    check_overrides(
        args.overrides, multirun=multirun, config_name=args.config_name or "config", validate=args.cfg is None
    )
    if multirun and args.cfg is None:
        check_search_space(args.overrides)


def _needs_an_objective(sweeper_target: str, cfg: DictConfig) -> None:
    """An optimising sweeper (``hydra/sweeper=optuna``: any but Hydra's basic one) minimises what
    each run returns: without ``objective.findings`` a run returns no number, so the sweep
    would fail after its first simulation. Checked on the composed config, before the first
    job runs."""
    if sweeper_target and "BasicSweeper" not in sweeper_target and not cfg.objective.findings:
        name = sweeper_target.rpartition(".")[2]
        raise ConfigError(
            "objective.findings",
            f"the sweeper {name} minimises what each run returns: give the findings to fit, "
            "e.g. 'objective.findings=[C7,C8]' (docs/fitting.md)",
        )


def check_search_space(overrides: Sequence[str]) -> None:
    """For an optimising sweeper chosen on the command line (``hydra/sweeper=optuna``), the
    configs at the ends of every searched range (``interval(a,b)``, ``range(...)``,
    ``choice(...)``; the other parameters at their first end) pass the whole validation, so
    that a range reaching outside a key's allowed values, or a misspelt key, is refused before
    the first trial. Raises ConfigError."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    sweeper = next((o.value() for o in parsed if o.key_or_group == "hydra/sweeper"), "basic")
    if sweeper == "basic":
        return
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    ends = {}
    for o in (o for o in parsed if o.is_sweep_override()):
        space = o._value
        if isinstance(space, IntervalSweep):
            if not space.start < space.end:
                raise ConfigError(
                    o.key_or_group, f"interval({space.start:g}, {space.end:g}): the low end must be below the high end"
                )
            ends[o.key_or_group] = [space.start, space.end]
        elif isinstance(space, RangeSweep):
            values = (
                list(range(space.start, space.stop, space.step))
                if all(isinstance(x, int) for x in (space.start, space.stop, space.step))
                else [space.start]
            )
            if not values:
                raise ConfigError(o.key_or_group, "range(...) holds no value")
            ends[o.key_or_group] = [values[0], values[-1]]
        elif isinstance(space, ChoiceSweep):
            ends[o.key_or_group] = list(space.list)
    for key, values in ends.items():
        others = [f"{k}={v[0]}" for k, v in ends.items() if k != key]
        for value in values:
            check_overrides([*plain, *others, f"{key}={value}"], validate=True)


def check_overrides(
    overrides: Sequence[str] = (), multirun: bool = False, config_name: str = "config", validate: bool = True
) -> list[DictConfig]:
    """What ``ketamine-sim [-m] OVERRIDES`` checks before Hydra runs
    (:func:`ketamine_sim.experiments.config.compose.check_overrides`), with (``validate``, single runs) the
    whole validation of the experiment kind (:func:`ketamine_sim.experiments.kinds.validate`). Returns the
    composed configs (with their ``hydra`` node); raises :class:`ConfigError` on the first mistake."""
    return compose.check_overrides(
        overrides, multirun=multirun, config_name=config_name, validate=kinds.validate if validate else None
    )


def check_job(job: Sequence[str], cfg: DictConfig, validate: bool = True) -> None:
    """:func:`ketamine_sim.experiments.config.compose.check_job` with the kind's validation (``validate``)."""
    compose.check_job(job, cfg, validate=kinds.validate if validate else None)


def _terminate(signum, frame) -> None:
    """SIGTERM (``kill``, a scheduler's time limit): leave as an exception, so that the window's
    binary is stopped and temporary folders and half-written files are removed on the way out
    (exit status 128 + 15)."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        preflight(sys.argv[1:])
    except ConfigError as error:
        _refuse(error)
    _app()


if __name__ == "__main__":
    main()
