"""The ``ketamine-sim`` command: a Hydra app (``ketamine-sim --help``; ``-m`` sweeps)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError
from .run import run_experiment


#: The configs/ folder of the checkout (the package is installed editable: ``pip install -e .``).
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _app(cfg: DictConfig) -> str | None:
    hydra_cfg = HydraConfig.get()
    try:
        if hydra_cfg.mode == RunMode.MULTIRUN:  # a sweep job: skipped if its folder holds its finished results
            from .sweep import run_job

            overrides = OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)
            return run_job(cfg, hydra_cfg.runtime.output_dir, overrides, hydra_cfg.job.num)
        run_experiment(cfg, hydra_cfg.runtime.output_dir)
    except ConfigError as error:
        print(f"ketamine-sim: invalid config: {error}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    _app()


if __name__ == "__main__":
    main()
