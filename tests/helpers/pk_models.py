"""Every pharmacokinetic model as a configured run builds it (``configs/pk/*.yaml`` with the
shared ``pk.*`` of ``configs/config.yaml``), by the option's name."""

from __future__ import annotations

from pathlib import Path

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.app import CONFIG_DIR

PK_MODELS = {
    p.stem: C.pk_parameters(C.compose_config([f"pk={p.stem}"])) for p in sorted(Path(CONFIG_DIR, "pk").glob("*.yaml"))
}
