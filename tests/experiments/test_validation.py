"""Every accepted value is a meaningful value: each user mistake is refused before any build
with one line naming the field (experiments/config/settings.py, experiments/app.py).

The config checks run in-process (Hydra's compose API, then ``validate``); the checks of the
command line itself (duplicate keys, Hydra's composition errors, the launcher) go through
:func:`ketamine_sim.experiments.app.check_overrides`, what ``ketamine-sim`` runs before Hydra.
"""

from __future__ import annotations

import json

import pytest

from ketamine_sim.circuits.pharmacology import block_parameters as derive_block
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments import kinds
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.app import check_overrides
from ketamine_sim.experiments.config.settings import block_constants

#: The block's published constants as a configured run takes them (configs/config.yaml, block.*).
_DEFAULT = compose_config([])
BLOCK_CONSTANTS = block_constants(_DEFAULT)


def block_parameters(fit: str = _DEFAULT.block.fit, escape: bool = _DEFAULT.block.trapping_escape):
    """The block scheme as a configured run derives it (``block.fit``, ``block.trapping_escape``)."""
    return derive_block(BLOCK_CONSTANTS, fit, escape, mg_competition=_DEFAULT.block.mg_competition)


def refused(*overrides: str) -> C.ConfigError:
    """The ConfigError that the whole validation (:func:`ketamine_sim.experiments.kinds.validate`) raises
    for the config of ``overrides``."""
    cfg = compose_config(["circuit=small", *overrides])
    with pytest.raises(C.ConfigError) as info:
        kinds.validate(cfg)
    return info.value


def assert_refused(overrides, field: str, *words: str) -> None:
    error = refused(*overrides)
    message = str(error)
    assert error.field == field, message
    assert "\n" not in message
    for word in words:
        assert word in message, message


# --------------------------------------------------------------------------- booleans
@pytest.mark.parametrize(
    "key",
    [
        "block.trapping_escape",
        "output.figure",
        "neurochemistry.glutamate_pool",
        "plasticity.enabled",
        "manipulation.a1_antagonist",
        "circuit.carry_state",
    ],
)
@pytest.mark.parametrize("value", ["off", "no", "'false'", "yes", "1", "0"])
def test_boolean_keys_take_only_true_or_false(key, value):
    assert_refused([f"{key}={value}"], key, "true or false")


def test_trapping_escape_false_is_read_as_false():
    block = C.circuit_structure(compose_config(["block.trapping_escape=false"])).block
    assert block == block_parameters("equilibrium", escape=False) != block_parameters("equilibrium", escape=True)


# --------------------------------------------------------------------------- probabilities per step
@pytest.mark.parametrize(
    "overrides, field, value",
    [
        (["circuit.background.rate_hz=20000"], "circuit.background.rate_hz", "got 2"),
        (
            ["circuit.dt_ms=1", "circuit.background.rate_hz=1001", "circuit.synapses.delay_ms=1"],
            "circuit.background.rate_hz",
            "got 1.001",
        ),
        (["circuit.synapses.alpha_nmda_per_ms=20"], "circuit.synapses.alpha_nmda_per_ms", "got 2"),
    ],
)
def test_a_probability_per_step_above_one_is_refused(overrides, field, value):
    assert_refused(overrides, field, "<= 1", value)


def test_time_constants_shorter_than_the_step_are_refused():
    assert_refused(["circuit.synapses.tau_ampa_ms=0.01"], "circuit.synapses.tau_ampa_ms", "circuit.dt_ms")
    assert_refused(["circuit.cells.pv.c_m_nF=0.0001"], "circuit.cells.pv.c_m_nF", "membrane time constant")


# --------------------------------------------------------------------------- protocol checks
@pytest.mark.parametrize(
    "overrides, field",
    [
        (["iv_infusion.window_times_min=[-10,-9.99]"], "iv_infusion.window_times_min"),
        (["iv_infusion.window_times_min=[-10,10,10.01]"], "iv_infusion.window_times_min"),
        (
            ["experiment=evoked_release", "evoked_release.window_times_min=[-5,-4.99,2]"],
            "evoked_release.window_times_min",
        ),
        (["experiment=dose_response", "iv_infusion.window_times_min=[-10,-9.99]"], "iv_infusion.window_times_min"),
    ],
)
def test_overlapping_windows_are_refused_before_the_build(overrides, field):
    assert_refused(overrides, field, "overlap", "circuit.window_s")


@pytest.mark.parametrize(
    "value, words",
    [
        ("5", ["must be a list or null", "5"]),  # a number where a span is wanted
        ("[0]", ["[from_min, to_min]"]),
        ("[0,1,2]", ["[from_min, to_min]"]),
        ("[3,1]", ["must end after it starts", "[3, 1]"]),
        ("[0,100]", ["at most 1000 windows"]),
        ("[9.99,12]", ["overlap the listed window at 10 min"]),
        ("[-11,-9]", ["overlap the listed window at -10 min"]),
        ("[-20,-12]", ["must lie within iv_infusion.start_min (-15)"]),
        ("[290,310]", ["end_min (300)"]),
        ("[0,0.01]", ["holds no window", "2 s"]),
    ],
)
def test_a_bad_back_to_back_span_is_one_line_naming_it(value, words):
    assert_refused([f"iv_infusion.back_to_back_min={value}"], "iv_infusion.back_to_back_min", *words)


@pytest.mark.parametrize("window_s", [2.0, 0.2, 0.1])
def test_back_to_back_windows_follow_one_another_exactly(window_s):
    """Each starts at the float the last one ends at (window lengths whose multiples are not exact
    floats, 0.2 and 0.1 s, included): the protocol's own check passes."""
    from ketamine_sim.experiments.protocols import PROTOCOLS
    from ketamine_sim.experiments.protocols.base import check_windows

    cfg = compose_config(
        [
            f"circuit.window_s={window_s}",
            "circuit.transient_s=0.05",
            "iv_infusion.window_times_min=[-10,30]",
            "iv_infusion.back_to_back_min=[0,1]",
        ]
    )
    C.validate(cfg)
    protocol = PROTOCOLS["iv_infusion"](cfg)
    windows, n = protocol.windows, int(round(60.0 / window_s))
    assert [w.label for w in windows][:2] == ["-10 min", "0 s"] and windows[-1].label == "30 min"
    assert len(windows) == 2 + n
    assert all(b.start_s == a.start_s + window_s for a, b in zip(windows[1 : n + 1], windows[2 : n + 1]))
    check_windows(windows, window_s, float(protocol.time_s[0]), float(protocol.time_s[-1]))


@pytest.mark.parametrize(
    "overrides, field",
    [
        (
            ["manipulation=nbqx_timed", "manipulation.ampa_block_window_min=[100000,200000]"],
            "manipulation.ampa_block_window_min",
        ),
        (
            ["manipulation=rapamycin", "manipulation.mtor_block_window_min=[-1000,-900]"],
            "manipulation.mtor_block_window_min",
        ),
        (
            ["experiment=evoked_release", "manipulation=nbqx_timed", "manipulation.ampa_block_window_min=[70,80]"],
            "manipulation.ampa_block_window_min",
        ),
        (
            ["experiment=course", "manipulation=rapamycin", "manipulation.mtor_block_window_min=[900000,900001]"],
            "manipulation.mtor_block_window_min",
        ),
    ],
)
def test_timed_manipulations_outside_the_protocol_are_refused(overrides, field):
    assert_refused(overrides, field, "outside the protocol")


def test_timed_manipulations_within_the_protocol_pass():
    for overrides in (
        ["manipulation=nbqx_timed"],
        ["manipulation=rapamycin"],
        ["experiment=course", "manipulation=rapamycin"],
        ["experiment=course", "manipulation=nbqx_timed"],
    ):
        C.validate(compose_config(["circuit=small", *overrides]))


# --------------------------------------------------------------------------- unknown keys
@pytest.mark.parametrize(
    "overrides, field, hint",
    [
        (["+neurochemistry.adenosine_tau_mn=3"], "neurochemistry.adenosine_tau_mn", "neurochemistry.adenosine_tau_min"),
        (["+foo=1"], "foo", "unknown key"),
        (["++bath.concentration_uM=[0,5]"], "bath.concentration_uM", "bath.concentrations_uM"),
        (["+bath.concentrations_uM=[0,5]"], "bath.concentrations_uM", "experiment=bath"),
        (["experiment=bath", "+iv_infusion.end_min=30"], "iv_infusion.end_min", "experiment=iv_infusion"),
        (["+circuit.synapses.tau_ampa=2"], "circuit.synapses.tau_ampa", "circuit.synapses.tau_ampa_ms"),
        (["+plasticity.enable=true"], "plasticity.enable", "plasticity.enabled"),
    ],
)
def test_keys_that_nothing_reads_are_refused_naming_the_nearest(overrides, field, hint):
    assert_refused(overrides, field, hint)


def test_a_mapping_replaced_by_a_value_is_refused():
    assert_refused(["circuit.counts=5"], "circuit.counts", "mapping", "pyr")


def test_any_pathway_may_be_given_a_weight():
    C.validate(
        compose_config(
            ["circuit=small", "+circuit.weight_nS.sst_sst=0.3", "circuit.connection_probability.sst_sst=0.1"]
        )
    )


def test_every_declared_key_is_read_by_some_experiment():
    """The declared keys come from configs/: each experiment's set holds its own block."""
    for name in C.EXPERIMENTS:
        leaves, _ = C.declared_keys(name)
        assert "experiment.name" in leaves and "seed" in leaves
        assert any(k.startswith(f"{name}.") for k in leaves) or name == "dose_response"


# --------------------------------------------------------------------------- ranges
@pytest.mark.parametrize(
    "overrides, field, bound",
    [
        (["dosing.dose_mg_per_kg=1e6"], "dosing.dose_mg_per_kg", "<= 100"),
        (["dosing.dose_mg=1e6"], "dosing.dose_mg", "<= 7000"),
        (["circuit.weight_nS.pyr_pyr=1e6"], "circuit.weight_nS.pyr_pyr", "<= 50"),
        (["circuit.background.weight_nS.pyr=1e3"], "circuit.background.weight_nS.pyr", "<= 50"),
        (["dosing.start_min=1e9"], "dosing.start_min", "<= 10080"),
        (["iv_infusion.end_min=1e9"], "iv_infusion.end_min", "a year"),
        (["iv_infusion.timeline_step_s=1e-6"], "iv_infusion.timeline_step_s", "200000"),
        (["iv_infusion.timeline_step_s=1e9"], "iv_infusion.timeline_step_s", "a day"),
        (["experiment=bath", "bath.timeline_step_s=1e-9"], "bath.timeline_step_s", "200000"),
        (["experiment=bath", "bath.concentrations_uM=[0,1e308]"], "bath.concentrations_uM[1]", "must be <="),
        (
            ["experiment=evoked_release", "evoked_release.concentration_uM=1e9"],
            "evoked_release.concentration_uM",
            "must be <=",
        ),
        (
            ["experiment=evoked_release", "evoked_release.train_pulses=1000000000"],
            "evoked_release.train_pulses",
            "<= 1000",
        ),
        (
            ["experiment=evoked_release", "evoked_release.train_frequency_hz=1e6"],
            "evoked_release.train_frequency_hz",
            "<= 1000",
        ),
        (["experiment=course", "course.timeline_step_s=1e-3"], "course.timeline_step_s", "200000"),
        (["experiment=course", "dosing.follow_days=1e6"], "dosing.follow_days", "a year"),
        (["circuit.counts.pyr=10000000"], "circuit.counts.pyr", "memory"),
        (["circuit.counts.pyr=100000", "circuit.counts.pv=100000"], "circuit.counts", "synapses"),
        (["circuit.window_s=1e9"], "circuit.window_s", "steps"),
        (["circuit.synapses.mg_mM=1e3"], "circuit.synapses.mg_mM", "<= 10"),
        (["neurochemistry.adenosine_tau_min=1e9"], "neurochemistry.adenosine_tau_min", "a day"),
        (["plasticity.bdnf_tau_h=1e9"], "plasticity.bdnf_tau_h", "a year"),
        (["state.bdnf_tone=1e9"], "state.bdnf_tone", "<= 100"),
        (["backend.threads=100000"], "backend.threads", "<= 256"),
        (["pk.hnk_v_l_per_kg=1e-100"], "pk.hnk_v_l_per_kg", ">= 0.01"),
        (["pk.v1_l_per_kg=1e-6"], "pk.v1_l_per_kg", ">= 0.01"),
    ],
)
def test_numbers_beyond_their_meaningful_range_are_refused_naming_the_bound(overrides, field, bound):
    assert_refused(overrides, field, bound)


# --------------------------------------------------------------------------- lists
@pytest.mark.parametrize(
    "overrides, field, words",
    [
        (["experiment=course", "course.windows_per_dose_min=5"], "course.windows_per_dose_min", ["must be a list"]),
        (["iv_infusion.window_times_min=abc"], "iv_infusion.window_times_min", ["must be a list", "'abc'"]),
        (["dosing.days=3"], "dosing.days", ["must be a list"]),
        (["block.targets=pyr"], "block.targets", ["must be a list"]),
        (
            ["experiment=course", "course.windows_per_dose_min=[-10,40,20]"],
            "course.windows_per_dose_min",
            ["increasing"],
        ),
        (
            ["experiment=course", "course.window_days_after_last_dose=[7,3]"],
            "course.window_days_after_last_dose",
            ["increasing"],
        ),
        (["experiment=scorecard", "scorecard.records=C1"], "scorecard.records", ["must be a list"]),
        (["experiment=scorecard", "scorecard.extra_overrides=[1]"], "scorecard.extra_overrides", ["strings"]),
        (["experiment=scorecard", "scorecard.seeds_dir=123"], "scorecard.seeds_dir", ["string or null"]),
    ],
)
def test_list_keys_take_lists_in_order(overrides, field, words):
    assert_refused(overrides, field, *words)


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        (
            ["experiment=dose_response", "dose_response.doses_mg_per_kg=[0.5,0.5]"],
            "dose_response.doses_mg_per_kg",
            ["distinct", "0.5 twice"],
        ),
        (["experiment=scorecard", "scorecard.seeds=[1,1]"], "scorecard.seeds", ["distinct"]),
        (["experiment=scorecard", "scorecard.hypotheses=[default,default]"], "scorecard.hypotheses", ["distinct"]),
        (["block.targets=[pyr,pyr]"], "block.targets", ["distinct"]),
    ],
)
def test_duplicate_values_are_refused(overrides, field, words):
    assert_refused(overrides, field, *words)


# --------------------------------------------------------------------------- the command line
def cli_refused(*overrides: str, multirun: bool = False) -> C.ConfigError:
    with pytest.raises(C.ConfigError) as info:
        check_overrides(
            [*(["circuit=small"] if not overrides[0].startswith("circuit=") else []), *overrides], multirun=multirun
        )
    assert "\n" not in str(info.value)
    return info.value


def test_a_key_given_twice_is_refused():
    error = cli_refused("seed=1", "seed=2")
    assert error.field == "seed" and "twice" in str(error)
    assert cli_refused("+foo=1", "++foo=2").field == "foo"
    assert cli_refused("drug=racemic", "drug=esketamine").field == "drug"


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        (["circuit=bogus"], "circuit", ["pfc", "small"]),
        (["manipulation=[dpcpx,caffeine]"], "manipulation", ["caffeine"]),
        (["hydra/launcher=bogus"], "hydra/launcher", ["local", "slurm"]),
        (["foo=1"], "foo", ["unknown key"]),
        (
            ["neurochemistry.adenosine_tau_mn=3"],
            "neurochemistry.adenosine_tau_mn",
            ["neurochemistry.adenosine_tau_min"],
        ),
        (["seed=[1,"], "seed", ["cannot parse"]),
        (
            ["experiment=scorecard", "scorecard.extra_overrides=[cohort.placebo_response=0.5]"],
            "scorecard.extra_overrides",
            ["cannot parse", "a list item holding '=' is quoted"],
        ),
        (["seed=1,2"], "seed", ["-m"]),
        (["=3"], "=3", ["key"]),
    ],
)
def test_hydra_composition_errors_are_config_errors(overrides, field, words):
    error = cli_refused(*overrides)
    assert error.field == field, str(error)
    for word in words:
        assert word in str(error), str(error)


def test_launcher_jobs_must_be_at_least_one():
    for multirun in (False, True):
        error = cli_refused("hydra.launcher.n_jobs=0", "seed=1,2" if multirun else "seed=1", multirun=multirun)
        assert error.field == "hydra.launcher.n_jobs" and ">= 1" in str(error)


def test_every_job_of_a_sweep_composes_before_any_runs():
    with pytest.raises(C.ConfigError, match="-m"):  # a sweep without -m
        check_overrides(["circuit=small,pfc"])
    error = cli_refused("seed=1,2", "drug=racemic,unobtanium", multirun=True)
    assert error.field == "drug" and "unobtanium" in str(error)


def test_a_missing_launcher_plugin_names_the_extra(monkeypatch):
    from hydra.core.config_store import ConfigStore

    check_overrides(["hydra/launcher=local_submitit"])  # the plugin is installed here: its configs are registered
    launchers = ConfigStore.instance().repo["hydra"]["launcher"]
    for name in ("submitit_local.yaml", "submitit_slurm.yaml"):
        monkeypatch.delitem(launchers, name)
    for option in ("local_submitit", "slurm"):
        error = cli_refused(f"hydra/launcher={option}", "seed=1,2", multirun=True)
        assert error.field == "hydra/launcher", str(error)
        assert f"hydra/launcher={option}" in str(error) and 'pip install -e ".[cluster]"' in str(error)


# --------------------------------------------------------------------------- what stays valid
@pytest.mark.parametrize("experiment", C.EXPERIMENTS)
def test_every_experiment_validates_with_its_defaults(experiment):
    """With the default circuit (with circuit=small: tests/experiments/test_config_groups.py,
    which also validates every option of every group)."""
    C.validate(compose_config([f"experiment={experiment}"]))


@pytest.mark.slow
def test_the_launchers_own_keys_and_values():
    assert cli_refused("+hydra.launcher.n_job=2", "seed=1,2", multirun=True).field == "hydra.launcher.n_job"
    assert "hydra.launcher.n_jobs" in str(cli_refused("+hydra.launcher.n_job=2", "seed=1,2", multirun=True))
    for override, field in (
        ("hydra.launcher.batch_size=1e6", "hydra.launcher.batch_size"),
        ("hydra.launcher.backend=abc", "hydra.launcher.backend"),
        ("hydra.launcher.n_jobs=1e9", "hydra.launcher.n_jobs"),
    ):
        assert cli_refused(override, "seed=1,2", multirun=True).field == field
    check_overrides(["hydra.launcher.batch_size=4", "hydra.launcher.n_jobs=2", "seed=1,2"], multirun=True)


# --------------------------------------------------------------------------- keys an experiment never reads
@pytest.mark.parametrize(
    "overrides, field, words",
    [
        (
            ["experiment=bath", "dosing.dose_mg_per_kg=3"],
            "dosing.dose_mg_per_kg",
            ["experiment=bath", "pharmacokinetics"],
        ),
        (["experiment=evoked_release", "pk=kamp2020"], "pk", ["experiment=evoked_release"]),
        (
            ["experiment=dose_response", "dosing.dose_mg_per_kg=1"],
            "dosing.dose_mg_per_kg",
            ["dose_response.doses_mg_per_kg"],
        ),
        (["experiment=scorecard", "seed=3"], "seed", ["scorecard.extra_overrides"]),
        (["experiment=scorecard", "circuit.dt_ms=0.05"], "circuit.dt_ms", ["scorecard.extra_overrides"]),
        # no backend group in either place: each message says the same, not "use the other place"
        (["experiment=scorecard", "backend=numpy"], "backend", ["cpp_standalone", "not offered"]),
        (["experiment.name=bath"], "experiment.name", ["experiment=<name>"]),
    ],
)
def test_overrides_the_experiment_never_reads_are_refused(overrides, field, words):
    error = cli_refused(*overrides)
    assert error.field == field, str(error)
    for word in words:
        assert word in str(error), str(error)


def test_what_a_scorecard_passes_on_is_accepted():
    check_overrides(
        [
            "experiment=scorecard",
            "circuit=small",
            "backend.threads=1",
            "output.figure=false",
            "scorecard.seeds=[1,2]",
            'scorecard.extra_overrides=["block.fit=kinetic"]',
        ]
    )


def test_a_flat_dose_in_dose_response_is_refused():
    assert_refused(["experiment=dose_response", "dosing.dose_mg=50"], "dosing.dose_mg", "dose_response.doses_mg_per_kg")


def test_deleted_keys_are_missing():
    for key in ("circuit.weight_nS.pyr_pyr", "dosing.name", "neurochemistry.a1_hill"):
        error = cli_refused(f"~{key}")
        assert error.field == key and "missing" in str(error)


def test_cells_that_fire_without_input_or_never_are_refused():
    assert_refused(["circuit.cells.pyr.v_th_mV=1"], "circuit.cells.pyr.v_th_mV", "e_exc_mV")
    assert_refused(["circuit.cells.sst.e_l_mV=-40"], "circuit.cells.sst.e_l_mV", "below v_th_mV")


def test_a_pathway_with_a_probability_needs_a_weight():
    assert_refused(["circuit.connection_probability.sst_sst=0.1"], "circuit.weight_nS.sst_sst", "missing")


@pytest.mark.parametrize(
    "extra, words",
    [
        ("['seed=3']", ["sets seed itself"]),
        ("['hypothesis=combined']", ["sets hypothesis itself"]),
        ("['block.fit=kinetic','block.fit=equilibrium']", ["twice"]),
        ("['block.fit=[']", ["cannot parse"]),
        ("['cohort.seed=7']", ["every cohort of the scorecard sets cohort.seed", "seed"]),
        ("['cohort.n_patients=3']", ["sets cohort.n_patients", "scorecard.cohort_patients"]),
        ("['backend=cython']", ["cpp_standalone", "not offered"]),
    ],
)
def test_scorecard_extra_overrides_parse_and_are_not_lost(extra, words):
    assert_refused(["experiment=scorecard", f"scorecard.extra_overrides={extra}"], "scorecard.extra_overrides", *words)


@pytest.mark.parametrize(
    "extra, words",
    [
        ('["foo=1"]', ["foo", "unknown key"]),
        ('["block.trapping_escape=off"]', ["block.trapping_escape", "true or false"]),
        ('["circuit=pfc"]', ["circuit", "scorecard's own command line"]),
        ('["hydra.run.dir=/tmp/x"]', ["hydra.run.dir", "scorecard's own command line"]),
    ],
)
def test_scorecard_runs_are_checked_before_any_runs(tmp_path, extra, words):
    """A bad ``scorecard.extra_overrides`` stops the scorecard before any of its runs, in one line
    naming the field (the runs' configs are composed and validated first)."""
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.app import check_overrides
    from ketamine_sim.experiments.config import ConfigError
    from ketamine_sim.experiments.kinds import validate
    from ketamine_sim.experiments.scoring.scorecard import SEEDS_DIR, check_runs, load_records, plan, scorable

    overrides = [
        "experiment=scorecard",
        "circuit=small",
        "scorecard.hypotheses=[default]",
        "scorecard.records=[C1]",
        f"scorecard.extra_overrides={extra}",
    ]
    with pytest.raises(ConfigError) as error:
        cfg = compose_config(overrides)
        validate(cfg)
        records = scorable(load_records(SEEDS_DIR), ["C1"])
        planned = plan(records, ["default"], [1], ["circuit=small", *json.loads(extra)], tmp_path)
        check_runs(planned.values(), check_overrides)
    assert error.value.field == "scorecard.extra_overrides"
    assert all(w in str(error.value) for w in words), str(error.value)


def test_an_empty_scorecard_record_list_is_refused():
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.config import ConfigError, validate

    with pytest.raises(ConfigError, match="scorecard.records: must be null .* or a non-empty list"):
        validate(compose_config(["experiment=scorecard", "circuit=small", "scorecard.records=[]"]))


def test_an_empty_run_folder_is_refused():
    """``hydra.run.dir=`` would write the run into the current folder (often the repository)."""
    with pytest.raises(C.ConfigError, match="hydra.run.dir: must name a folder"):
        check_overrides(["circuit=small", "hydra.run.dir="])


def test_an_unresolvable_launcher_interpolation_is_refused():
    """Found by the fuzz test: ``hydra.launcher.n_jobs=${oops}`` ended in an omegaconf traceback."""
    with pytest.raises(C.ConfigError, match=r"hydra.launcher.n_jobs: cannot resolve"):
        check_overrides(["circuit=small", "hydra.launcher.n_jobs=${oops}"], multirun=True)


@pytest.mark.parametrize(
    "override, allowed",
    [
        ("backend.background_draw=null", "per_cell, per_population"),
        ("backend.background_draw=1", "per_cell, per_population"),
        ("backend.wait_policy=true", "passive, active, auto"),
        ("circuit.connectivity=null", "fixed_probability, fixed_indegree"),
        ("block.fit=3", "equilibrium, kinetic"),
    ],
)
def test_a_choice_of_the_wrong_type_names_the_allowed_values(override, allowed):
    """A value that is not even a name (null, a number, a flag) is answered as an unknown name
    is: the field and the names it allows."""
    assert_refused([override], override.partition("=")[0], f"allowed: {allowed}")
