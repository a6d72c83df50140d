"""compose_config keeps Hydra's compositions and applies plain ``key=value`` changes to a kept
one: the result equals Hydra's own composition of the same overrides, every time."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ketamine_sim.experiments.config import compose as K
from ketamine_sim.experiments.paths import CONFIG_DIR

CASES = [
    [],
    ["circuit=small"],
    ["circuit=small", "seed=3"],
    ["circuit=small", "dosing.dose_mg_per_kg=0.25", "circuit.window_s=1.5"],
    ["experiment=course", "dosing=six_iv_2wk", "dosing.follow_days=3", "course.window_days_after_last_dose=[3]"],
    ["experiment=bath", "bath.concentrations_uM=[0,'1 mM']", "circuit=small"],
    ["circuit.weight_nS.pyr_pv=2.5", "hypothesis=adenosine_feedback", "neurochemistry.adenosine_gain=0.3"],
    ["circuit.counts={pyr: 100, pv: 20, sst: 10}"],
    ["drug=esketamine", "block.targets=[pyr]", "manipulation=nbqx_timed"],
    ["+extra.key=1", "circuit=small"],
    ["scorecard.records=null", "experiment=scorecard"],
    ["output.figure=false", "backend.threads=1", "dosing.start_min=-20"],
    ["iv_infusion.window_times_min=[-10,30]", "iv_infusion.window_times_min=[-10,40]"],  # last wins
]


def _hydra(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("overrides", CASES, ids=lambda o: " ".join(o) or "defaults")
def test_compose_config_equals_hydras_composition(overrides):
    mine = K.compose_config(overrides)
    assert OmegaConf.to_container(mine) == OmegaConf.to_container(_hydra(overrides))
    assert OmegaConf.is_struct(mine) == OmegaConf.is_struct(_hydra(overrides))


@pytest.mark.parametrize("overrides", CASES[2:6], ids=" ".join)
def test_checked_jobs_equal_hydras_composition_with_its_hydra_node(overrides):
    """`check_overrides` applies value overrides to a kept composition, Hydra node included."""
    K.check_overrides(overrides)  # the second check uses the kept composition
    (mine,) = K.check_overrides(overrides)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="app"):
        hydra = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    assert OmegaConf.to_container(mine) == OmegaConf.to_container(hydra)


def test_an_unknown_key_is_refused_as_hydra_refuses_it():
    with pytest.raises(Exception) as mine:
        K.compose_config(["circuit=small", "circuit.no_such_key=1"])
    with pytest.raises(Exception) as hydra:
        _hydra(["circuit=small", "circuit.no_such_key=1"])
    assert type(mine.value) is type(hydra.value)


def test_a_returned_config_is_the_callers_own():
    first = K.compose_config(["circuit=small"])
    first.seed = 12345
    first.circuit.window_s = 9.0
    again = K.compose_config(["circuit=small"])
    assert again.seed != 12345 and again.circuit.window_s != 9.0


def test_an_edited_config_file_composes_anew(tmp_path, monkeypatch):
    import shutil

    tree = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, tree)
    monkeypatch.setattr(K, "CONFIG_DIR", str(tree))
    monkeypatch.setattr(K, "_COMPOSED", {})
    before = K.compose_config(["circuit=small"]).seed
    path = tree / "config.yaml"
    text = path.read_text()
    assert f"seed: {before}" in text
    path.write_text(text.replace(f"seed: {before}", f"seed: {before + 1}", 1))
    assert K.compose_config(["circuit=small"]).seed == before + 1


# --- compositions kept on disk (ketamine_sim.experiments.config.kept) -------------------------------------
@pytest.fixture
def fresh_store(tmp_path, monkeypatch):
    """An empty cache folder and no composition kept in memory."""
    monkeypatch.setenv("KETAMINE_SIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(K, "_COMPOSED", {})
    monkeypatch.setattr(K, "_UNWRITTEN", set())
    return tmp_path / "cache" / "compositions"


def _refuse_hydra(monkeypatch):
    import hydra

    def refused(*args, **kwargs):
        raise AssertionError("Hydra composed although the composition was kept")

    monkeypatch.setattr(hydra, "compose", refused)


def test_a_later_process_reads_the_kept_composition(fresh_store, monkeypatch):
    first = K.compose_config(["circuit=small", "drug=esketamine"])
    assert len(list(fresh_store.glob("*.pickle"))) == 1
    monkeypatch.setattr(K, "_COMPOSED", {})  # as in a new process
    _refuse_hydra(monkeypatch)
    again = K.compose_config(["circuit=small", "drug=esketamine", "dosing.dose_mg_per_kg=0.25"])
    assert again.dosing.dose_mg_per_kg == 0.25 and again.drug.name == "esketamine"
    again.dosing.dose_mg_per_kg = first.dosing.dose_mg_per_kg
    assert OmegaConf.to_container(again) == OmegaConf.to_container(first)


def test_check_overrides_keeps_its_compositions_with_the_hydra_node(fresh_store, monkeypatch):
    K.check_overrides(["circuit=small", "circuit.window_s=1.5"])
    monkeypatch.setattr(K, "_COMPOSED", {})
    _refuse_hydra(monkeypatch)
    (cfg,) = K.check_overrides(["circuit=small", "circuit.window_s=2.5"])
    assert cfg.circuit.window_s == 2.5 and list(cfg.hydra.overrides.task) == ["circuit=small", "circuit.window_s=2.5"]


def test_an_unreadable_kept_file_is_composed_anew_and_replaced(fresh_store, monkeypatch):
    K.compose_config(["circuit=small"])
    (path,) = fresh_store.glob("*.pickle")
    path.write_bytes(b"not a pickle")
    monkeypatch.setattr(K, "_COMPOSED", {})
    assert K.compose_config(["circuit=small"]).circuit.name == "small"
    monkeypatch.setattr(K, "_COMPOSED", {})
    _refuse_hydra(monkeypatch)
    assert K.compose_config(["circuit=small"]).circuit.name == "small"  # the replaced file is read


def test_a_composition_that_cannot_be_pickled_is_used_but_not_kept(fresh_store):
    """Hydra's plugin scan can load a launcher's config module anew: a composition holding the
    old class cannot be pickled any more. The command goes on; the composition is not kept."""
    import importlib

    import hydra_plugins.hydra_joblib_launcher.config as launcher_config

    K.check_overrides(["seed=1,2"], multirun=True)  # composed with the launcher's structured config
    K._COMPOSED.clear()
    for path in fresh_store.glob("*.pickle"):
        path.unlink()
    composed = K.check_overrides(["seed=1,2"], multirun=True)
    importlib.reload(launcher_config)  # as Hydra's scan does: the class in the config is no longer the module's
    K._COMPOSED.clear()
    K._UNWRITTEN.clear()
    from ketamine_sim.experiments.config import kept

    kept.store("reloaded", composed[0])  # no error
    assert not (fresh_store / "reloaded.pickle").exists()
    assert [cfg.seed for cfg in K.check_overrides(["seed=1,2"], multirun=True)] == [1, 2]


def test_a_cache_that_cannot_be_written_is_not_used(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("KETAMINE_SIM_CACHE", str(blocker))
    monkeypatch.setattr(K, "_COMPOSED", {})
    assert K.compose_config(["circuit=small"]).circuit.name == "small"


def test_the_key_follows_the_files_content_and_the_overrides(tmp_path):
    import shutil

    from ketamine_sim.experiments.config import kept

    tree = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, tree)
    path = tree / "config.yaml"
    stat = path.stat()

    def key(overrides=("circuit=small",)):
        return kept.key(overrides, "config", False, str(tree), kept.config_tree_signature(str(tree)))

    before = key()
    assert key(("circuit=pfc",)) != before
    text = path.read_text()
    path.write_text(text.replace("seed: ", "seed: 9", 1))  # a changed value ...
    path.write_text(text.replace("seed: ", "seed:  ", 1))  # ... then the same size again
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert key() != before
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2))  # the old content, a new time
    assert key() == before


def test_a_refused_command_keeps_no_composition(fresh_store):
    from ketamine_sim.experiments.config import ConfigError, validate

    with pytest.raises(ConfigError):
        K.check_overrides(["circuit=small", "drug=esketamine", "dosing.dose_mg_per_kg=-1"], validate=validate)
    assert not fresh_store.exists()
    K.check_overrides(["circuit=small", "drug=esketamine", "dosing.dose_mg_per_kg=1"], validate=validate)
    assert len(list(fresh_store.glob("*.pickle"))) == 1


def test_hydra_settings_and_foreign_files_are_not_kept(fresh_store, monkeypatch):
    import os

    K.compose_config(["circuit=small", "hydra.job.name=x"])
    assert not fresh_store.exists() or not list(fresh_store.glob("*.pickle"))
    K.compose_config(["circuit=small"])
    (path,) = fresh_store.glob("*.pickle")
    os.chmod(path, 0o666)  # writable by others: not read (a pickle runs code when loaded)
    monkeypatch.setattr(K, "_COMPOSED", {})
    _refuse_hydra(monkeypatch)
    with pytest.raises(AssertionError, match="Hydra composed"):
        K.compose_config(["circuit=small"])
