"""The ``ketamine-sim`` command: a Hydra app (``ketamine-sim --help``; ``-m`` sweeps)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import ConfigError
from .run import run_experiment


#: The configs/ folder of the checkout (the package is installed editable: ``pip install -e .``).
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _app(cfg: DictConfig) -> None:
    try:
        run_experiment(cfg, HydraConfig.get().runtime.output_dir)
    except ConfigError as error:
        print(f"ketamine-sim: invalid config: {error}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    _app()


if __name__ == "__main__":
    main()
