"""Hundreds of bad and odd overrides: each ends in one line naming the field (ConfigError,
exit 2 on the command line) or in a valid config whose protocol builds; never a traceback,
a hang or a silent nonsense run.

The fuzzing runs in-process: the command line's own checks (ketamine_sim.experiments.app: parsing,
duplicate keys, Hydra's composition errors, the launcher) and ``validate``, without any
simulation. Composition of the group options is cached and the drawn key=value overrides
are applied with the function Hydra's composition applies them with, so that hundreds of
examples take seconds; :func:`test_the_fast_path_agrees_with_the_command_line` checks the
cache against full compositions. A handful of subprocesses check the real exit status.
Hypothesis runs derandomized (the same examples on every run, no example database).
"""

from __future__ import annotations

import copy
import functools
import math
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf, open_dict

from ketamine_sim.experiments import app
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose
from ketamine_sim.experiments.protocols import PROTOCOLS
from ketamine_sim.experiments.simulation.timeline import check_windows

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

#: Odd values of every kind: numbers at and past every range, strings where numbers are
#: expected, booleans spelt as words, lists of the wrong shape, interpolations.
ODD_VALUES = (
    "0",
    "-1",
    "1",
    "2",
    "0.5",
    "3",
    "-0.0",
    "1e-9",
    "1e-300",
    "1e6",
    "1e9",
    "1e308",
    "-1e308",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "99999999999999999999",
    "-99999999999999999999",
    "0x10",
    "true",
    "false",
    "off",
    "on",
    "no",
    "yes",
    "'false'",
    "'true'",
    "null",
    "abc",
    "''",
    "'5 mM'",
    "'1 M'",
    "'120 ng/mL'",
    "[]",
    "[1]",
    "[0,1]",
    "[1,0]",
    "[0.5,0.5]",
    "[-10,-9.99]",
    "[-10,10]",
    "[0,'100 mM']",
    "[abc]",
    "[[1]]",
    "[0,1e308]",
    "[null]",
    "{}",
    "{a:1}",
    "${oops}",
    "${seed}",
    "'[0,1]'",
)
EXPERIMENTS = C.EXPERIMENTS
GROUPS = {  # options that exist, and some that do not
    "circuit": ("small", "pfc", "tiny"),
    "drug": ("racemic", "esketamine", "saline", "unobtanium"),
    "dosing": ("single_iv", "six_iv_2wk", "oral", "esketamine_nasal", "weekly"),
    "manipulation": ("none", "nbqx_timed", "rapamycin", "[dpcpx,nbqx]", "caffeine"),
    "state": ("healthy", "chronic_stress", "sad"),
    "hypothesis": ("default", "hnk_ampa", "combined", "nope"),
    "backend": ("cpp_standalone", "numpy", "gpu"),
    "pk": ("domino1984", "kamp2020", "other"),
    "hydra/launcher": ("local", "slurm", "nothing"),
}


@functools.cache
def _keys(experiment: str) -> tuple[str, ...]:
    leaves, _ = C.declared_keys(experiment)
    return tuple(sorted(leaves))


def _misspelt(key: str, cut: int) -> str:
    """A misspelling of ``key``: one character dropped."""
    head, dot, last = key.rpartition(".")
    cut %= max(len(last), 1)
    return f"{head}{dot}{last[:cut]}{last[cut + 1 :]}"


@st.composite
def a_key(draw, experiment: str) -> str:
    """A declared key (of this or another experiment), a misspelt or invented one, a launcher key."""
    kind = draw(st.sampled_from(["declared"] * 6 + ["other", "misspelt", "invented", "launcher"]))
    if kind == "declared":
        return draw(st.sampled_from(_keys(experiment)))
    if kind == "other":
        return draw(st.sampled_from(_keys(draw(st.sampled_from(EXPERIMENTS)))))
    if kind == "misspelt":
        return _misspelt(draw(st.sampled_from(_keys(experiment))), draw(st.integers(0, 30)))
    if kind == "invented":
        return draw(
            st.sampled_from(
                [
                    "foo",
                    "circuit.foo",
                    "dosing.dose",
                    "neurochemistry.adenosine_tau_mn",
                    "bath.concentration_uM",
                    "circuit.weight_nS.sst_sst",
                    "circuit.weight_nS.vip_pyr",
                    "circuit.cells.pyr.c_m_nF.x",
                    "seed.x",
                ]
            )
        )
    return draw(st.sampled_from(["hydra.launcher.n_jobs", "hydra.launcher.batch_size", "hydra.launcher.foo"]))


#: Factors applied to a numeric default: plausible changes, and steps past every range.
FACTORS = (0.0, 0.1, 0.5, 0.9, 1.1, 2.0, 10.0, 100.0, 1e4, -1.0)


#: Factors of plausible changes (and one past most ranges).
PLAUSIBLE = (0.5, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 1e3)


@st.composite
def scaled(draw, experiment: str, key: str, factors=FACTORS) -> str:
    """The key's default (numbers, or each number of a list) times a factor; ODD_VALUES for
    keys without a numeric default."""
    default = OmegaConf.select(_composed(("circuit=small", f"experiment={experiment}")), key, default=None)
    if OmegaConf.is_config(default):
        default = OmegaConf.to_container(default)
    factor = draw(st.sampled_from(factors))
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return repr(round(default * factor)) if isinstance(default, int) else repr(default * factor)
    if isinstance(default, list) and default and all(isinstance(v, (int, float)) for v in default):
        return "[" + ",".join(repr(v * factor) for v in default) + "]"
    return draw(st.sampled_from(ODD_VALUES))


@st.composite
def value_overrides(draw, experiment: str) -> list[str]:
    """One to three overrides of distinct keys, with +, ++ or ~ now and then; sometimes a key
    given twice."""
    keys = draw(st.lists(a_key(experiment), min_size=1, max_size=3, unique=True))
    out = []
    for key in keys:
        prefix = draw(st.sampled_from(["", "", "", "", "", "", "+", "++", "~"]))
        value = draw(st.one_of(st.sampled_from(ODD_VALUES), scaled(experiment, key)))
        out.append(f"~{key}" if prefix == "~" else f"{prefix}{key}={value}")
    if draw(st.integers(0, 9)) == 0:
        out.append(f"{keys[0]}={draw(st.sampled_from(ODD_VALUES))}")
    return out


# --------------------------------------------------------------------------- the in-process path
@functools.cache
def _composed(groups: tuple[str, ...]) -> DictConfig:
    """The config of the group options (Hydra's compose API, as ``check_overrides`` does)."""
    return app.check_overrides(list(groups), validate=False)[0]


def fast_check(groups: list[str], values: list[str]) -> DictConfig:
    """What ``check_overrides(groups + values)`` checks, with the group composition cached:
    parse (duplicates), Hydra's application of the value overrides, then ``check_job``.
    Returns the validated task config; raises ConfigError."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    parsed = compose._parse([*groups, *values])
    cfg = copy.deepcopy(_composed(tuple(groups)))
    try:
        ConfigLoaderImpl._apply_overrides_to_config(parsed[len(groups) :], cfg)
    except (HydraException, OmegaConfBaseException, ValueError, KeyError, TypeError) as error:
        raise compose._composition_error(error, [*groups, *values]) from None
    app.check_job([*groups, *values], cfg)
    task = cfg.copy()
    with open_dict(task):
        del task["hydra"]
    return task


def _field_is_named(error: C.ConfigError, overrides: list[str]) -> None:
    """One line that starts with a field: a declared key or node, a group, or an override's key."""
    message = str(error)
    assert "\n" not in message and message.startswith(f"{error.field}: "), message
    keys = {o.lstrip("+~").partition("=")[0] for o in overrides}
    known = set(GROUPS) | {"hydra.launcher.n_jobs"} | keys | set(overrides)  # "=5": the override itself
    for name in EXPERIMENTS:
        leaves, nodes = C.declared_keys(name)
        known |= set(leaves) | set(nodes)
    base = error.field.split("[")[0]
    while base and base not in known and "." in base:
        base = base.rpartition(".")[0]  # list items: dosing.days.1, bath.concentrations_uM[1]
    assert base in known, message


def _builds(task: DictConfig) -> None:
    """A config that passed validation builds its protocol: finite times, windows in order
    and inside it, a timeline of bounded size (no silent nonsense, no traceback later)."""
    name = task.experiment.name
    if name == "scorecard":
        return
    if name == "cohort":  # every patient is a course: the first one's builds
        from ketamine_sim.experiments import cohort

        first = cohort.draw_patients(OmegaConf.merge(task, {"cohort": {"n_patients": 1}}))[0]
        task, name = cohort.patient_config(task, first), "course"
    if name == "sensitivity":  # every sample is a course: the first one's builds
        from ketamine_sim.experiments import sensitivity

        first = sensitivity.design(task)[0]
        task, name = sensitivity.sample_config(task, dict(zip(sensitivity.problem(task)["names"], first))), "course"
    C.circuit_structure(task)
    C.circuit_drive(task)
    C.plasticity(task)
    if name == "dose_response":
        task = OmegaConf.merge(task, {"dosing": {"dose_mg_per_kg": C.dose_list(task)[-1]}})
    protocol = PROTOCOLS["iv_infusion" if name == "dose_response" else name](task)
    window_s = float(task.circuit.window_s)
    check_windows(protocol.windows, window_s, float(protocol.time_s[0]), float(protocol.time_s[-1]))
    assert len(protocol.time_s) <= 2 * C.MAX_TIMELINE_POINTS + 2 * len(protocol.windows)
    assert all(math.isfinite(t) for t in protocol.time_s)


def _outcome(check, overrides: list[str]):
    try:
        return check()
    except C.ConfigError as error:
        _field_is_named(error, overrides)
        return error


@pytest.mark.fuzz
@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_odd_values_are_refused_in_one_line_or_give_a_protocol_that_builds(data):
    experiment = data.draw(st.sampled_from(EXPERIMENTS))
    groups = ["circuit=small", f"experiment={experiment}"]
    _refused_or_builds(groups, data.draw(value_overrides(experiment)))


@pytest.mark.fuzz
@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_plausible_changes_validate_and_build_or_are_refused_in_one_line(data):
    """Declared numeric keys at 0.5 to 2 times their default (and a few past it): most pass,
    and every one that passes builds its protocol."""
    experiment = data.draw(st.sampled_from(EXPERIMENTS))
    groups = ["circuit=small", f"experiment={experiment}"]
    keys = data.draw(st.lists(st.sampled_from(_keys(experiment)), min_size=1, max_size=4, unique=True))
    _refused_or_builds(groups, [f"{key}={data.draw(scaled(experiment, key, PLAUSIBLE))}" for key in keys])


def _refused_or_builds(groups: list[str], values: list[str]) -> None:
    """The command line's checks refuse ``values`` in one line, or the config builds its protocol."""
    result = _outcome(lambda: fast_check(groups, values), values)
    if not isinstance(result, C.ConfigError):
        _builds(result)


@pytest.mark.fuzz
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_group_options_and_values_through_the_command_line_checks(data):
    """The full path (Hydra's compose API per example): drawn options, some that do not exist."""
    groups = [f"{g}={data.draw(st.sampled_from(options))}" for g, options in GROUPS.items() if data.draw(st.booleans())]
    groups.append(f"experiment={data.draw(st.sampled_from(EXPERIMENTS))}")
    values = data.draw(
        st.lists(
            st.sampled_from(
                [
                    "seed=2",
                    "seed=1,2",
                    "seed=x",
                    "circuit.dt_ms=0.2",
                    "iv_infusion.window_times_min=[-10,-9.99]",
                    "+foo=1",
                    "hydra.launcher.n_jobs=0",
                    "dosing.dose_mg_per_kg=1e6",
                ]
            ),
            max_size=2,
            unique=True,
        )
    )
    multirun = data.draw(st.booleans())
    overrides = groups + values
    result = _outcome(lambda: app.check_overrides(overrides, multirun=multirun), overrides)
    if not isinstance(result, C.ConfigError) and not multirun:
        task = result[0].copy()
        with open_dict(task):
            del task["hydra"]
        _builds(task)


@pytest.mark.fuzz
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_the_fast_path_agrees_with_the_command_line(data):
    experiment = data.draw(st.sampled_from(EXPERIMENTS))
    groups = ["circuit=small", f"experiment={experiment}"]
    values = data.draw(value_overrides(experiment))
    fast = _outcome(lambda: fast_check(groups, values), values)
    full = _outcome(lambda: app.check_overrides(groups + values), values)
    if isinstance(fast, C.ConfigError) or isinstance(full, C.ConfigError):
        assert str(fast) == str(full)
    else:
        task = full[0].copy()
        with open_dict(task):
            del task["hydra"]
        assert OmegaConf.to_container(fast) == OmegaConf.to_container(task)


#: Reproductions of the faults found by trying the product (each gave exit 0 with nonsense,
#: a traceback or a misleading message): each must be refused naming its field.
REPRODUCTIONS = [
    (["experiment=bath", "bath.concentrations_uM=[0,1e308]"], "bath.concentrations_uM[1]"),
    (["circuit.weight_nS.pyr_pyr=1e6"], "circuit.weight_nS.pyr_pyr"),
    (["dosing.dose_mg_per_kg=1e6"], "dosing.dose_mg_per_kg"),
    (["dosing.start_min=1e9"], "dosing.start_min"),
    (
        ["manipulation=nbqx_timed", "manipulation.ampa_block_window_min=[100000,200000]"],
        "manipulation.ampa_block_window_min",
    ),
    (["experiment=dose_response", "dose_response.doses_mg_per_kg=[0.5,0.5]"], "dose_response.doses_mg_per_kg"),
    (["+foo=1"], "foo"),
    (["++bath.concentration_uM=[0,5]"], "bath.concentration_uM"),
    (["+neurochemistry.adenosine_tau_mn=3"], "neurochemistry.adenosine_tau_mn"),
    (["output.figure=yes"], "output.figure"),
    (["block.trapping_escape=off"], "block.trapping_escape"),
    (["circuit.background.rate_hz=20000"], "circuit.background.rate_hz"),
    (["iv_infusion.window_times_min=[-10,-9.99]"], "iv_infusion.window_times_min"),
    (["seed=1", "seed=2"], "seed"),
    (["iv_infusion.end_min=1e9"], "iv_infusion.end_min"),
    (["experiment=bath", "bath.timeline_step_s=1e-9"], "bath.timeline_step_s"),
    (["experiment=course", "course.windows_per_dose_min=5"], "course.windows_per_dose_min"),
    (["iv_infusion.window_times_min=abc"], "iv_infusion.window_times_min"),
    (["hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs"),
    (["seed=99999999999999999999"], "seed"),
    (["=5"], "=5"),
    (["experiment=scorecard", "scorecard.seeds_dir=123"], "scorecard.seeds_dir"),
]


@pytest.mark.parametrize("overrides, field", REPRODUCTIONS, ids=[" ".join(o) for o, _ in REPRODUCTIONS])
def test_each_reproduction_is_refused_naming_its_field(overrides, field):
    with pytest.raises(C.ConfigError) as info:
        app.check_overrides(["circuit=small", *overrides])
    assert info.value.field == field, str(info.value)
    _field_is_named(info.value, overrides)


# --------------------------------------------------------------------------- the real command line
@pytest.mark.parametrize(
    "overrides",
    [
        ["seed=1", "seed=2"],
        ["circuit=bogus"],
        ["iv_infusion.window_times_min=[-10,-9.99]"],
        ["block.trapping_escape=off"],
        ["-m", "hydra.launcher.n_jobs=0", "seed=1,2"],
        ["+neurochemistry.adenosine_tau_mn=3"],
    ],
    ids=lambda o: " ".join(o),
)
@pytest.mark.cli
def test_the_command_line_exits_2_with_one_line(tmp_path, overrides):
    env = dict(os.environ, KETAMINE_SIM_CACHE=str(tmp_path / "cache"), PYTHONWARNINGS="ignore")
    where = "hydra.sweep.dir" if "-m" in overrides else "hydra.run.dir"
    flags = [o for o in overrides if o.startswith("-")]
    base = [] if "circuit=bogus" in overrides else ["circuit=small"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketamine_sim.experiments.app",
            *flags,
            *base,
            *[o for o in overrides if o not in flags],
            f"{where}={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ketamine-sim: invalid config: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()  # refused before Hydra ran
